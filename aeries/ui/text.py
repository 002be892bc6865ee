"""Showing untrusted text in Streamlit: names and titles literally (markdown syntax shown, never
interpreted), model answers as Markdown that can never make the browser fetch an image."""

from __future__ import annotations

import re

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from aeries.safe_markdown import safe_markdown

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


def blocked_note(blocked: tuple[str, ...]) -> str | None:
    """The caption saying which images were not loaded (None when there were none)."""
    if not blocked:
        return None
    shown = ", ".join(literal(url[:200]) for url in blocked[:5])
    more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
    return f"Images not loaded (they would contact another site): {shown}{more}"


def answer_markdown(
    text: str, *, into: DeltaGenerator | None = None, note: DeltaGenerator | None = None
) -> None:
    """A model answer (or reasoning) as Markdown, with every image turned into a link a person
    may click: an image in text a model or a participant controls would otherwise be fetched
    by the browser at once, a way to send data out. The addresses left unloaded are listed
    (in ``note`` when given: a placeholder replaced by one element must stay one element)."""
    target = into if into is not None else st
    safe = safe_markdown(text)
    target.markdown(safe.text)
    if caption := blocked_note(safe.blocked):
        (note if note is not None else target).caption(caption)


def live_markdown(text: str) -> str:
    """Markdown for text still streaming: the same protection, without the list (it is drawn
    many times a second; the finished answer lists what was left unloaded)."""
    return safe_markdown(text).text
