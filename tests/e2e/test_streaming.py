"""Answers stream visibly, and Stop stops them (in the browser, on the server and in the log)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    CURSOR,
    Stack,
    assistant_count,
    no_tracebacks,
    open_chat,
    type_message,
    wait_answer,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def sampling_last_answer(page: Page, interval_ms: int = 20) -> Iterator[list]:
    """Sample the last answer's text every ``interval_ms`` while inside the block.

    Installed before sending, so the first update is not missed. The list yielded is filled,
    when the block exits, with ``[ms, number of answers, length, cursor shown]`` samples; the
    length leaves out whitespace and the cursor (a paragraph that settles becomes an element
    of its own, which changes the line breaks between paragraphs but not the text).
    """
    page.evaluate(
        """([sel, every, cursor]) => {
             window.__e2eSamples = [];
             const t0 = performance.now();
             window.__e2eTimer = setInterval(() => {
               const m = document.querySelectorAll(sel);
               if (!m.length) return;
               const md = m[m.length - 1].querySelectorAll('[data-testid=stMarkdownContainer]');
               const text = [...md].map(e => e.textContent).join('');
               const bare = text.split(cursor).join('').replace(/\\s+/g, '');
               window.__e2eSamples.push(
                 [performance.now() - t0, m.length, bare.length, text.includes(cursor)]);
             }, every);
           }""",
        [ASSISTANT, interval_ms, CURSOR],
    )
    samples: list = []
    try:
        yield samples
    finally:
        samples.extend(page.evaluate("clearInterval(window.__e2eTimer); window.__e2eSamples"))


def bare_length(text: str) -> int:
    """Length of ``text`` without whitespace and cursor (as ``sampling_last_answer`` counts)."""
    return len("".join(text.replace(CURSOR, "").split()))


def test_answer_is_streamed_in_several_updates(stack: Stack, page: Page) -> None:
    stack.sim.configure(ttft_ms=50, itl_ms=15, tokens=60)
    open_chat(page, stack.url, "stream-watcher")
    with sampling_last_answer(page) as samples:
        type_message(page, "Tell me about streaming")
        answer = wait_answer(page, 1)
    final = bare_length(answer.locator("[data-testid=stMarkdownContainer]").first.inner_text())
    assert final > 100
    # While it streamed: the text grew over several DOM updates, with the cursor at its end.
    growing = [length for _, count, length, cursor in samples if count == 1 and cursor]
    assert growing == sorted(growing), "the streamed text shrank at some point"
    distinct = sorted({length for length in growing if length > 0})
    assert len(distinct) >= 3, f"only {len(distinct)} distinct lengths seen while streaming"
    assert distinct[-1] < final, "the text shown while streaming was already the whole answer"
    no_tracebacks(page)


PARAGRAPHS = [
    "Alpha opens the answer with one short paragraph.",
    "Bravo follows it, settling while the rest still streams.",
    "Charlie is the tail, with enough words to be drawn live several times before it ends.",
]


def test_a_finished_answer_shows_each_paragraph_once_and_no_cursor(
    stack: Stack, page: Page
) -> None:
    """Paragraphs that settle while streaming are frozen as elements of their own; when the
    answer ends it is drawn again as one element, and nothing of the live drawing (the tail
    with its cursor) may stay beside it."""
    stack.sim.configure(reply="\n\n".join(PARAGRAPHS), ttft_ms=30, itl_ms=30)
    open_chat(page, stack.url, "paragraph-counter")
    type_message(page, "Three paragraphs, please")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_contain_text("TTFT", timeout=20_000)  # the metrics: the stream ended
    wait_idle(page)
    text = answer.locator("[data-testid=stMarkdownContainer]").evaluate_all(
        "els => els.map(e => e.innerText).join('\\n')"
    )
    assert CURSOR not in answer.inner_text(), f"the ended answer still shows the cursor: {text!r}"
    for paragraph in PARAGRAPHS:
        first_word = paragraph.split()[0]
        assert text.count(first_word) == 1, f"{first_word!r} is shown {text.count(first_word)}×"
    no_tracebacks(page)


def _last_answer_length(page: Page) -> int:
    return (
        page.locator(ASSISTANT)
        .last.locator("[data-testid=stMarkdownContainer]")
        .evaluate_all("els => els.map(e => e.innerText).join('\\n').length")
    )


def test_stop_button_stops_the_answer_everywhere(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=400, itl_ms=20)
    open_chat(page, stack.url, "stopper")
    type_message(page, "Please write a long answer")
    wait_for(lambda: assistant_count(page) == 1 and _last_answer_length(page) > 150, 10, "text")
    stop = page.get_by_test_id("stChatInputStopButton")
    assert stop.is_visible(), "the send button did not turn into a stop button while streaming"
    stop.click()
    wait_for(lambda: stack.sim.stats()["disconnects"] >= 1, 5, "the simulator to see a disconnect")
    # The text stops growing (400 tokens at 20 ms would take 8 s).
    time.sleep(0.3)
    stopped_at = _last_answer_length(page)
    time.sleep(1.0)
    assert _last_answer_length(page) == stopped_at, "the answer kept growing after Stop"
    no_tracebacks(page)

    stack.stop_app()
    mine = "(SELECT id FROM users WHERE name = 'stopper')"
    rows = stack.rows(
        "SELECT status, error_kind, response_text, completion_tokens, conversation_id"
        f" FROM exchanges WHERE source = 'chat' AND user_id = {mine}"
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "aborted"
    assert row["error_kind"] == "aborted"
    assert 50 < len(row["response_text"]) < 2000, "the partial answer was not kept"
    answers = stack.rows(
        "SELECT status, content FROM messages WHERE role = 'assistant' AND conversation_id = ?",
        [row["conversation_id"]],
    )
    assert [(a["status"], a["content"]) for a in answers] == [("aborted", row["response_text"])]
