"""Ordered schema migrations, each applied once and recorded in ``schema_migrations``."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from aeries.ids import utcnow
from aeries.store.db import Database, DatabaseError


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released migration: add a new one."""

    version: int
    name: str
    statements: tuple[str, ...]
    # A data step too subtle for SQL, run after the statements in the same transaction. Like the
    # SQL, it is frozen: it uses nothing from runtime modules.
    backfill: Callable[[duckdb.DuckDBPyConnection], None] | None = None


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


def _backfill_name_keys(cur: duckdb.DuckDBPyConnection) -> None:
    """Give every existing user the key names are matched by (NFKC, no invisible characters,
    case-folded). Where two old names now match (``Alice`` and ``alice``), the older account
    keeps the key and the newer one gets ``<key>#<id prefix>``: both keep their rows, and
    neither can be reached by typing a name (only by a link a researcher makes)."""

    def key(name: str) -> str:
        text = unicodedata.normalize("NFKC", name)
        text = "".join(
            c if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn") else " "
            for c in text
        )
        return unicodedata.normalize("NFKC", " ".join(text.split()).casefold())

    rows = cur.execute("SELECT id, name FROM users ORDER BY created_at, id").fetchall()
    taken: set[str] = set()
    for user_id, name in rows:
        k = key(name)
        if k in taken:
            k = f"{k}#{user_id[:8]}"
        taken.add(k)
        origin = "researcher" if k == "researcher" else "legacy"
        cur.execute("UPDATE users SET name_key = ?, origin = ? WHERE id = ?", [k, origin, user_id])


IDENTITY_AND_DURABILITY = Migration(
    6,
    "users' name keys, roles and link epochs; persona visibility; in-flight answers; "
    "the ledger of spill files already applied",
    (
        # name_key: how names are matched (unique, enforced by aeries.store.users). role: a
        # role a researcher granted ('participant' or 'annotator'; researchers are known by
        # their sign-in, never by a stored role). origin: how the account came to be.
        # link_epoch: raising it revokes the account's earlier personal links.
        "ALTER TABLE users ADD COLUMN name_key VARCHAR",
        "ALTER TABLE users ADD COLUMN role VARCHAR NOT NULL DEFAULT 'participant'",
        "ALTER TABLE users ADD COLUMN origin VARCHAR NOT NULL DEFAULT 'legacy'",
        "ALTER TABLE users ADD COLUMN link_epoch INTEGER NOT NULL DEFAULT 0",
        # Personas are owned by created_by; 'shared' ones are offered to everyone and only
        # researchers change them, 'private' ones are their owner's alone. Until now every
        # persona was global: the default and the researcher's stay shared, the rest become
        # their creator's.
        "ALTER TABLE personas ADD COLUMN visibility VARCHAR NOT NULL DEFAULT 'private'",
        """UPDATE personas SET visibility = 'shared'
        WHERE is_default OR created_by IS NULL
           OR created_by IN (SELECT id FROM users WHERE name = 'researcher')""",
        # An answer being streamed, from its first token until it ends; what is left here after
        # a crash is filed as an 'interrupted' exchange on the next start.
        """CREATE TABLE inflight (
            exchange_id VARCHAR PRIMARY KEY,
            user_id VARCHAR,
            conversation_id VARCHAR,
            exchange JSON NOT NULL,
            message JSON,
            response_text VARCHAR NOT NULL DEFAULT '',
            reasoning_text VARCHAR,
            ttft_ms DOUBLE,
            e2e_ms DOUBLE,
            chunk_count INTEGER,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        # Spill files (rows the writer kept on disk while the database could not take them)
        # already written back, so a crash between writing one back and deleting it never
        # writes it twice.
        """CREATE TABLE applied_spills (
            id VARCHAR PRIMARY KEY,
            ops INTEGER NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL
        )""",
    ),
    backfill=_backfill_name_keys,
)

MIGRATIONS: tuple[Migration, ...] = (
    CORE_TABLES,
    PERSONAS_AND_EVENTS,
    ARENA,
    PROFILE,
    ANALYTICS_FACTS,
    IDENTITY_AND_DURABILITY,
)


class NotAeriesDatabase(DatabaseError):
    """The file is a DuckDB database, but not one Aeries made (or one from a newer Aeries)."""


_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""


def applied_versions(db: Database) -> list[int]:
    """Versions already recorded, ascending."""
    db.execute(_LEDGER)
    return [row[0] for row in db.rows("SELECT version FROM schema_migrations ORDER BY version")]


def _check_is_ours(db: Database, migrations: Sequence[Migration]) -> None:
    """Refuse a database another program made, and one a newer Aeries has migrated."""
    tables = {
        row[0]
        for row in db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
    }
    if tables and "schema_migrations" not in tables:
        listed = ", ".join(sorted(tables)[:8])
        raise NotAeriesDatabase(
            f"The database {db.path} was not made by Aeries (it has the tables {listed}, and "
            "no schema_migrations). Point AERIES_DB at a new file, or at an Aeries database."
        )
    if "schema_migrations" in tables:
        newest = db.one("SELECT max(version) FROM schema_migrations")
        known = max(m.version for m in migrations)
        if newest and newest[0] is not None and newest[0] > known:
            raise NotAeriesDatabase(
                f"The database {db.path} was upgraded by a newer Aeries (schema version "
                f"{newest[0]}; this one knows up to {known}). Use the newer Aeries with it."
            )


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every pending migration in order, each in its own transaction; return those applied."""
    _check_is_ours(db, migrations)
    done = set(applied_versions(db))
    newly: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        with db.transaction() as cur:
            for statement in migration.statements:
                cur.execute(statement)
            if migration.backfill is not None:
                migration.backfill(cur)
            cur.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, utcnow()],
            )
        newly.append(migration.version)
    return newly
