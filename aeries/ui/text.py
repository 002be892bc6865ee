"""Showing untrusted text in Streamlit as text (markdown syntax shown, never interpreted)."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")
# Streamlit's markdown turns " -> ", " -- ", " >= " … into arrows and dashes within one text
# node, even when escaped. An empty link splits the node and renders nothing (no text, zero
# width), so what the reader sees and copies is exactly what was typed. User text cannot
# form such a link: its brackets are escaped.
_TYPOGRAPHY_PAIR = re.compile(r"(\\[-<>~])(?=\\?[-=>])")
_SPLIT = "[](#)"


def literal(text: str) -> str:
    """Markdown that renders ``text`` exactly as typed: special characters are escaped,
    line breaks kept, NUL and other control characters shown as visible symbols."""
    visible = "".join(
        chr(0x2400 + ord(c)) if (ord(c) < 32 and c not in "\n\t") else c for c in text
    )
    escaped = _MD_SPECIAL.sub(r"\\\1", visible)
    escaped = _TYPOGRAPHY_PAIR.sub(lambda m: m.group(1) + _SPLIT, escaped)
    return escaped.replace("\n", "  \n")


def label(text: str) -> str:
    """A widget label (labels accept markdown) showing ``text`` literally."""
    return literal(text.replace("\n", " "))
