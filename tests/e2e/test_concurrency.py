"""Ten participants at once, each in their own browser: nobody sees anyone else's words.

Fails on the code before 1a4ba6f (``git show 1a4ba6f^:…``): there was no start page to enrol
through (and a bare ``?u=`` name was the only thing keeping sessions apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import (
    ASSISTANT,
    CHAT_BOX,
    USER,
    Stack,
    conversation_id,
    finish_enrol,
    keyed_ids,
    link_token,
    no_tracebacks,
    start_enrol,
    wait_answer,
    wait_idle,
)

pytestmark = pytest.mark.e2e

PEOPLE = 10


def _plain(text: str) -> str:
    """Text without whitespace and the simulator's Markdown marks (bold, list bullets), so an
    answer as stored compares with the same answer as rendered."""
    return re.sub(r"[\s*\-▌]", "", text)


def _answer_text(page: Page) -> str:
    return (
        page.locator(ASSISTANT).last.locator("[data-testid=stMarkdownContainer]").first.inner_text()
    )


def test_ten_participants_at_once_see_only_their_own(
    make_stack: Callable[..., Stack], new_page: Callable[[], Page]
) -> None:
    stack = make_stack()
    stack.sim.configure(ttft_ms=50, itl_ms=10, tokens=40)
    names = [f"crowd-{i:02d}" for i in range(PEOPLE)]
    questions = [f"Question from {name}: what about the number {i * 7919}?" for i, name in
                 enumerate(names)]  # fmt: skip
    pages = [new_page() for _ in names]

    # Everyone enrols at about the same time: all start pages, then every Start, then the links.
    for page, name in zip(pages, names, strict=True):
        start_enrol(page, stack.url, name)
    for page, name in zip(pages, names, strict=True):
        finish_enrol(page, stack.url, name, timeout=60_000)
        page.locator(CHAT_BOX).wait_for(timeout=60_000)
        wait_idle(page, timeout=60_000)
    tokens = [link_token(stack.url, name) for name in names]
    assert len(set(tokens)) == PEOPLE

    # Everyone types, then everyone presses Enter, one right after the other.
    for page, question in zip(pages, questions, strict=True):
        page.locator(CHAT_BOX).fill(question)
    for page in pages:
        page.locator(CHAT_BOX).press("Enter")
    for page in pages:
        wait_answer(page, 1, timeout=60_000)

    shown: dict[str, str] = {}  # conversation id -> the answer on its page
    for page, name, question in zip(pages, names, questions, strict=True):
        asked = page.locator(USER).all_inner_texts()
        assert len(asked) == 1 and question in asked[0], f"{name}'s page shows {asked}"
        assert page.locator(ASSISTANT).count() == 1
        body = page.locator("body").inner_text()
        for other in names:
            if other != name:
                assert other not in body, f"{name}'s page mentions {other}"
        conv = conversation_id(page)
        assert conv
        sidebar = page.get_by_test_id("stSidebar")
        assert keyed_ids(sidebar, "conv") == [conv], f"{name}'s sidebar lists other chats"
        assert question in sidebar.inner_text()
        shown[conv] = _answer_text(page)
        assert _plain(shown[conv]), f"{name}'s answer is empty"
        no_tracebacks(page)
    assert len(set(shown.values())) == PEOPLE, "two pages show the same answer"

    stack.stop_app()
    users = {u["name"]: u["id"] for u in stack.rows("SELECT id, name FROM users")}
    conversations = stack.rows("SELECT id, user_id, title FROM conversations")
    assert len(conversations) == PEOPLE
    assert {c["id"] for c in conversations} == set(shown)
    for name, token, question in zip(names, tokens, questions, strict=True):
        assert token.split(".")[0] == users[name], f"{name}'s link names another account"
        [conv] = [c for c in conversations if c["user_id"] == users[name]]
        assert conv["title"] == question
        messages = stack.rows(
            "SELECT role, content FROM messages WHERE conversation_id = ? ORDER BY created_at",
            [conv["id"]],
        )
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[0]["content"] == question
        assert _plain(messages[1]["content"]) == _plain(shown[conv["id"]])
        exchanges = stack.rows(
            "SELECT user_id FROM exchanges WHERE conversation_id = ? AND source = 'chat'",
            [conv["id"]],
        )
        assert [e["user_id"] for e in exchanges] == [users[name]]
