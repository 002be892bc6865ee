"""What only a browser shows about the page's layout: icons drawn from the icon font (not emoji
that need an emoji font this headless Chromium lacks), a one-line chat heading, and the message
actions in one compact row under their message."""

from __future__ import annotations

from itertools import pairwise

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    USER,
    Stack,
    key_locator,
    keyed_ids,
    no_tracebacks,
    open_chat,
    send,
)

pytestmark = pytest.mark.e2e

LONG_FIRST_MESSAGE = (
    "Could you compare the main approaches to measuring user satisfaction with chat assistants?"
)


def _box(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "the element is not on screen"
    return box


def _centre_y(locator: Locator) -> float:
    box = _box(locator)
    return box["y"] + box["height"] / 2


def _material_icons(scope: Locator) -> list[str]:
    """The names of the icons drawn with the Material Symbols font inside scope: Streamlit draws
    an icon as its name in that font (a ligature), from an `icon=` or a `:material/…:` label."""
    return scope.first.evaluate(
        """root => [...root.querySelectorAll('span')]
            .filter(s => getComputedStyle(s).fontFamily.includes('Material Symbols')
                && s.children.length === 0)
            .map(s => s.textContent.trim())"""
    )


def test_actions_sit_in_one_compact_row_and_use_the_icon_font(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=8, itl_ms=5)
    open_chat(page, stack.url, "layout-actions")
    answer = send(page, LONG_FIRST_MESSAGE)
    [answer_id] = keyed_ids(answer, "regen")

    # Regenerate, thumbs and comment: one row, centres level, side by side (they used to be
    # spread over four columns of the whole width).
    regen = key_locator(page, f"regen-{answer_id}")
    thumbs = key_locator(page, f"thumbs-{answer_id}")
    comment = answer.get_by_test_id("stPopover")
    row = [regen, thumbs, comment]
    levels = [_centre_y(part) for part in row]
    assert max(levels) - min(levels) < 8, f"the actions are not on one row: {levels}"
    boxes = sorted((_box(part) for part in row), key=lambda box: box["x"])
    gaps = [after["x"] - (before["x"] + before["width"]) for before, after in pairwise(boxes)]
    assert max(gaps) < 24, f"the actions are spread over the width, gaps {gaps} px"
    assert _box(regen)["y"] > _box(answer.get_by_test_id("stMarkdownContainer").first)["y"]

    # Icons come from the icon font, by name: no emoji in the labels.
    assert "refresh" in _material_icons(regen)
    assert "chat_bubble" in _material_icons(comment)
    [user_id] = keyed_ids(page.locator(USER).last, "edit")
    assert "edit" in _material_icons(key_locator(page, f"edit-{user_id}"))
    nav = page.get_by_test_id("stSidebarNav")
    assert {"chat", "swords", "theater_comedy"} <= set(_material_icons(nav))
    assert "add" in _material_icons(key_locator(page, "aeries.new_chat"))
    no_tracebacks(page)


def test_a_long_title_is_a_one_line_heading_with_the_whole_title_on_hover(
    stack: Stack, page: Page
) -> None:
    stack.sim.configure(tokens=5, itl_ms=5)
    open_chat(page, stack.url, "layout-title")
    send(page, LONG_FIRST_MESSAGE)
    heading = page.get_by_test_id("stHeading").first.locator("h3")
    expect(heading).to_contain_text("…")
    text = heading.inner_text().strip()
    assert LONG_FIRST_MESSAGE.startswith(text.rstrip("…").rstrip())
    # An inline span has one client rectangle per line it occupies.
    lines = heading.locator("[data-heading-text]").evaluate("s => s.getClientRects().length")
    assert lines == 1, f"the heading takes {lines} lines"
    # The whole title is still there: in the sidebar and in the heading's tooltip.
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name=LONG_FIRST_MESSAGE)).to_be_visible()
    page.get_by_test_id("stHeading").first.get_by_test_id("stTooltipIcon").hover()
    expect(page.get_by_test_id("stTooltipContent")).to_contain_text(LONG_FIRST_MESSAGE)
    assert page.locator(ASSISTANT).count() == 1
    no_tracebacks(page)
