"""The brief: what Aeries learned about a user, as a system message within a token budget.

Built from profile_stats (recency- and repetition-weighted), so assembling it reads a few rows
whatever the number of signals. The same rows always give the same brief (ties are broken by
name and value), and its hash is stored with each exchange so answers with and without it, or
with different briefs, can be compared.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.profile import ProfileItem, load_profile

HEADER = (
    "About this user (learned by Aeries from earlier conversations; follow it unless the user "
    "asks otherwise):"
)
DEFAULT_BUDGET_TOKENS = 200
MIN_PREFERENCE_WEIGHT = 0.5  # about one recent observation
PREFERENCE_DOMINANCE = 0.6  # the value must carry most of its aspect's weight
MIN_TOPIC_WEIGHT = 0.3
MAX_TOPICS = 5
MAX_CORRECTIONS = 3


def approx_tokens(text: str) -> int:
    """A conservative token estimate (~4 characters per token)."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class BriefLine:
    """One learned item shown in the brief, with where it came from."""

    name: str  # signal name: preference / topic / correction
    value: str  # the signal value ("verbosity=concise", "owls", "…")
    weight: float
    observations: int

    @property
    def label(self) -> str:
        """How the item reads in the brief."""
        if self.name == "preference" and "=" in self.value:
            aspect, value = self.value.split("=", 1)
            return f"{aspect}: {value}"
        return self.value


@dataclass(frozen=True)
class Brief:
    """The brief text and the lines behind it."""

    text: str = ""
    lines: list[BriefLine] = field(default_factory=list)

    @property
    def hash(self) -> str | None:
        """Short content hash (None for an empty brief)."""
        if not self.text:
            return None
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def _preferences(items: list[ProfileItem]) -> list[BriefLine]:
    by_aspect: dict[str, list[ProfileItem]] = {}
    for item in items:
        if item.name == "preference" and "=" in item.value:
            by_aspect.setdefault(item.value.split("=", 1)[0], []).append(item)
    chosen = []
    for group in by_aspect.values():
        best = max(group, key=lambda i: (i.weight, i.value))
        total = sum(i.weight for i in group)
        if best.weight >= MIN_PREFERENCE_WEIGHT and best.weight >= PREFERENCE_DOMINANCE * total:
            chosen.append(BriefLine("preference", best.value, best.weight, best.n))
    return sorted(chosen, key=lambda line: (-line.weight, line.value))


def _topics(items: list[ProfileItem]) -> list[BriefLine]:
    topics = [i for i in items if i.name == "topic" and i.weight >= MIN_TOPIC_WEIGHT]
    topics.sort(key=lambda i: (-i.weight, i.value))
    return [BriefLine("topic", i.value, i.weight, i.n) for i in topics[:MAX_TOPICS]]


def _corrections(items: list[ProfileItem]) -> list[BriefLine]:
    recent = [i for i in items if i.name == "correction" and i.weight >= MIN_TOPIC_WEIGHT]
    recent.sort(key=lambda i: (i.last_at, i.value), reverse=True)
    return [BriefLine("correction", i.value, i.weight, i.n) for i in recent[:MAX_CORRECTIONS]]


def _render(prefs: list[BriefLine], topics: list[BriefLine], fixes: list[BriefLine]) -> str:
    parts = [HEADER]
    if prefs:
        parts.append("Preferences: " + "; ".join(p.label for p in prefs) + ".")
    if topics:
        parts.append("Interests: " + ", ".join(t.label for t in topics) + ".")
    if fixes:
        parts.append("Recent corrections to keep in mind:")
        parts += [f"- {f.label}" for f in fixes]
    return "\n".join(parts)


def build_brief(items: list[ProfileItem], budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> Brief:
    """The brief for these items: preferences first, then corrections, then topics, dropping
    the weakest items until it fits ``budget_tokens``."""
    prefs, topics, fixes = _preferences(items), _topics(items), _corrections(items)
    if not (prefs or topics or fixes):
        return Brief()
    while True:
        text = _render(prefs, topics, fixes)
        if approx_tokens(text) <= budget_tokens:
            break
        # Drop the least important remaining item: topics, then corrections, then preferences.
        for group in (topics, fixes, prefs):
            if group:
                group.pop()
                break
        else:
            return Brief()
        if not (prefs or topics or fixes):
            return Brief()
    return Brief(text, [*prefs, *fixes, *topics])


def assemble_brief(
    db: Database,
    user_id: str,
    now: datetime | None = None,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
) -> Brief:
    """The current brief for a user."""
    return build_brief(load_profile(db, user_id, now or utcnow()), budget_tokens)
