"""Script injection through a model answer, a user message and a title renders as inert text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import ASSISTANT, USER, Stack, no_tracebacks, open_chat, send, wait_idle

pytestmark = pytest.mark.e2e

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
LINK = "[click](javascript:window.__pwned=1)"
PAYLOAD = f"Look: {SCRIPT}\n\n{IMG}\n\nand {LINK} here."


def _pwned(page: Page) -> object:
    return page.evaluate("window.__pwned")


def _assert_inert(page: Page) -> None:
    assert _pwned(page) is None
    # No element built from the payload: no injected script, image handler or js: link.
    assert (
        page.evaluate(
            """() => [...document.querySelectorAll('script')]
                  .filter(s => s.textContent.includes('__pwned')).length"""
        )
        == 0
    )
    assert page.locator("[onerror]").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    # Click every link labelled "click" (answers render markdown links); none may run code.
    links = page.get_by_role("link", name="click")
    assert links.count() >= 1, "the answer's markdown link was not rendered, nothing to click"
    for index in range(links.count()):
        page.evaluate("window.__e2eStillHere = true")
        links.nth(index).click(no_wait_after=True)
        page.wait_for_timeout(300)
        assert _pwned(page) is None
        if page.evaluate("window.__e2eStillHere") is None:  # the click navigated: come back
            page.go_back()
            wait_idle(page)
    assert _pwned(page) is None


def test_payloads_render_as_inert_text(stack: Stack, page: Page) -> None:
    stack.sim.configure(reply=PAYLOAD)
    open_chat(page, stack.url, "mallory")
    send(page, PAYLOAD)
    _assert_inert(page)

    # The user's message is shown exactly as typed, markup included.
    question = page.locator(USER).last.inner_text()
    for part in (SCRIPT, IMG, LINK):
        assert part in question, f"{part!r} is not shown as text"
    # The title (from the first message) too, in the heading and in the sidebar.
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert "<script>" in sidebar
    answer = page.locator(ASSISTANT).last.inner_text()
    assert "click" in answer

    # Loaded back from the database, it is just as inert.
    page.reload()
    wait_idle(page)
    _assert_inert(page)
    assert SCRIPT in page.locator(USER).last.inner_text()
    no_tracebacks(page)
