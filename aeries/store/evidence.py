"""The signals behind a learned item, for showing the user why Aeries believes it."""

from __future__ import annotations

import pandas as pd

from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.events import log_event
from aeries.store.profile import reset_item_ops
from aeries.store.writer import Writer


def evidence(db: Database, user_id: str, name: str, value: str, limit: int = 20) -> pd.DataFrame:
    """The newest observer signals for one learned item of this user, with their provenance."""
    return db.df(
        """SELECT s.created_at AS "when", c.title AS conversation, s.extractor || ' v' ||
                  s.extractor_version AS extractor, s.prompt_hash, s.exchange_id
           FROM signals s LEFT JOIN conversations c ON c.id = s.conversation_id
           WHERE s.user_id = ? AND s.kind = 'observer' AND s.name = ? AND s.value_text = ?
             AND s.created_at > coalesce((SELECT reset_at FROM profile_stats p
                  WHERE p.user_id = s.user_id AND p.name = s.name AND p.value = s.value_text),
                  '-infinity'::TIMESTAMPTZ)
           ORDER BY s.created_at DESC, s.id DESC LIMIT ?""",
        [user_id, name, value, limit],
    )


def forget_item(writer: Writer, user_id: str, name: str, value: str) -> None:
    """Stop a learned item from shaping the brief; the deletion is logged as an event."""
    at = utcnow()
    writer.submit(*reset_item_ops(user_id, name, value, at))
    log_event(writer, "preference_deleted", user_id=user_id, payload={"name": name, "value": value})
    writer.flush()
