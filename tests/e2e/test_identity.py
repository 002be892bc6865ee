"""Conversations survive a reload, and each participant sees only their own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    USER,
    Stack,
    chat_url,
    conversation_id,
    key_locator,
    no_tracebacks,
    open_chat,
    send,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e


def test_reload_keeps_the_conversation(stack: Stack, page: Page) -> None:
    open_chat(page, stack.url, "reloader")
    send(page, "Remember the marmalade")
    send(page, "And the toast")
    conv = conversation_id(page)
    assert conv, "the URL does not carry the conversation (?c=)"

    page.reload()
    wait_idle(page)
    assert conversation_id(page) == conv
    questions = page.locator(USER).all_inner_texts()
    assert any("Remember the marmalade" in q for q in questions)
    assert any("And the toast" in q for q in questions)
    expect(key_locator(page, f"conv-{conv}")).to_be_visible()

    # A fresh tab opened on the same address shows it too.
    page.goto(chat_url(stack.url, "reloader", conv))
    wait_idle(page)
    assert page.locator(USER).count() == 2
    no_tracebacks(page)


def test_other_participants_cannot_see_a_conversation(
    stack: Stack, new_page: Callable[[], Page]
) -> None:
    alice = new_page()
    open_chat(alice, stack.url, "alice")
    send(alice, "Alice's secret plan for the garden")
    conv = conversation_id(alice)
    assert conv

    bob = new_page()
    open_chat(bob, stack.url, "bob")
    sidebar = bob.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("No conversations yet.")
    assert key_locator(bob, f"conv-{conv}").count() == 0
    assert "secret plan" not in bob.locator("body").inner_text()

    search = sidebar.get_by_role("textbox", name="Search conversations")
    search.fill("secret")
    search.press("Enter")
    wait_idle(bob)
    expect(sidebar).to_contain_text("No matches.")

    bob.goto(chat_url(stack.url, "bob", conv))
    wait_idle(bob)
    expect(bob.get_by_test_id("stToast")).to_contain_text("does not exist, or it is not yours")
    assert "secret plan" not in bob.locator("body").inner_text()
    assert bob.locator(USER).count() == 0
    wait_for(lambda: conversation_id(bob) is None, 5, "the foreign id to leave the URL")
    no_tracebacks(bob)

    # Alice still has it.
    alice.reload()
    wait_idle(alice)
    expect(alice.locator(USER).first).to_contain_text("secret plan")
