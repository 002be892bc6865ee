"""Titles, search patterns, message checks and literal rendering of untrusted text."""

import pytest

from aeries.text import MESSAGE_MAX_CHARS, check_message, clean_inline, like_pattern, make_title
from aeries.ui.text import literal


def test_title_is_one_line_and_at_most_100_chars():
    title = make_title("word " * 60)
    assert len(title) <= 100
    assert title.endswith("…")
    assert "\n" not in make_title("first line\nsecond line")


def test_title_keeps_unicode_and_markup_but_drops_control_chars():
    assert make_title("שלום 👋🏽 <b>hi</b>") == "שלום 👋🏽 <b>hi</b>"
    assert make_title("a\x00b\x07c") == "a b c"
    assert make_title("   \n\t ") == "New conversation"


def test_clean_inline_collapses_whitespace():
    assert clean_inline("  a \n\n b\u2028c ") == "a b c"


@pytest.mark.parametrize("query", ["100%", "a_b", "back\\slash", "'; DROP TABLE x; --"])
def test_like_pattern_escapes_wildcards(query):
    pattern = like_pattern(query)
    assert pattern.startswith("%") and pattern.endswith("%")
    inner = pattern[1:-1]
    assert "%" not in inner.replace("\\%", "")
    assert "_" not in inner.replace("\\_", "")


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_blank_messages_are_refused_with_a_hint(text):
    assert "empty" in check_message(text)


def test_large_messages_accepted_up_to_limit():
    assert check_message("x" * 200_000) is None
    assert "characters" in check_message("x" * (MESSAGE_MAX_CHARS + 1))


def test_literal_escapes_markdown_and_html_and_shows_nul():
    shown = literal("<script>alert(1)</script> **bold** [x](javascript:alert(1))\x00")
    assert "\\<script\\>" in shown
    assert "\\*\\*bold\\*\\*" in shown
    assert "\\[x\\]\\(javascript\\:alert\\(1\\)\\)" in shown
    assert "\x00" not in shown and "\u2400" in shown
    assert literal("a\nb") == "a  \nb"
