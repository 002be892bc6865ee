"""Rendering policy for streamed text, independent of Streamlit.

Two ideas keep streaming cheap: updates are coalesced (the first chunk at once, then at most one
update per interval), and settled paragraphs are frozen so each update re-sends only the
paragraph still growing, not the whole answer (Streamlit re-sends an element's full text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s{0,3}(```|~~~)", re.MULTILINE)


class Throttle:
    """True for the first call, then at most once per ``interval_s``."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self._last: float | None = None

    def ready(self, now: float) -> bool:
        """Whether an update is due at ``now`` (and, if so, mark it done)."""
        if self._last is None or now - self._last >= self.interval_s:
            self._last = now
            return True
        return False


def settled_end(text: str, start: int = 0) -> int:
    """End of the settled prefix: just after the last blank line outside a code fence.

    Returns ``start`` when nothing new has settled since ``start``.
    """
    end = start
    search = start
    while True:
        gap = text.find("\n\n", search)
        if gap < 0:
            return end
        # A blank line inside an open fence does not end a block.
        if len(_FENCE.findall(text, 0, gap)) % 2 == 0:
            end = gap + 2
        search = gap + 2


@dataclass
class StreamText:
    """Accumulated answer text split into frozen blocks and a live tail."""

    content: str = ""
    reasoning: str = ""
    frozen_upto: int = 0

    def add(self, kind: str, text: str) -> None:
        """Append a delta of ``kind`` ('content' or 'reasoning')."""
        if kind == "reasoning":
            self.reasoning += text
        else:
            self.content += text

    def new_blocks(self) -> list[str]:
        """Paragraphs that settled since the last call (each to be rendered once)."""
        end = settled_end(self.content, self.frozen_upto)
        if end <= self.frozen_upto:
            return []
        block = self.content[self.frozen_upto : end].strip("\n")
        self.frozen_upto = end
        return [block] if block else []

    @property
    def tail(self) -> str:
        """The paragraph still growing."""
        return self.content[self.frozen_upto :]
