"""Labelling on the Annotate page in Chromium, as a rater does it: by clicking, and by keyboard.

The store is seeded before the app starts (answers people saw, a rubric, a queue of four
items with one rater each, an annotator with a personal link). The annotator opens the page
by their link and labels the four items: one by clicking a point and Submit; one by pressing
"4" then Enter; one by keys for two scales with text typed in the free-text box in between
(the digits and Enter there must type, not label; Esc leaves the box); one by clicking a
point, pressing "5" (the scale just clicked changes, not the next one) and Enter while the
radio button has the focus. Then the app is stopped and the labels read from the file.
A participant who opens the queue's address sees the start page, nothing of the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from aeries.auth.tokens import load_or_create_key
from aeries.store.db import Database
from aeries.store.migrations import migrate
from tests.e2e.helpers import Stack, no_tracebacks, wait_idle
from tests.views.test_annotate import make_queue, rater_link, seed_exchanges

pytestmark = pytest.mark.e2e

SECRET = "e2e annotate install secret, at least 32 characters long"
RUBRIC = """
name = "Answer quality"
instructions = "Rate the last answer only."

[[items]]
key = "helpful"
prompt = "How helpful is the answer?"
kind = "likert"
labels = ["Not at all", "A little", "Somewhat", "Very", "Extremely"]

[[items]]
key = "clear"
prompt = "How clear is the answer?"
kind = "likert"
labels = ["Muddled", "Unclear", "Fair", "Clear", "Crystal clear"]
required = false

[[items]]
key = "comment"
prompt = "Anything else?"
kind = "text"
required = false
"""
RATE = ".st-key-aeries-annotate-rate"
HELPFUL = "[class*='st-key-aeries-annotate-likert-0-']"
CLEAR = "[class*='st-key-aeries-annotate-likert-1-']"
COMMENT = "[class*='st-key-aeries-annotate-item-2-'] textarea"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A stack whose store holds four answers in an open queue; the queue and the links."""
    stack = Stack(tmp_path, env={"AERIES_SECRET": SECRET})
    db = Database(stack.db_path)
    try:
        migrate(db)
        rt = SimpleNamespace(db=db, key=load_or_create_key(tmp_path / "unused.key", SECRET))
        seed_exchanges(rt, 4)  # type: ignore[arg-type]
        queue = make_queue(rt, raters_per_item=1, text=RUBRIC, name="Batch one")  # type: ignore[arg-type]
        rater, annotator = rater_link(rt, "rita")  # type: ignore[arg-type]
        _, participant = rater_link(rt, "pat", role="participant")  # type: ignore[arg-type]
        db.execute("CHECKPOINT")
    finally:
        db.close()
    stack.start()
    try:
        yield (
            stack,
            {
                "queue": queue.id,
                "rater": rater,
                "annotator": annotator["p"],
                "participant": participant["p"],
            },
        )
    finally:
        stack.close()


def _progress(page: Page, done: int, left: int) -> None:
    expect(page.get_by_text(f"{done} done · {left} left")).to_be_visible(timeout=20_000)
    wait_idle(page, rendered=None, timeout=30_000)


def _option(page: Page, group: str, text: str):
    return page.locator(f"{RATE} {group} label").filter(has_text=text)


def _checked(page: Page, group: str) -> str | None:
    """The text of the option checked in a Likert group (None when none is)."""
    found = page.locator(f"{RATE} {group} label:has(input:checked)")
    return found.inner_text().strip() if found.count() else None


def test_a_rater_labels_by_clicking_and_by_keyboard(
    seeded: tuple[Stack, dict[str, str]], new_page: Callable[..., Page]
) -> None:
    stack, ids = seeded
    page = new_page()
    page.goto(f"{stack.url}/annotate?p={ids['annotator']}&queue={ids['queue']}")
    page.locator(RATE).wait_for(timeout=30_000)
    _progress(page, 0, 4)
    no_tracebacks(page)

    # 1. Clicking: a point, then Submit.
    _option(page, HELPFUL, "4 · Very").click()
    page.get_by_role("button", name="Submit (Enter)").click()
    _progress(page, 1, 3)

    # 2. Keys: "4", then Enter.
    page.keyboard.press("4")
    assert _checked(page, HELPFUL) == "4 · Very"
    page.keyboard.press("Enter")
    _progress(page, 2, 2)

    # 3. Keys for two scales (each digit goes to the first scale not yet answered), then
    # text typed in the free-text box: its digits and Enter are text, not labels.
    page.keyboard.press("2")
    page.keyboard.press("5")
    assert (_checked(page, HELPFUL), _checked(page, CLEAR)) == ("2 · A little", "5 · Crystal clear")
    page.locator(COMMENT).click()
    page.keyboard.type("3 of 5")
    page.keyboard.press("Enter")
    page.keyboard.type("ok")
    assert (_checked(page, HELPFUL), _checked(page, CLEAR)) == ("2 · A little", "5 · Crystal clear")
    expect(page.get_by_text("2 done · 2 left")).to_be_visible()  # Enter there did not submit
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    _progress(page, 3, 1)

    # 4. A click on a point gives that scale the focus: "5" changes it (not the next scale),
    # and Enter submits though a radio button has the focus.
    _option(page, HELPFUL, "3 · Somewhat").click()
    page.keyboard.press("5")
    assert (_checked(page, HELPFUL), _checked(page, CLEAR)) == ("5 · Extremely", None)
    page.keyboard.press("Enter")
    _progress(page, 4, 0)
    expect(page.get_by_text("Nothing is left for you in this queue")).to_be_visible()
    no_tracebacks(page)

    # A participant who opens the queue's address gets the start page, nothing of the queue.
    other = new_page()
    other.goto(f"{stack.url}/annotate?p={ids['participant']}&queue={ids['queue']}")
    other.locator("[data-testid=stChatInput]").wait_for(timeout=30_000)
    wait_idle(other, timeout=30_000)
    body = other.locator("body").inner_text()
    assert "Batch one" not in body and "How helpful" not in body and "answer number" not in body
    assert other.locator(RATE).count() == 0

    assert stack.stop_app()
    rows = stack.rows(
        "SELECT s.exchange_id, l.item_key, l.value FROM submissions s "
        "JOIN labels l ON l.submission_id = s.id JOIN queue_items qi "
        "ON qi.queue_id = s.queue_id AND qi.exchange_id = s.exchange_id "
        "WHERE s.queue_id = ? AND s.rater_id = ? AND s.retracted_at IS NULL "
        "ORDER BY s.created_at, l.item_key",
        [ids["queue"], ids["rater"]],
    )
    by_item: dict[str, dict[str, str | None]] = {}
    for row in rows:
        by_item.setdefault(row["exchange_id"], {})[row["item_key"]] = row["value"]
    assert list(by_item.values()) == [
        {"helpful": "4", "clear": None, "comment": None},
        {"helpful": "4", "clear": None, "comment": None},
        {"helpful": "2", "clear": "5", "comment": "3 of 5\nok"},
        {"helpful": "5", "clear": None, "comment": None},
    ]
