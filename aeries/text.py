"""Text rules shared by the store and the UI: titles, search patterns, input checks."""

from __future__ import annotations

import re
import unicodedata

TITLE_MAX = 100
# The chat page's heading (a subheader): 40 characters stay on one line even in capitals in
# the ~820 px main column.
HEADING_MAX = 40
MESSAGE_MAX_CHARS = 1_000_000  # far above any model context; guards memory, not policy

_SPACE = re.compile(r"\s+")


def clean_inline(text: str) -> str:
    """One line of display text: control characters (NUL included) become spaces."""
    chars = [" " if unicodedata.category(c) == "Cc" or c in "\u2028\u2029" else c for c in text]
    return _SPACE.sub(" ", "".join(chars)).strip()


def make_title(text: str, limit: int = TITLE_MAX) -> str:
    """A conversation title from a message: one line, at most ``limit`` characters."""
    line = clean_inline(text)
    if not line:
        return "New conversation"
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def like_pattern(query: str) -> str:
    """An ILIKE pattern matching ``query`` literally anywhere (escape char: backslash)."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_message(text: str | None) -> str | None:
    """A hint when a message cannot be sent as is, else None."""
    if text is None or not text.strip():
        return "Type a message first: an empty or blank message is not sent."
    if len(text) > MESSAGE_MAX_CHARS:
        return (
            f"That message is {len(text):,} characters; Aeries accepts up to "
            f"{MESSAGE_MAX_CHARS:,}. Shorten it or attach less text."
        )
    return None
