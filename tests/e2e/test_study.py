"""A study from the researcher's file to a participant's completion code, in Chromium.

The researcher signs in, opens the Studies page by its link, pastes a study file, saves it and
puts it live. A participant (another browser context) opens the platform link: only the study
is shown (no navigation, no condition name), they consent, read the instructions, answer the
pre-questionnaire, chat twice in their condition, answer the post-questionnaire (with an
attention check) and get the completion code and the redirect back to the platform. A reload
and a second device show the same code; the researcher's funnel counts them; a crafted URL to
a research page opens the study page instead.

Saving a new study and pressing Go live at once is its own test: the select box must show the
saved study in the browser too, or the next click would send the old choice back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    CHAT_BOX,
    Stack,
    click_nav,
    nav_titles,
    no_tracebacks,
    sidebar_nav,
    sign_in_researcher,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e

STUDY_ID = "e2e-study"
TITLE = "A short conversation study"
CONDITIONS = {
    "kestrel": "You are a helpful assistant. Answer concisely.",
    "osprey": "You are a warm, encouraging assistant. Answer kindly.",
}
CODE = "E2EDONE7"
STUDY = f'''# An end-to-end study, modelled on studies/example.toml.
id = "{STUDY_ID}"
title = "{TITLE}"
reference = "kestrel"
tasks = ["chat"]

consent = """
You are invited to a short study about conversations with an AI assistant.
"""

instructions = """
Send at least two messages, then press **I am done with the conversation**.
"""

[chat]
min_turns = 2

[assignment]
method = "blocks"
seed = 4242

[[conditions]]
name = "kestrel"
description = "Plain assistant"
system_prompt = "{CONDITIONS["kestrel"]}"

[[conditions]]
name = "osprey"
description = "Warm assistant"
system_prompt = "{CONDITIONS["osprey"]}"

[[pre]]
id = "uses_ai"
kind = "single"
text = "How often do you use AI assistants?"
options = ["Never", "Sometimes", "Every day"]
required = true

[[post]]
id = "helpful"
kind = "likert"
text = "The assistant was helpful."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[post]]
id = "attention"
kind = "single"
text = "To show you are reading, pick Blue."
options = ["Red", "Blue", "Green"]
correct = "Blue"

[exits]
completed = "{CODE}"
declined = "E2EDECL7"
redirect = "https://example.org/done?cc={{code}}&sid={{SESSION_ID}}"
time_limit_minutes = 45

[platform]
participant_param = "PROLIFIC_PID"
keep = ["STUDY_ID", "SESSION_ID"]
'''
LINK = {"study": STUDY_ID, "PROLIFIC_PID": "e2e01", "STUDY_ID": "s1", "SESSION_ID": "sess1"}
REDIRECT = f"https://example.org/done?cc={CODE}&sid=sess1"
APP_PAGES = re.compile(r"^\s*(Chat|Arena|Personas|Analytics|Participants|Studies)\s*$")
SLOW = 30_000  # ms: the machine is slow, the first run of a page more so


def _url(base: str, path: str = "", **params: str) -> str:
    return f"{base.rstrip('/')}/{path}?{urlencode(params, quote_via=quote)}"


def _settle(page: Page) -> None:
    wait_idle(page, rendered=None, timeout=SLOW)


def _main(page: Page) -> Locator:
    return page.get_by_test_id("stMainBlockContainer")


def _only_the_study(page: Page) -> None:
    """The study alone: its title, no navigation or link to another page, no condition name,
    no traceback."""
    expect(_main(page).get_by_role("heading", name=TITLE)).to_be_visible()
    expect(sidebar_nav(page)).to_have_count(0)
    expect(page.get_by_role("link", name=APP_PAGES)).to_have_count(0)
    for title in ("Analytics", "Studies", "Participants"):
        expect(page.get_by_role("heading", name=title, exact=True)).to_have_count(0)
    body = page.locator("body").inner_text()
    for name in CONDITIONS:
        assert name not in body, f"the condition name {name!r} is on the participant's screen"
    no_tracebacks(page)


def _at_step(page: Page, title: str) -> None:
    """Wait until the progress bar names ``title`` and the run has settled."""
    expect(page.get_by_test_id("stProgress")).to_contain_text(title, timeout=SLOW)
    _settle(page)
    _only_the_study(page)


def _choose(page: Page, question: str, answer: str) -> None:
    """Click ``answer`` in the radio group labelled ``question``."""
    group = page.get_by_test_id("stRadio").filter(has_text=question)
    group.get_by_text(answer, exact=True).click()
    expect(group.get_by_role("radio", name=answer, exact=True)).to_be_checked()


def _submit_form(page: Page) -> None:
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Continue").click()


def _chat(page: Page, text: str, answers: int) -> None:
    """Type a message, press Enter, wait until answer number ``answers`` has streamed in and
    shows its metrics caption."""
    box = page.locator(CHAT_BOX)
    box.click()
    box.fill(text)
    box.press("Enter")
    expect(_main(page).locator(ASSISTANT)).to_have_count(answers, timeout=SLOW)
    expect(page.locator(ASSISTANT).nth(answers - 1)).to_contain_text("TTFT", timeout=SLOW)
    _settle(page)


def _shows_the_code(page: Page) -> None:
    expect(page.get_by_test_id("stProgress")).to_contain_text("Finished", timeout=SLOW)
    expect(_main(page)).to_contain_text("Thank you: you have completed the study.")
    expect(page.get_by_test_id("stCode")).to_contain_text(CODE)
    back = page.get_by_role("link", name="Return to the recruiting platform")
    expect(back).to_have_attribute("href", REDIRECT)


_FUNNEL_JS = """grid => {
  const heads = [...grid.querySelectorAll('th[role=columnheader]')].map(h => h.textContent.trim());
  return [...grid.querySelectorAll('tbody tr[role=row]')].map(row =>
    Object.fromEntries([...row.querySelectorAll('td[role=gridcell]')]
      .map((cell, i) => [heads[i], cell.textContent.trim()])));
}"""


def _funnel(page: Page) -> list[dict[str, str]]:
    """The rows of the enrolment funnel (the first table), as the grid's cells show them."""
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible(timeout=SLOW)
    return grid.evaluate(_FUNNEL_JS)


