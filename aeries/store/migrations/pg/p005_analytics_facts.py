"""Migration 5: answer_scores and learned_notes for analytics; each side's TTFT on preferences.

The PostgreSQL twin of ``m005``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION), and the same backfill written without DuckDB's aggregates:
``any_value(e.x)`` is ``min(e.x)``, and ``bool_and`` for the boolean (the group is one exchange,
so its rows agree, and both skip NULLs as ``any_value`` does); ``arg_max(v, t)`` is the first of
``array_agg(v ORDER BY t DESC)``. Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    5,
    "answer_scores and learned_notes for analytics; each side's TTFT on preferences",
    (
        # One row per answer that has a thumb or an observer score, with the exchange's
        # filters and time on it: the signal summary reads this instead of joining millions
        # of signals with exchanges. Kept in the write batch of each signal.
        """CREATE TABLE answer_scores (
            exchange_id VARCHAR PRIMARY KEY,
            user_id VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            model VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            persona_id VARCHAR,
            brief_enabled BOOLEAN,
            thumb DOUBLE PRECISION,
            thumb_at TIMESTAMPTZ,
            satisfaction_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            satisfaction_n INTEGER NOT NULL DEFAULT 0,
            sentiment_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            sentiment_n INTEGER NOT NULL DEFAULT 0
        )""",
        # One row per preference or topic the observer noted, with its exchange's filters.
        """CREATE TABLE learned_notes (
            signal_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            user_id VARCHAR,
            exchange_id VARCHAR,
            model VARCHAR,
            source VARCHAR,
            persona_id VARCHAR,
            brief_enabled BOOLEAN,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL
        )""",
        "ALTER TABLE preferences ADD COLUMN ttft_a_ms DOUBLE PRECISION",
        "ALTER TABLE preferences ADD COLUMN ttft_b_ms DOUBLE PRECISION",
        # Fill both tables from the signals and exchanges already logged. PostgreSQL has no
        # min(boolean): bool_and over one exchange's identical values is the same value.
        """INSERT INTO answer_scores
    SELECT e.id, min(e.user_id), min(e.started_at), min(e.model),
           min(e.source), min(e.persona_id), bool_and(e.brief_enabled),
           (array_agg(s.value_num ORDER BY s.created_at DESC)
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
        """INSERT INTO learned_notes
    SELECT s.id, s.created_at, s.user_id, s.exchange_id, e.model, e.source, e.persona_id,
           e.brief_enabled, s.name, s.value_text
    FROM signals s
    LEFT JOIN exchanges e ON e.id = s.exchange_id
    WHERE s.kind = 'observer' AND s.name IN ('preference', 'topic') AND s.value_text IS NOT NULL
    ORDER BY s.created_at""",
        # Each side's time to first token on its preference row (rows that have none yet).
        """UPDATE preferences p SET ttft_a_ms = x.ttft_ms
    FROM exchanges x WHERE x.id = p.exchange_a AND p.ttft_a_ms IS NULL""",
        """UPDATE preferences p SET ttft_b_ms = x.ttft_ms
    FROM exchanges x WHERE x.id = p.exchange_b AND p.ttft_b_ms IS NULL""",
    ),
)
