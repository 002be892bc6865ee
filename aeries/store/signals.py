"""Signals about the user: feedback, observer output, heuristics, implicit preferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aeries.calls import NO_STUDY, StudyRef
from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.db import Database
from aeries.store.facts import AnswerContext, fact_ops
from aeries.store.writer import Insert, Writer
from aeries.vocabulary import ImplicitName, SignalKind, SignalName


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
    study: StudyRef | None = None,
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
        **(study.columns() if study else NO_STUDY),
    }


@dataclass(frozen=True)
class Target:
    """What a signal is about: whose it is, and the conversation, message and exchange."""

    user_id: str
    conversation_id: str
    message_id: str
    exchange_id: str | None = None
    study: StudyRef | None = None

    @classmethod
    def of(cls, user_id: str, message: Message) -> Target:
        """A signal about this message (and the exchange that produced it, if any)."""
        return cls(user_id, message.conversation_id, message.id, message.exchange_id)

    def row(
        self,
        kind: SignalKind,
        name: SignalName,
        provenance: Provenance,
        *,
        value_num: float | None = None,
        value_text: str | None = None,
    ) -> dict[str, Any]:
        """The ``signals`` row of one signal about this target."""
        return signal_row(
            kind=kind,
            name=name,
            user_id=self.user_id,
            provenance=provenance,
            conversation_id=self.conversation_id,
            exchange_id=self.exchange_id,
            message_id=self.message_id,
            value_num=value_num,
            value_text=value_text,
            study=self.study,
        )


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
    study: StudyRef | None = None,
) -> None:
    """Thumbs (1 up, 0 down) and an optional comment, as ``feedback`` signals; ``about`` (the
    answer's exchange) also files the thumb for analytics."""
    target = Target(user_id, conversation_id, message_id, exchange_id, study)
    if thumbs_up is not None:
        row = target.row("feedback", "thumbs", USER_FEEDBACK, value_num=float(thumbs_up))
        writer.submit(Insert("signals", row), *fact_ops(row, about))
    if comment and comment.strip():
        row = target.row("feedback", "comment", USER_FEEDBACK, value_text=comment.strip())
        writer.submit(Insert("signals", row))


def record_implicit(writer: Writer, name: ImplicitName, user_id: str, message: Message) -> None:
    """An implicit dissatisfaction signal (regenerate, edit, abort) about a message."""
    row = Target.of(user_id, message).row("implicit", name, IMPLICIT, value_num=1.0)
    writer.submit(Insert("signals", row))


def record_reply_delay(writer: Writer, user_id: str, previous: Message, reply: Message) -> None:
    """Seconds between an answer and the user's next message (a heuristic signal)."""
    if previous.role != "assistant":
        return
    delay = max(0.0, (reply.created_at - previous.created_at).total_seconds())
    row = Target.of(user_id, previous).row(
        "heuristic", "reply_delay_s", HEURISTICS, value_num=delay
    )
    writer.submit(Insert("signals", row))


def latest_feedback(
    db: Database, user_id: str, message_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Latest thumbs and comment per message, for showing the current state."""
    if not message_ids:
        return {}
    # The latest row's text and number, each the first of its group ordered newest first (a
    # tie on created_at goes to the later id); rows with neither are left out, as arg_max
    # left them out. The number is turned into text here, not by CAST in SQL: DuckDB writes
    # 1.0 as '1.0' and PostgreSQL as '1', and Python's str() gives DuckDB's form.
    rows = db.rows(
        """SELECT message_id, name,
                  (array_agg(value_text ORDER BY created_at DESC, id DESC) FILTER (WHERE
                      value_text IS NOT NULL OR value_num IS NOT NULL))[1],
                  (array_agg(value_num ORDER BY created_at DESC, id DESC) FILTER (WHERE
                      value_text IS NOT NULL OR value_num IS NOT NULL))[1]
           FROM signals
           WHERE kind = 'feedback' AND user_id = ? AND message_id = ANY(?::VARCHAR[])
           GROUP BY message_id, name""",
        [user_id, message_ids],
    )
    out: dict[str, dict[str, Any]] = {}
    for message_id, name, text, number in rows:
        value = text if text is not None or number is None else str(float(number))
        out.setdefault(message_id, {})[name] = value
    return out
