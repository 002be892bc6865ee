"""What a person does with answers and conversations, by clicking: feedback, comment,
regenerate, edit, ‹ 1/2 › navigation, rename and export.

The test that reads the database stops the app, so it comes last (a later test would restart it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    USER,
    Stack,
    conversation_id,
    key_locator,
    keyed_ids,
    no_tracebacks,
    open_chat,
    open_sidebar_expander,
    send,
    wait_answer,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e


def _text(message) -> str:
    return message.locator("[data-testid=stMarkdownContainer]").first.inner_text()


def _toast(page: Page, text: str) -> None:
    expect(page.get_by_test_id("stToast").filter(has_text=text)).to_be_visible()


def test_regenerate_and_switch_between_versions(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "regenerator")
    stack.sim.configure(reply="First version of the answer.")
    first = send(page, "Give me two versions")
    assert _text(first) == "First version of the answer."
    [first_id] = keyed_ids(first, "regen")

    stack.sim.configure(reply="Second version, regenerated.")
    key_locator(page, f"regen-{first_id}").get_by_role("button").click()
    second = wait_answer(page, 1)
    wait_for(
        lambda: _text(page.locator(ASSISTANT).last) == "Second version, regenerated.",
        10,
        "the regenerated answer",
    )
    second = page.locator(ASSISTANT).last
    expect(second).to_contain_text("2 / 2")
    [second_id] = keyed_ids(second, "regen")
    assert second_id != first_id

    key_locator(page, f"prev-{second_id}").get_by_role("button").click()
    wait_idle(page)
    shown = page.locator(ASSISTANT).last
    expect(shown).to_contain_text("1 / 2")
    assert _text(shown) == "First version of the answer."
    assert page.locator(ASSISTANT).count() == 1

    key_locator(page, f"next-{first_id}").get_by_role("button").click()
    wait_idle(page)
    expect(page.locator(ASSISTANT).last).to_contain_text("2 / 2")
    assert _text(page.locator(ASSISTANT).last) == "Second version, regenerated."

    # The branch on screen survives a reload.
    page.reload()
    wait_idle(page)
    assert _text(page.locator(ASSISTANT).last) == "Second version, regenerated."
    no_tracebacks(page)


def test_edit_a_message_keeps_the_original(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "editor")
    send(page, "Original question")
    [question_id] = keyed_ids(page.locator(USER).last, "edit")

    key_locator(page, f"edit-{question_id}").get_by_role("button").click()
    area = page.get_by_role("textbox", name="Edit message")
    expect(area).to_have_value("Original question")
    area.fill("Edited question")
    page.get_by_role("button", name="Save and send").click()
    wait_for(lambda: "Edited question" in page.locator(USER).last.inner_text(), 10, "the edit")
    wait_answer(page, 1)
    question = page.locator(USER).last
    expect(question).to_contain_text("2 / 2")
    assert page.locator(USER).count() == 1

    [edited_id] = keyed_ids(question, "prev")
    key_locator(page, f"prev-{edited_id}").get_by_role("button").click()
    wait_idle(page)
    expect(page.locator(USER).last).to_contain_text("Original question")
    expect(page.locator(USER).last).to_contain_text("1 / 2")
    no_tracebacks(page)


def test_rename_and_export(stack: Stack, page: Page, tmp_path: Path) -> None:
    open_chat(page, stack.url, "exporter")
    stack.sim.configure(reply="The capital of France is Paris.")
    send(page, "What is the capital of France?")
    conv = conversation_id(page)
    assert conv

    details = open_sidebar_expander(page, "This conversation")
    title = details.get_by_role("textbox", name="Title")
    title.fill("Geography notes")
    details.get_by_role("button", name="Rename").click()
    _toast(page, "Renamed.")
    wait_idle(page)
    expect(key_locator(page, f"conv-{conv}")).to_have_text("Geography notes")
    expect(page.get_by_test_id("stHeading").first).to_have_text("Geography notes")

    details = open_sidebar_expander(page, "This conversation")
    with page.expect_download() as info:
        details.get_by_role("button", name="Export Markdown").click()
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert info.value.suggested_filename.endswith(".md")
    assert "Geography notes" in markdown
    assert "What is the capital of France?" in markdown
    assert "The capital of France is Paris." in markdown

    with page.expect_download() as info:
        details.get_by_role("button", name="Export JSON").click()
    data = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    blob = json.dumps(data, ensure_ascii=False)
    assert "What is the capital of France?" in blob
    assert "The capital of France is Paris." in blob
    assert conv in blob
    no_tracebacks(page)


def _chat_requests(stack: Stack, text: str) -> list[dict]:
    """Bodies of the chat requests whose last message is ``text`` (not the observer's)."""
    log = stack.sim.stats()["requests_log"]
    return [b for b in log if b.get("messages") and b["messages"][-1].get("content") == text]


def test_sampling_settings_survive_the_first_answer(stack: Stack, page: Page) -> None:
    """Max tokens set before a new chat's first message still holds for the second one
    (it used to jump back to the persona's value once the conversation was created)."""
    open_chat(page, stack.url, "tinkerer")
    details = open_sidebar_expander(page, "Model & sampling")
    max_tokens = details.get_by_role("spinbutton", name="Max tokens")
    max_tokens.fill("777")
    max_tokens.press("Enter")
    wait_idle(page)
    send(page, "First, with 777 tokens at most")
    assert _chat_requests(stack, "First, with 777 tokens at most")[0]["max_tokens"] == 777
    send(page, "Second, still 777?")
    details = open_sidebar_expander(page, "Model & sampling")
    assert details.get_by_role("spinbutton", name="Max tokens").input_value() == "777"
    assert _chat_requests(stack, "Second, still 777?")[0]["max_tokens"] == 777


def test_thumbs_and_comment_are_saved(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "rater")
    answer = send(page, "How do I rate an answer?")
    [answer_id] = keyed_ids(answer, "thumbs")

    key_locator(page, f"thumbs-{answer_id}").get_by_role("radio", name="Thumbs up").click()
    _toast(page, "feedback was saved")
    wait_idle(page)
    up = key_locator(page, f"thumbs-{answer_id}").get_by_role("radio", name="Thumbs up")
    expect(up).to_have_attribute("aria-checked", "true")

    page.locator(ASSISTANT).last.get_by_test_id("stPopoverButton").click()
    box = page.get_by_role("textbox", name="What worked, what didn't?")
    box.fill("Clear, but too long")
    page.get_by_role("button", name="Save comment").click()
    _toast(page, "Comment saved.")
    wait_idle(page)
    no_tracebacks(page)

    stack.stop_app()
    signals = stack.rows(
        "SELECT name, value_num, value_text FROM signals"
        " WHERE kind = 'feedback' AND message_id = ? ORDER BY created_at",
        [answer_id],
    )
    assert ("thumbs", 1.0, None) in [(s["name"], s["value_num"], s["value_text"]) for s in signals]
    comments = [s["value_text"] for s in signals if s["name"] == "comment"]
    assert comments == ["Clear, but too long"]