def _save_the_study_file(page: Page, stack: Stack) -> None:
    """Sign in as the researcher, open the Studies page by its link, paste the study file and
    press "Save study file"; the study is then shown, as a draft."""
    sign_in_researcher(page, stack.url)
    assert "Studies" in nav_titles(page)
    click_nav(page, "Studies")
    expect(_main(page).get_by_role("heading", name="Studies", exact=True)).to_be_visible()
    expander = (
        _main(page)
        .get_by_test_id("stExpander")
        .filter(has=page.locator("summary", has_text="Study file"))
    )
    if expander.locator("details").get_attribute("open") is None:
        expander.locator("summary").click()
    editor = page.get_by_label("Study file (TOML)", exact=True)
    expect(editor).to_be_visible()
    editor.click()
    editor.fill(STUDY)
    page.get_by_role("button", name="Save study file").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        f"Saved {STUDY_ID} as version 1", timeout=SLOW
    )
    expect(_main(page)).to_contain_text("Status: draft")
    _settle(page)
    no_tracebacks(page)


def _study_box(page: Page) -> Locator:
    """The Studies page's "Study" select box (its value: the study shown)."""
    return _main(page).get_by_role("combobox", name="Study")


def _go_live(page: Page) -> None:
    """Press "Go live": the study is then live, still selected."""
    page.get_by_role("button", name="Go live").click()
    expect(_main(page)).to_contain_text("Status: live", timeout=SLOW)
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(_study_box(page)).to_have_value(STUDY_ID)
    _settle(page)
    no_tracebacks(page)


def test_the_researcher_saves_a_study_file_and_puts_it_live(
    make_stack: Callable[..., Stack], page: Page
) -> None:
    """The researcher's way, click by click: save the file, then press Go live at once."""
    stack = make_stack()
    _save_the_study_file(page, stack)
    expect(_study_box(page)).to_have_value(STUDY_ID)
    _go_live(page)
    page.reload()
    _settle(page)
    expect(_main(page)).to_contain_text("Status: live", timeout=SLOW)
    stack.stop_app()
    assert stack.rows("SELECT id, status FROM studies") == [{"id": STUDY_ID, "status": "live"}]


