"""Migration 5: answer_scores and learned_notes for analytics; each side's TTFT on preferences.

Released: frozen. Its SQL is a literal here; it imports nothing from runtime code. The backfill
statements are this migration's own copy: ``aeries.store.facts.rebuild_facts`` has its own (it
may change with the schema; this must not). tests/store/test_migrations.py checks the two agree.
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
            thumb DOUBLE,
            thumb_at TIMESTAMPTZ,
            satisfaction_sum DOUBLE NOT NULL DEFAULT 0,
            satisfaction_n INTEGER NOT NULL DEFAULT 0,
            sentiment_sum DOUBLE NOT NULL DEFAULT 0,
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
        "ALTER TABLE preferences ADD COLUMN ttft_a_ms DOUBLE",
        "ALTER TABLE preferences ADD COLUMN ttft_b_ms DOUBLE",
        # Fill both tables from the signals and exchanges already logged.
        """INSERT INTO answer_scores
    SELECT e.id, any_value(e.user_id), any_value(e.started_at), any_value(e.model),
           any_value(e.source), any_value(e.persona_id), any_value(e.brief_enabled),
           arg_max(s.value_num, s.created_at) FILTER (WHERE s.name = 'thumbs'),
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
    ORDER BY any_value(e.started_at)""",
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
