"""answer_scores and learned_notes: what analytics reads instead of scanning every signal.

Both tables copy the exchange a signal is about (time, model, source, persona, brief, user), so
the feedback section filters and buckets them without joining millions of signals with
exchanges. They are kept in the same write batch as each signal (``fact_ops``), from the
``AnswerContext`` the writer already holds in memory, and can be recomputed from signals and
exchanges (``rebuild_facts``: after bulk imports, and in tests to prove the two agree).

- ``answer_scores``: one row per answer with a thumb or an observer score. ``thumb`` is the
  latest thumb (a changed mind replaces it); satisfaction and sentiment are kept as sum and
  count, so an answer observed twice averages its notes.
- ``learned_notes``: one row per preference or topic the observer noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aeries.messages import Message
from aeries.store.db import Database
from aeries.store.writer import Execute, Insert, Op

SCORED = {("feedback", "thumbs"), ("observer", "satisfaction"), ("observer", "sentiment")}
NOTED = {("observer", "preference"), ("observer", "topic")}

_UPSERT_SCORE = """INSERT INTO answer_scores (exchange_id, user_id, started_at, model, source,
    persona_id, brief_enabled, thumb, thumb_at, satisfaction_sum, satisfaction_n,
    sentiment_sum, sentiment_n)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (exchange_id) DO UPDATE SET
    thumb = CASE WHEN excluded.thumb_at >= coalesce(answer_scores.thumb_at, excluded.thumb_at)
                 THEN excluded.thumb ELSE answer_scores.thumb END,
    thumb_at = greatest(answer_scores.thumb_at, excluded.thumb_at),
    satisfaction_sum = answer_scores.satisfaction_sum + excluded.satisfaction_sum,
    satisfaction_n = answer_scores.satisfaction_n + excluded.satisfaction_n,
    sentiment_sum = answer_scores.sentiment_sum + excluded.sentiment_sum,
    sentiment_n = answer_scores.sentiment_n + excluded.sentiment_n"""


# Recompute both tables from the log (they must be empty first), and fill in each side's TTFT on
# preferences that lack it. Migration 5 has its own frozen copy of this for the logs written
# before it; tests/store/test_migrations.py checks the two agree on the same log.
#
# The SQL runs unchanged on DuckDB and PostgreSQL. exchanges has no primary key, so PostgreSQL
# cannot know its columns depend on e.id: each is aggregated (they are equal within a group).
# min() stands for DuckDB's any_value, and bool_and() for booleans, which PostgreSQL's min()
# does not take. The latest thumb is the first of the thumbs ordered newest first (DuckDB's
# arg_max exists only there); WHERE has dropped NULL values, as arg_max would, and a tie on
# created_at goes to the later id (UUIDv7), the one the incremental upsert would keep.
_REBUILD = (
    """INSERT INTO answer_scores (exchange_id, user_id, started_at, model, source, persona_id,
        brief_enabled, thumb, thumb_at, satisfaction_sum, satisfaction_n, sentiment_sum,
        sentiment_n)
    SELECT e.id, min(e.user_id), min(e.started_at), min(e.model), min(e.source),
           min(e.persona_id), bool_and(e.brief_enabled),
           (array_agg(s.value_num ORDER BY s.created_at DESC, s.id DESC)
               FILTER (WHERE s.name = 'thumbs'))[1],
           max(s.created_at) FILTER (WHERE s.name = 'thumbs'),
           coalesce(sum(s.value_num) FILTER (WHERE s.name = 'satisfaction'), 0),
           count(*) FILTER (WHERE s.name = 'satisfaction'),
           coalesce(sum(s.value_num) FILTER (WHERE s.name = 'sentiment'), 0),
           count(*) FILTER (WHERE s.name = 'sentiment')
    FROM signals s
    JOIN exchanges e ON e.id = s.exchange_id
    WHERE s.value_num IS NOT NULL
      AND ((s.kind = 'feedback' AND s.name = 'thumbs')
           OR (s.kind = 'observer' AND s.name IN ('satisfaction', 'sentiment')))
    GROUP BY e.id
    ORDER BY min(e.started_at)""",
    """INSERT INTO learned_notes (signal_id, created_at, user_id, exchange_id, model, source,
        persona_id, brief_enabled, name, value)
    SELECT s.id, s.created_at, s.user_id, s.exchange_id, e.model, e.source, e.persona_id,
           e.brief_enabled, s.name, s.value_text
    FROM signals s
    LEFT JOIN exchanges e ON e.id = s.exchange_id
    WHERE s.kind = 'observer' AND s.name IN ('preference', 'topic') AND s.value_text IS NOT NULL
    ORDER BY s.created_at""",
    """UPDATE preferences p SET ttft_a_ms = x.ttft_ms
    FROM exchanges x WHERE x.id = p.exchange_a AND p.ttft_a_ms IS NULL""",
    """UPDATE preferences p SET ttft_b_ms = x.ttft_ms
    FROM exchanges x WHERE x.id = p.exchange_b AND p.ttft_b_ms IS NULL""",
)


@dataclass(frozen=True)
class AnswerContext:
    """The exchange a signal is about, as analytics filters and buckets it."""

    exchange_id: str
    user_id: str | None
    started_at: datetime
    model: str
    source: str
    persona_id: str | None = None
    brief_enabled: bool | None = None


def message_context(user_id: str, message: Message) -> AnswerContext | None:
    """The context of a chat answer, from the exchange details in its ``meta`` (None when
    the answer has no logged exchange)."""
    started_at, model = message.meta.get("started_at"), message.meta.get("model")
    if message.exchange_id is None or started_at is None or model is None:
        return None
    return AnswerContext(
        exchange_id=message.exchange_id,
        user_id=user_id,
        started_at=started_at,
        model=model,
        source="chat",
        persona_id=message.meta.get("persona_id"),
        brief_enabled=message.meta.get("brief_enabled"),
    )


def fact_ops(row: dict[str, Any], about: AnswerContext | None) -> list[Op]:
    """Writes keeping answer_scores and learned_notes in step with a new signal row."""
    key = (row.get("kind"), row.get("name"))
    if about is None or about.exchange_id != row.get("exchange_id"):
        return []
    if key in SCORED and row.get("value_num") is not None:
        return [_score(row, about)]
    if key in NOTED and row.get("value_text"):
        return [_note(row, about)]
    return []


def _score(row: dict[str, Any], about: AnswerContext) -> Op:
    value, name = float(row["value_num"]), row["name"]
    thumb = (value, row["created_at"]) if name == "thumbs" else (None, None)
    sums = [(value, 1) if name == metric else (0.0, 0) for metric in ("satisfaction", "sentiment")]
    context = [
        about.exchange_id,
        about.user_id,
        about.started_at,
        about.model,
        about.source,
        about.persona_id,
        about.brief_enabled,
    ]
    return Execute(_UPSERT_SCORE, [*context, *thumb, *sums[0], *sums[1]])


def _note(row: dict[str, Any], about: AnswerContext) -> Op:
    return Insert(
        "learned_notes",
        {
            "signal_id": row["id"],
            "created_at": row["created_at"],
            "user_id": row.get("user_id"),
            "exchange_id": about.exchange_id,
            "model": about.model,
            "source": about.source,
            "persona_id": about.persona_id,
            "brief_enabled": about.brief_enabled,
            "name": row["name"],
            "value": row["value_text"],
        },
    )


def rebuild_facts(db: Database) -> None:
    """Recompute answer_scores and learned_notes from signals and exchanges, and fill in each
    side's TTFT on preferences that lack it."""
    with db.transaction() as cur:
        cur.execute("DELETE FROM answer_scores")
        cur.execute("DELETE FROM learned_notes")
        for sql in _REBUILD:
            cur.execute(sql)
