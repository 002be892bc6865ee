"""Bad and unusual input on the chat page: blank and huge messages, and text full of emoji,
combining marks, right-to-left script, control characters, HTML and SQL metacharacters —
in messages, sidebar search and titles. It shows as text, search finds it, nothing crashes."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    USER,
    Stack,
    assistant_count,
    key_locator,
    keyed_ids,
    no_tracebacks,
    open_chat,
    open_sidebar_expander,
    send,
    type_message,
    wait_idle,
)

pytestmark = pytest.mark.e2e

HINT = "Type a message first"


def _visible(text: str) -> str:
    """How the page shows a message: control characters as their visible symbols (␇)."""
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 32 and c not in "\n\t" else c for c in text)


def _title(text: str) -> str:
    """The title made from a first message: one line, control characters as spaces."""
    return " ".join("".join(" " if ord(c) < 32 else c for c in text).split())


def _sidebar_titles(page: Page) -> list[str]:
    return page.locator("[data-testid=stSidebar] [class*='st-key-conv-']").all_inner_texts()


def test_empty_and_blank_messages_are_not_sent(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "blank")
    box = page.get_by_test_id("stChatInputTextArea")
    box.click()
    box.press("Enter")  # empty: the widget itself does not submit
    page.wait_for_timeout(300)
    wait_idle(page)
    assert page.locator(USER).count() == 0

    type_message(page, "   \t   ")
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text(HINT)
    assert page.locator(USER).count() == 0
    assert assistant_count(page) == 0
    assert stack.sim.stats()["requests"] == 0
    assert page.locator("[data-testid=stSidebar] [class*='st-key-conv-']").count() == 0
    no_tracebacks(page)

    # The hint goes away with the next real message.
    send(page, "Now a real one")
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)


def test_200_kb_message_gets_a_clear_answer(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "paster")
    big = ("All work and no play makes a long paste. " * 5000)[:200_000]
    started = time.monotonic()
    answer = send(page, big, timeout=60_000)
    elapsed = time.monotonic() - started
    # The simulator's models hold 8,192 tokens: the clear context-length message is expected.
    expect(answer.get_by_test_id("stAlertContentError")).to_contain_text("too long for")
    assert page.locator(USER).count() == 1
    assert "All work and no play" in page.locator(USER).last.inner_text()
    assert elapsed < 30, f"a 200 KB message took {elapsed:.1f} s to get an answer"
    no_tracebacks(page)


CORPUS = [
    # (first message, a search term that only it contains)
    ("Parrots 🦜 and fire 🔥 together 👩🏽‍🔬", "🦜"),
    ("Cafe\u0301 au lait, nai\u0308ve Zalgo z\u0351\u0334a\u0336", "Cafe\u0301"),
    ("مرحبا بالعالم، كيف حالك؟ שלום עולם", "بالعالم"),
    ("bell\x07 and escape\x1b[31m red and nul\x00 end", "escape"),
    ("<b>bold</b> & &amp; <i>tags</i> <!-- note -->", "<b>bold</b>"),
    ("'; DROP TABLE conversations;-- 100% of_the \\ rows", "100%"),
]


def test_unusual_text_in_messages_search_and_titles(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=8, itl_ms=5)
    open_chat(page, stack.url, "unicode-fan")
    new_chat = key_locator(page, "aeries.new_chat").get_by_role("button")
    for text, _ in CORPUS:
        new_chat.click()
        wait_idle(page)
        send(page, text)
        assert _visible(text) in page.locator(USER).last.inner_text()
        no_tracebacks(page)
    titles = _sidebar_titles(page)
    assert len(titles) == len(CORPUS)
    for text, _ in CORPUS:
        assert _title(text) in titles, f"{_title(text)!r} is not among the titles {titles}"

    search = page.get_by_role("textbox", name="Search conversations")
    for text, term in [
        *CORPUS,
        ("'; DROP TABLE conversations;-- 100% of_the \\ rows", "of_the"),
        ("'; DROP TABLE conversations;-- 100% of_the \\ rows", "\\"),
    ]:
        search.fill(term)
        search.press("Enter")
        wait_idle(page)
        found = _sidebar_titles(page)
        assert found == [_title(text)], f"search {term!r} found {found}"
    for miss in ("%%", "_x_", "zzz-nothing"):
        search.fill(miss)
        search.press("Enter")
        wait_idle(page)
        assert _sidebar_titles(page) == [], f"search {miss!r} matched"
        expect(page.get_by_test_id("stSidebar")).to_contain_text("No matches.")
    search.fill("")
    search.press("Enter")
    wait_idle(page)
    assert len(_sidebar_titles(page)) == len(CORPUS)

    # Rename to a title full of the same: the sidebar shows it as typed.
    tricky = '<img src=x onerror="window.__pwned=1"> مرحبا 🦜 100% of_the'
    details = open_sidebar_expander(page, "This conversation")
    details.get_by_role("textbox", name="Title").fill(tricky)
    details.get_by_role("button", name="Rename").click()
    wait_idle(page)
    assert tricky in _sidebar_titles(page)
    assert page.evaluate("window.__pwned") is None
    assert page.locator(ASSISTANT).count() >= 1
    no_tracebacks(page)


def test_title_heading_shows_markdown_characters_as_typed(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=5, itl_ms=5)
    open_chat(page, stack.url, "markdown-titles")
    text = "Notes *draft* `code` $x$ :smile:"
    send(page, text)
    [conv] = keyed_ids(page.get_by_test_id("stSidebar"), "conv")
    expect(key_locator(page, f"conv-{conv}")).to_have_text(text)
    expect(page.get_by_test_id("stHeading").first).to_have_text(text, timeout=2_000)


def test_typography_sequences_are_shown_as_typed(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=5, itl_ms=5)
    open_chat(page, stack.url, "typographer")
    text = "SELECT 1 -- comment; a -> b <- c; x >= 3 <= 4 ~= 5"
    send(page, text)
    assert text in page.locator(USER).last.inner_text()
    assert text in _sidebar_titles(page)
