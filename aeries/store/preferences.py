"""Pairwise preferences: explicit arena votes and implicit choices made in chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.db import Database
from aeries.store.writer import Insert, Op
from aeries.vocabulary import PreferenceKind, Source, Winner


@dataclass(frozen=True)
class PairSide:
    """One side of a pairwise preference: who, which model, its answer and where it stood."""

    contestant: str
    model: str
    exchange_id: str | None
    ttft_ms: float | None
    position: int | None = None


def preference_row(
    *,
    kind: PreferenceKind,
    source: Source,
    user_id: str | None,
    a: PairSide,
    b: PairSide,
    winner: Winner,
    created_at: datetime,
    battle_id: str | None = None,
    vote_id: str | None = None,
    conversation_id: str | None = None,
    weight: float = 1.0,
) -> dict[str, Any]:
    """A ``preferences`` row (the one builder: arena votes and implicit chat choices alike)."""
    return {
        "id": new_id(),
        "kind": kind,
        "source": source,
        "user_id": user_id,
        "battle_id": battle_id,
        "vote_id": vote_id,
        "conversation_id": conversation_id,
        "contestant_a": a.contestant,
        "contestant_b": b.contestant,
        "model_a": a.model,
        "model_b": b.model,
        "exchange_a": a.exchange_id,
        "exchange_b": b.exchange_id,
        "ttft_a_ms": a.ttft_ms,
        "ttft_b_ms": b.ttft_ms,
        "position_a": a.position,
        "position_b": b.position,
        "winner": winner,
        "weight": weight,
        "created_at": created_at,
    }


def _answer_side(message: Message, model: str) -> PairSide:
    return PairSide(model, model, message.exchange_id, message.meta.get("ttft_ms"))


def implicit_preference_ops(
    user_id: str, conversation_id: str, chosen: Message, others: list[Message]
) -> list[Op]:
    """The user carried on from ``chosen`` rather than its regenerated siblings: a weak
    preference for it over each (kept apart from votes by ``kind = 'implicit'``)."""
    now = utcnow()
    ops: list[Op] = []
    winner_model = chosen.meta.get("model")
    for other in others:
        other_model = other.meta.get("model")
        if not winner_model or not other_model or not other.content:
            continue
        row = preference_row(
            kind="implicit",
            source="chat",
            user_id=user_id,
            a=_answer_side(chosen, winner_model),
            b=_answer_side(other, other_model),
            winner="a",
            created_at=now,
            conversation_id=conversation_id,
        )
        ops.append(Insert("preferences", row))
    return ops


def load_battles(
    db: Database, *, by: str = "model", include_implicit: bool = False, user_id: str | None = None
) -> pd.DataFrame:
    """Preferences as a battles frame for aeries.ratings (model_a, model_b, winner, weight,
    kind, ts); ``by='contestant'`` rates model+persona+sampling labels instead of models.
    With ``user_id``, only that user's own preferences (what a participant may see: others'
    votes, and the names of their private personas in contestant labels, are theirs)."""
    a, b = ("contestant_a", "contestant_b") if by == "contestant" else ("model_a", "model_b")
    kinds = ["explicit", "implicit"] if include_implicit else ["explicit"]
    mine = "" if user_id is None else " AND user_id = ?"
    # A typed array: PostgreSQL cannot pick an unnest() for an untyped list parameter. Ties
    # in time go by id (creation order), so the ratings replay the same sequence on any engine.
    return db.df(
        f"""SELECT {a} AS model_a, {b} AS model_b, winner, weight, kind, created_at AS ts
            FROM preferences WHERE kind = ANY(?::VARCHAR[]){mine}
            ORDER BY created_at, id""",
        [kinds] if user_id is None else [kinds, user_id],
    )
