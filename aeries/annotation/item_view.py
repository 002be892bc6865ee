"""What a rater sees of an item: the conversation up to the answer, as the participant saw it,
and nothing that unblinds it.

A chat answer is shown with the branch of its conversation that led to it (the messages the
participant saw, edits and regenerations on other branches left out); an arena answer with
the prompt it answered. Never shown: the model, the persona or its system prompt, the brief,
the study and its condition, the participant, timings, and other raters' labels — the view
holds only roles and texts, so no page can leak what it does not have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from aeries.store.db import Database

Speaker = Literal["user", "assistant"]


@dataclass(frozen=True)
class ShownTurn:
    """One message as the rater sees it."""

    role: Speaker
    text: str


@dataclass(frozen=True)
class ItemView:
    """The conversation up to the answer (``turns[:-1]``) and the answer itself (last)."""

    exchange_id: str
    turns: tuple[ShownTurn, ...]

    @property
    def answer(self) -> ShownTurn:
        return self.turns[-1]


def item_view(db: Database, exchange_id: str) -> ItemView | None:
    """The rater's view of one exchange, or None if it has no answer to show."""
    row = db.one(
        "SELECT conversation_id, message_id, request_messages, response_text FROM exchanges "
        "WHERE id = ? LIMIT 1",
        [exchange_id],
    )
    if row is None or not row[3]:
        return None
    conversation_id, message_id, request_messages, response_text = row
    turns = _branch(db, conversation_id, message_id) if conversation_id and message_id else []
    if not turns:  # an arena answer, or a chat message no longer there: what was sent
        turns = _sent(request_messages)
        turns.append(ShownTurn("assistant", str(response_text)))
    return ItemView(exchange_id, tuple(turns))


def _branch(db: Database, conversation_id: str, message_id: str) -> list[ShownTurn]:
    """The messages from the conversation's start down to ``message_id`` (its parent chain)."""
    rows = db.rows(
        "SELECT id, parent_id, role, content FROM messages WHERE conversation_id = ?",
        [conversation_id],
    )
    by_id = {r[0]: r for r in rows}
    chain: list[ShownTurn] = []
    current = by_id.get(message_id)
    while current is not None and len(chain) <= len(by_id):
        if current[2] in ("user", "assistant"):
            chain.append(ShownTurn(current[2], str(current[3])))
        current = by_id.get(current[1]) if current[1] else None
    chain.reverse()
    return chain if chain and chain[-1].role == "assistant" else []


def _sent(request_messages: str | None) -> list[ShownTurn]:
    """The user and assistant messages of a request as sent (system prompts left out)."""
    try:
        messages = json.loads(request_messages or "[]")
    except ValueError:
        return []
    shown: list[ShownTurn] = []
    for m in messages if isinstance(messages, list) else []:
        role = m.get("role") if isinstance(m, dict) else None
        content = m.get("content") if isinstance(m, dict) else None
        if role in ("user", "assistant") and isinstance(content, str):
            shown.append(ShownTurn(role, content))
    return shown
