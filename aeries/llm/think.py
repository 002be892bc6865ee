"""Thinking that arrives inside ``content``: a vLLM server started without ``--reasoning-parser``
streams a reasoning model's ``<think>…</think>`` as ordinary content. Split off at the start of
the answer, it is shown and stored as reasoning, the same as behind a parser."""

from __future__ import annotations

from typing import Literal

Part = tuple[Literal["reasoning", "content"], str]

OPEN = "<think>"
CLOSE = "</think>"


class ThinkSplitter:
    """Feed content deltas; get (kind, text) parts back. Only a block that opens the answer
    (after whitespace) counts: a ``<think>`` later in an answer is text the model wrote."""

    def __init__(self) -> None:
        self._state: Literal["start", "think", "plain"] = "start"
        self._held = ""  # text not yet given out: a possible tag split across deltas

    def feed(self, text: str) -> list[Part]:
        """The parts ``text`` completes (some may wait for the next delta)."""
        if self._state == "plain":
            return [("content", text)] if text else []
        self._held += text
        parts: list[Part] = []
        if self._state == "start":
            opening = self._held.lstrip()
            if not opening or (len(opening) < len(OPEN) and OPEN.startswith(opening)):
                return parts  # still only whitespace, or a prefix of the tag: wait
            if not opening.startswith(OPEN):
                self._state = "plain"
                held, self._held = self._held, ""
                return [("content", held)]
            self._state = "think"
            self._held = opening[len(OPEN) :]
        end = self._held.find(CLOSE)
        if end >= 0:
            thought, rest = self._held[:end], self._held[end + len(CLOSE) :]
            self._state, self._held = "plain", ""
            parts += [("reasoning", thought)] if thought else []
            return parts + ([("content", rest)] if rest else [])
        keep = _partial_suffix(self._held, CLOSE)
        ready, self._held = (
            self._held[: len(self._held) - keep],
            self._held[len(self._held) - keep :],
        )
        return parts + ([("reasoning", ready)] if ready else [])

    def finish(self) -> list[Part]:
        """Whatever is still held when the stream ends (an unclosed block stays reasoning)."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [("reasoning" if self._state == "think" else "content", held)]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