def test_a_participant_goes_from_the_link_to_the_completion_code(
    make_stack: Callable[..., Stack], new_page: Callable[[], Page]
) -> None:
    stack = make_stack()
    researcher = new_page()
    _save_the_study_file(researcher, stack)
    expect(_study_box(researcher)).to_have_value(STUDY_ID, timeout=SLOW)
    _go_live(researcher)

    # A participant arrives from the platform, in a browser of their own.
    participant = new_page()
    participant.goto(_url(stack.url, **LINK))
    _at_step(participant, "Consent")
    participant.get_by_role("button", name="I agree and want to take part").click()
    _at_step(participant, "Instructions")
    participant.get_by_role("button", name="Continue").click()
    _at_step(participant, "Before you start")
    _choose(participant, "How often do you use AI assistants?", "Sometimes")
    _submit_form(participant)
    _at_step(participant, "Conversation")
    expect(participant.get_by_role("button", name="I am done with the conversation")).to_have_count(
        0
    )
    _chat(participant, "How do I keep basil alive on a windowsill?", 1)
    _only_the_study(participant)
    expect(_main(participant)).to_contain_text("Messages sent: 1 (at least 2)")
    _chat(participant, "And how often should I water it?", 2)
    _only_the_study(participant)
    expect(_main(participant)).to_contain_text("Messages sent: 2 (at least 2)")
    participant.get_by_role("button", name="I am done with the conversation").click()
    _at_step(participant, "A few last questions")
    _choose(participant, "The assistant was helpful.", "Agree")
    _choose(participant, "To show you are reading, pick Blue.", "Blue")
    _submit_form(participant)
    _at_step(participant, "Finished")
    _shows_the_code(participant)

    # A reload resumes the same step; the link on another device shows the same code.
    participant.reload()
    _at_step(participant, "Finished")
    _shows_the_code(participant)
    other_device = new_page()
    other_device.goto(_url(stack.url, **LINK))
    _at_step(other_device, "Finished")
    _shows_the_code(other_device)

    # The researcher's funnel counts them.
    researcher.reload()
    _settle(researcher)
    expect(_main(researcher).get_by_role("heading", name="Studies", exact=True)).to_be_visible()
    expect(_main(researcher)).to_contain_text("Status: live")
    rows = wait_for(lambda: _funnel(researcher), 30, "the funnel rows")
    assert len(rows) == 1, rows
    [row] = rows
    assert row["condition"] in CONDITIONS, row
    assert (row["enrolled"], row["completed"], row["in_progress"]) == ("1", "1", "0"), row
    no_tracebacks(researcher)

    # Crafted URLs to research pages, in the participant's browser: the study page instead.
    for path in ("analytics", "studies"):
        participant.goto(_url(stack.url, path, study=STUDY_ID, PROLIFIC_PID="e2e01"))
        _settle(participant)
        _only_the_study(participant)
        _shows_the_code(participant)

    # The chat requests carried the assigned condition's system prompt.
    condition = row["condition"]
    prompts = [
        body["messages"][0]["content"]
        for body in stack.sim.stats()["requests_log"]
        if body.get("messages") and body["messages"][0].get("role") == "system"
    ]
    sent = [p for p in prompts if p in CONDITIONS.values()]
    assert sent == [CONDITIONS[condition]] * 2, prompts

    stack.stop_app()
    [enrolment] = stack.rows(
        "SELECT status, condition, user_id, completion_code, turns FROM enrolments"
    )
    assert enrolment["status"] == "completed" and enrolment["condition"] == condition
    assert enrolment["completion_code"] == CODE and enrolment["turns"] == 2
    exchanges = stack.rows(
        "SELECT source, study_id, study_condition, user_id FROM exchanges WHERE source = 'chat'"
    )
    assert len(exchanges) == 2, exchanges
    for exchange in exchanges:
        assert exchange["study_id"] == STUDY_ID, exchange
        assert exchange["study_condition"] == condition, exchange
        assert exchange["user_id"] == enrolment["user_id"], exchange
