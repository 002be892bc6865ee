"""Pairwise preferences: explicit arena votes and implicit choices made in chat."""

from __future__ import annotations

import pandas as pd

from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.db import Database
from aeries.store.writer import Insert, Op


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
        ops.append(
            Insert(
                "preferences",
                {
                    "id": new_id(),
                    "kind": "implicit",
                    "source": "chat",
                    "user_id": user_id,
                    "battle_id": None,
                    "vote_id": None,
                    "conversation_id": conversation_id,
                    "contestant_a": winner_model,
                    "contestant_b": other_model,
                    "model_a": winner_model,
                    "model_b": other_model,
                    "exchange_a": chosen.exchange_id,
                    "exchange_b": other.exchange_id,
                    "ttft_a_ms": chosen.meta.get("ttft_ms"),
                    "ttft_b_ms": other.meta.get("ttft_ms"),
                    "position_a": None,
                    "position_b": None,
                    "winner": "a",
                    "weight": 1.0,
                    "created_at": now,
                },
            )
        )
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
    return db.df(
        f"""SELECT {a} AS model_a, {b} AS model_b, winner, weight, kind, created_at AS ts
            FROM preferences WHERE kind IN (SELECT unnest(?)){mine} ORDER BY created_at""",
        [kinds] if user_id is None else [kinds, user_id],
    )
