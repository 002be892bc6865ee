"""Ordered schema migrations, each applied once and recorded in ``schema_migrations``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aeries.ids import utcnow
from aeries.store.db import Database


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released migration: add a new one."""

    version: int
    name: str
    statements: tuple[str, ...]


CORE_TABLES = Migration(
    1,
    "core tables: users, conversations, messages, exchanges, signals",
    (
        """CREATE TABLE users (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE conversations (
            id VARCHAR PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            persona_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            last_message_at TIMESTAMPTZ,
            message_count INTEGER NOT NULL DEFAULT 0,
            current_leaf_id VARCHAR,
            archived BOOLEAN NOT NULL DEFAULT false,
            deleted BOOLEAN NOT NULL DEFAULT false,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE messages (
            id VARCHAR NOT NULL,
            conversation_id VARCHAR NOT NULL,
            parent_id VARCHAR,
            role VARCHAR NOT NULL,
            content VARCHAR NOT NULL,
            reasoning VARCHAR,
            status VARCHAR,
            exchange_id VARCHAR,
            origin VARCHAR NOT NULL DEFAULT 'new',
            origin_message_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            edited_at TIMESTAMPTZ
        )""",
        """CREATE TABLE exchanges (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            message_id VARCHAR,
            source VARCHAR NOT NULL,
            endpoint VARCHAR,
            model VARCHAR NOT NULL,
            persona_id VARCHAR,
            brief_enabled BOOLEAN,
            params JSON,
            request_messages JSON,
            response_text VARCHAR,
            reasoning_text VARCHAR,
            status VARCHAR NOT NULL,
            error VARCHAR,
            error_kind VARCHAR,
            finish_reason VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            ttft_ms DOUBLE,
            e2e_ms DOUBLE,
            tpot_ms DOUBLE,
            itl_mean_ms DOUBLE,
            itl_p50_ms DOUBLE,
            itl_p95_ms DOUBLE,
            itl_max_ms DOUBLE,
            chunk_count INTEGER,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE signals (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            exchange_id VARCHAR,
            message_id VARCHAR,
            kind VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value_num DOUBLE,
            value_text VARCHAR,
            extractor VARCHAR,
            extractor_version VARCHAR,
            prompt_hash VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
    ),
)

PERSONAS_AND_EVENTS = Migration(
    2,
    "personas, per-conversation brief switch, conversation events",
    (
        """CREATE TABLE personas (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            system_prompt VARCHAR NOT NULL DEFAULT '',
            model VARCHAR,
            temperature DOUBLE NOT NULL DEFAULT 0.7,
            top_p DOUBLE NOT NULL DEFAULT 1.0,
            max_tokens INTEGER,
            thinking BOOLEAN NOT NULL DEFAULT true,
            is_default BOOLEAN NOT NULL DEFAULT false,
            created_by VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT false,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        "ALTER TABLE conversations ADD COLUMN brief_enabled BOOLEAN NOT NULL DEFAULT true",
        """CREATE TABLE events (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            kind VARCHAR NOT NULL,
            payload JSON,
            created_at TIMESTAMPTZ NOT NULL
        )""",
    ),
)

ARENA = Migration(
    3,
    "arena: battles, their sides, votes, and pairwise preferences (explicit and implicit)",
    (
        """CREATE TABLE battles (
            id VARCHAR PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            parent_battle_id VARCHAR,
            prompt VARCHAR NOT NULL,
            blind BOOLEAN NOT NULL DEFAULT true,
            contestant_count INTEGER NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE battle_sides (
            battle_id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            contestant VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            persona_id VARCHAR,
            params JSON,
            exchange_id VARCHAR,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE votes (
            id VARCHAR PRIMARY KEY,
            battle_id VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            best_position INTEGER,
            reasons VARCHAR[],
            comment VARCHAR,
            ms_to_vote DOUBLE,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE preferences (
            id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            user_id VARCHAR,
            battle_id VARCHAR,
            vote_id VARCHAR,
            conversation_id VARCHAR,
            contestant_a VARCHAR NOT NULL,
            contestant_b VARCHAR NOT NULL,
            model_a VARCHAR NOT NULL,
            model_b VARCHAR NOT NULL,
            exchange_a VARCHAR,
            exchange_b VARCHAR,
            position_a INTEGER,
            position_b INTEGER,
            winner VARCHAR NOT NULL,
            weight DOUBLE NOT NULL DEFAULT 1.0,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
    ),
)

PROFILE = Migration(
    4,
    "profile_stats: incrementally maintained, recency-weighted aggregates behind the brief",
    (
        # score = sum of weight * exp((t - epoch) / tau) over the user's signals for this value;
        # the decayed weight at time T is score * exp(-(T - epoch) / tau). Kept by addition, so
        # the brief reads a few rows instead of scanning every signal of the user.
        """CREATE TABLE profile_stats (
            user_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            n INTEGER NOT NULL,
            first_at TIMESTAMPTZ NOT NULL,
            last_at TIMESTAMPTZ NOT NULL,
            reset_at TIMESTAMPTZ,
            PRIMARY KEY (user_id, name, value)
        )""",
    ),
)

# Fill the derived analytics tables from signals and exchanges. Part of migration 5 (existing
# logs) and of aeries.store.facts.rebuild_facts (bulk imports, tests); both tables must be empty.
FACTS_BACKFILL = (
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
)
# Each side's time to first token on its preference row (rows that have none yet).
PREFERENCE_TTFT_BACKFILL = tuple(
    f"""UPDATE preferences p SET ttft_{side}_ms = x.ttft_ms
    FROM exchanges x WHERE x.id = p.exchange_{side} AND p.ttft_{side}_ms IS NULL"""
    for side in ("a", "b")
)

ANALYTICS_FACTS = Migration(
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
        *FACTS_BACKFILL,
        *PREFERENCE_TTFT_BACKFILL,
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    CORE_TABLES,
    PERSONAS_AND_EVENTS,
    ARENA,
    PROFILE,
    ANALYTICS_FACTS,
)

_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""


def applied_versions(db: Database) -> list[int]:
    """Versions already recorded, ascending."""
    db.execute(_LEDGER)
    return [row[0] for row in db.rows("SELECT version FROM schema_migrations ORDER BY version")]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every pending migration in order, each in its own transaction; return those applied."""
    done = set(applied_versions(db))
    newly: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        with db.transaction() as cur:
            for statement in migration.statements:
                cur.execute(statement)
            cur.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, utcnow()],
            )
        newly.append(migration.version)
    return newly
