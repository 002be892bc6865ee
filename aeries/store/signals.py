"""Signals about the user: feedback, observer output, heuristics, implicit preferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.facts import AnswerContext, fact_ops
from aeries.store.writer import Insert, Writer
from aeries.vocabulary import FeedbackName, SignalKind, SignalName


@dataclass(frozen=True)
class Provenance:
    """Who produced a signal: extractor name and version, and the prompt's hash."""

    extractor: str
    version: str
    prompt_hash: str | None = None


USER_FEEDBACK = Provenance("user", "1")
HEURISTICS = Provenance("heuristics", "1")
IMPLICIT = Provenance("implicit", "1")


def signal_row(
    *,
    kind: SignalKind,
    name: SignalName,
    user_id: str | None,
    provenance: Provenance,
    conversation_id: str | None = None,
    exchange_id: str | None = None,
    message_id: str | None = None,
    value_num: float | None = None,
    value_text: str | None = None,
) -> dict[str, Any]:
    """A ``signals`` row."""
    return {
        "id": new_id(),
        "user_id": user_id,
        "conversation_id": conversation_id,
        "exchange_id": exchange_id,
        "message_id": message_id,
        "kind": kind,
        "name": name,
        "value_num": value_num,
        "value_text": value_text,
        "extractor": provenance.extractor,
        "extractor_version": provenance.version,
        "prompt_hash": provenance.prompt_hash,
        "created_at": utcnow(),
    }


def record_feedback(
    writer: Writer,
    *,
    user_id: str,
    conversation_id: str,
    message_id: str,
    exchange_id: str | None,
    thumbs_up: bool | None,
    comment: str | None = None,
    about: AnswerContext | None = None,
) -> None:
    """Thumbs (1 up, 0 down) and an optional comment, as ``feedback`` signals; ``about`` (the
    answer's exchange) also files the thumb for analytics."""

    def feedback_row(
        name: FeedbackName, *, value_num: float | None = None, value_text: str | None = None
    ) -> dict[str, Any]:
        return signal_row(
            kind="feedback",
            name=name,
            user_id=user_id,
            provenance=USER_FEEDBACK,
            conversation_id=conversation_id,
            exchange_id=exchange_id,
            message_id=message_id,
            value_num=value_num,
            value_text=value_text,
        )

    if thumbs_up is not None:
        row = feedback_row("thumbs", value_num=float(thumbs_up))
        writer.submit(Insert("signals", row), *fact_ops(row, about))
    if comment and comment.strip():
        writer.submit(Insert("signals", feedback_row("comment", value_text=comment.strip())))


def latest_feedback(
    db: Database, user_id: str, message_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Latest thumbs and comment per message, for showing the current state."""
    if not message_ids:
        return {}
    rows = db.rows(
        """SELECT message_id, name,
                  arg_max(coalesce(value_text, CAST(value_num AS VARCHAR)), created_at)
           FROM signals
           WHERE kind = 'feedback' AND user_id = ? AND message_id IN (SELECT unnest(?))
           GROUP BY message_id, name""",
        [user_id, message_ids],
    )
    out: dict[str, dict[str, Any]] = {}
    for message_id, name, value in rows:
        out.setdefault(message_id, {})[name] = value
    return out
