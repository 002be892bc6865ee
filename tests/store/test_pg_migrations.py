"""The PostgreSQL migrations are the DuckDB ones in PostgreSQL's words: one twin per version with
the same name; a new store gets the same tables, columns (in order), types, nullability,
defaults and keys as a new DuckDB file (plus the PostgreSQL-only extras listed here); and each
backfill turns the same old rows into the same new rows on both engines."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aeries.store import migrations as mig
from aeries.store.db import Database
from aeries.store.migrations import pg as pg_mig
from aeries.store.migrations.pg import PG_MIGRATIONS
from aeries.store.pg_server import PostgresServer
from aeries.store.postgres import to_dollar_params
from tests.pg import QmarkCursor, apply_migrations
from tests.store.helpers import Column, Key, schema_columns, schema_keys

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# information_schema's words for a type (data_type, or udt_name for arrays) -> DuckDB's.
PG_TYPES = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "double precision": "DOUBLE",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
    "_varchar": "VARCHAR[]",
    "_text": "VARCHAR[]",
}
# What PostgreSQL has and DuckDB has not, on purpose: (table, index, columns).
PG_ONLY_INDEXES = {("users", "users_name_key_unique", ("name_key",))}

Execute = Callable[[str, list[Any]], object]


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to a new, empty database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def _pg_execute(conn: psycopg.Connection[Any]) -> Execute:
    def execute(sql: str, params: list[Any]) -> object:
        with QmarkCursor(conn) as cur:
            return cur.execute(sql, params)

    return execute


def _pg_rows(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql).fetchall())


def _pg_columns(conn: psycopg.Connection[Any]) -> dict[str, list[Column]]:
    """schema_columns for PostgreSQL, in DuckDB's words (tests/store/helpers.py)."""
    tables: dict[str, list[Column]] = {}
    for table, column, kind, udt, nullable, default in _pg_rows(
        conn,
        """SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = current_schema()
           ORDER BY table_name, ordinal_position""",
    ):
        duck_kind = PG_TYPES.get(udt if kind == "ARRAY" else kind, f"unmapped {kind}/{udt}")
        if default is not None:  # PostgreSQL writes the cast it adds: 'x'::character varying
            default = re.sub(r"::(character varying|text)$", "", default)
        tables.setdefault(table, []).append((column, duck_kind, nullable == "YES", default))
    return tables


def _pg_keys(conn: psycopg.Connection[Any]) -> dict[str, list[Key]]:
    """schema_keys for PostgreSQL: each primary key and unique constraint, columns in order."""
    keys: dict[str, list[Key]] = {}
    for table, kind, columns in _pg_rows(
        conn,
        """SELECT tc.table_name, tc.constraint_type,
                  array_agg(k.column_name::text ORDER BY k.ordinal_position)
           FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage k
             ON k.constraint_schema = tc.constraint_schema
            AND k.constraint_name = tc.constraint_name
           WHERE tc.table_schema = current_schema()
             AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
           GROUP BY tc.table_name, tc.constraint_type, tc.constraint_name""",
    ):
        keys.setdefault(table, []).append((kind, tuple(columns)))
    return {table: sorted(found) for table, found in keys.items()}


def _duck_at(tmp_path: Path, version: int) -> Database:
    db = Database(tmp_path / f"v{version}.duckdb")
    mig.migrate(db, [m for m in mig.MIGRATIONS if m.version <= version])
    return db


def _pg_at(conn: psycopg.Connection[Any], version: int) -> None:
    assert apply_migrations(conn, [m for m in PG_MIGRATIONS if m.version <= version]) == list(
        range(1, version + 1)
    )


# -- one twin per migration ----------------------------------------------------------------


def _modules(package: Any, prefix: str) -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if re.fullmatch(rf"{prefix}\d{{3}}_\w+", info.name)
    )


def test_every_duckdb_migration_has_a_postgresql_twin() -> None:
    duck, pg = _modules(mig, "m"), _modules(pg_mig, "p")
    # m006_identity_and_durability <-> p006_identity_and_durability, none missing, none extra.
    assert [name[1:] for name in pg] == [name[1:] for name in duck]
    listed = [importlib.import_module(f"{pg_mig.__name__}.{name}").MIGRATION for name in pg]
    assert tuple(listed) == PG_MIGRATIONS  # every module listed, in order, none twice
    assert [(m.version, m.name) for m in PG_MIGRATIONS] == [
        (m.version, m.name) for m in mig.MIGRATIONS
    ]
    # A Python backfill on one side needs its twin on the other.
    assert [m.backfill is None for m in PG_MIGRATIONS] == [
        m.backfill is None for m in mig.MIGRATIONS
    ]


def test_qmark_placeholders_become_dollar_ones_outside_quotes_and_comments() -> None:
    sql = "SELECT ?, '?', \"a?\", $$?$$, $q$it's ?$q$ -- ?\n, ? /* ? */ FROM t WHERE x = ?"
    assert to_dollar_params(sql) == (
        "SELECT $1, '?', \"a?\", $$?$$, $q$it's ?$q$ -- ?\n, $2 /* ? */ FROM t WHERE x = $3"
    )
    assert to_dollar_params("UPDATE t SET a = 'it''s ?' WHERE b = ?") == (
        "UPDATE t SET a = 'it''s ?' WHERE b = $1"
    )


# -- the same schema -------------------------------------------------------------------------


def test_a_new_postgresql_store_has_the_duckdb_schema(
    pg: psycopg.Connection[Any], tmp_path: Path
) -> None:
    db = _duck_at(tmp_path, max(m.version for m in mig.MIGRATIONS))  # a new DuckDB file
    assert apply_migrations(pg) == [m.version for m in mig.MIGRATIONS]
    assert apply_migrations(pg) == []  # recorded: nothing runs twice
    ledger = _pg_rows(pg, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert ledger == db.rows("SELECT version, name FROM schema_migrations ORDER BY version")

    duck_columns, pg_columns = schema_columns(db), _pg_columns(pg)
    assert sorted(pg_columns) == sorted(duck_columns), "tables added or missing"
    for table, expected in duck_columns.items():
        # name, type, nullability and default of each column, in order
        assert pg_columns[table] == expected, f"the columns of {table} differ"
    assert _pg_keys(pg) == {table: sorted(keys) for table, keys in schema_keys(db).items()}
    db.close()


def test_a_new_postgresql_store_has_only_tables_and_the_listed_extra_indexes(
    pg: psycopg.Connection[Any],
) -> None:
    apply_migrations(pg)
    kinds = _pg_rows(
        pg,
        """SELECT DISTINCT table_type FROM information_schema.tables
           WHERE table_schema = current_schema()""",
    )
    assert kinds == [("BASE TABLE",)]  # no views
    assert (
        _pg_rows(pg, "SELECT sequence_name FROM information_schema.sequences") == []
    )  # nothing SERIAL
    # Every index backs a primary key or unique constraint, but those listed as PG-only.
    extra = {
        (table, index, tuple(columns))
        for table, index, columns in _pg_rows(
            pg,
            """SELECT t.relname, i.relname,
                      array_agg(a.attname::text ORDER BY array_position(x.indkey, a.attnum))
               FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
               WHERE n.nspname = current_schema()
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
               GROUP BY t.relname, i.relname""",
        )
    }
    assert extra == PG_ONLY_INDEXES


def test_postgresql_refuses_a_second_account_with_the_same_name_key(
    pg: psycopg.Connection[Any],
) -> None:
    apply_migrations(pg)
    insert = _pg_execute(pg)
    sql = "INSERT INTO users (id, name, name_key, created_at) VALUES (?, ?, ?, ?)"
    insert(sql, ["u1", "Ada", "ada", T0])
    insert(sql, ["u2", "Bob", None, T0])
    insert(sql, ["u3", "Cy", None, T0])  # NULL keys never collide
    with pytest.raises(psycopg.errors.UniqueViolation):
        insert(sql, ["u4", "ADA", "ada", T0])


# -- the same backfills ----------------------------------------------------------------------


def _log_before_migration_5(execute: Execute) -> None:
    """A log written at version 4 with every case migration 5's backfill tells apart."""
    for eid, user, persona, brief, ttft, minutes in (
        ("x", "u1", "p1", True, 120.0, 0),
        ("y", "u2", None, False, 340.0, 1),
        ("z", None, None, None, None, 2),
    ):
        execute(
            """INSERT INTO exchanges (id, user_id, source, model, persona_id, brief_enabled,
                   status, started_at, ttft_ms) VALUES (?, ?, 'chat', 'm', ?, ?, 'ok', ?, ?)""",
            [eid, user, persona, brief, T0 + timedelta(minutes=minutes), ttft],
        )
    signals: list[tuple[str | None, str, str, float | None, str | None, int]] = [
        ("x", "feedback", "thumbs", 0.0, None, 10),  # a changed mind, out of order:
        ("x", "feedback", "thumbs", 1.0, None, 30),  # the latest thumb wins
        ("x", "feedback", "thumbs", 0.0, None, 20),
        ("x", "observer", "satisfaction", 0.5, None, 5),
        ("x", "observer", "satisfaction", 0.75, None, 6),  # observed twice
        ("x", "observer", "sentiment", -0.5, None, 5),
        ("y", "observer", "sentiment", 0.25, None, 7),
        ("y", "feedback", "thumbs", None, None, 8),  # no value: not a score
        ("y", "feedback", "comment", None, "nice", 8),  # not a score
        ("z", "observer", "satisfaction", 0.1, None, 9),
        ("gone", "feedback", "thumbs", 1.0, None, 9),  # its exchange is not in the log
        ("x", "observer", "topic", None, "owls", 5),
        ("x", "observer", "preference", None, "verbosity=concise", 5),
        ("x", "observer", "intent", None, "question", 5),  # not a note
        ("y", "observer", "topic", None, None, 7),  # no text: not a note
        (None, "observer", "topic", None, "cats", 11),  # about no exchange: a note all the same
        ("gone", "observer", "preference", None, "tone=warm", 12),
        ("x", "heuristic", "answer_chars", 42.0, None, 5),
    ]
    for n, (about, kind, name, num, text, minutes) in enumerate(signals):
        execute(
            """INSERT INTO signals (id, user_id, exchange_id, kind, name, value_num, value_text,
                   created_at) VALUES (?, 'u1', ?, ?, ?, ?, ?, ?)""",
            [f"s{n:02d}", about, kind, name, num, text, T0 + timedelta(minutes=minutes)],
        )
    for n, (side_a, side_b) in enumerate((("x", "y"), ("y", "gone"), (None, None), ("z", "x"))):
        execute(
            """INSERT INTO preferences (id, kind, source, contestant_a, contestant_b, model_a,
                   model_b, exchange_a, exchange_b, winner, created_at)
               VALUES (?, 'explicit', 'arena', 'A', 'B', 'm', 'm', ?, ?, 'a', ?)""",
            [f"p{n}", side_a, side_b, T0],
        )


AFTER_5 = (
    """SELECT exchange_id, user_id, started_at, model, source, persona_id, brief_enabled,
              thumb, thumb_at, satisfaction_sum, satisfaction_n, sentiment_sum, sentiment_n
       FROM answer_scores ORDER BY exchange_id""",
    """SELECT signal_id, created_at, user_id, exchange_id, model, source, persona_id,
              brief_enabled, name, value FROM learned_notes ORDER BY signal_id""",
    "SELECT id, ttft_a_ms, ttft_b_ms FROM preferences ORDER BY id",
)


def test_migration_5_backfills_the_same_rows_on_both_engines(
    pg: psycopg.Connection[Any], tmp_path: Path
) -> None:
    duck = _duck_at(tmp_path, 4)
    _pg_at(pg, 4)
    _log_before_migration_5(duck.execute)
    _log_before_migration_5(_pg_execute(pg))
    assert mig.migrate(duck, [m for m in mig.MIGRATIONS if m.version <= 5]) == [5]
    assert apply_migrations(pg, [m for m in PG_MIGRATIONS if m.version <= 5]) == [5]
    for query in AFTER_5:
        assert _pg_rows(pg, query) == duck.rows(query), query
    scores = duck.rows(AFTER_5[0])
    assert len(scores) == 3 and len(duck.rows(AFTER_5[1])) == 4  # the cases, not nothing
    assert scores[0][7:] == (1.0, T0 + timedelta(minutes=30), 1.25, 2, -0.5, 1)
    duck.close()


def _accounts_before_migration_6(execute: Execute) -> None:
    """Users and personas at version 5 with every case migration 6 tells apart."""
    users = [
        ("0001aaaa-old", "Alice", 0),
        ("0002bbbb-new", "alice", 5),  # matches Alice once case-folded: a suffixed key
        ("0003cccc", "  Bob\u200b  Smith ", 1),  # a format character, spaces to collapse
        ("0004dddd", "\ufb01x", 2),  # the ligature fi: NFKC makes it 'fix'
        ("0005eeee", "researcher", 3),
        ("0006ffff", "Researcher", 4),  # the researcher's key is taken: legacy, suffixed
        ("0008hhhh", "Zoë", 6),  # same time as the next: the smaller id is older
        ("0007gggg", "zoë", 6),
    ]
    for user_id, name, minutes in users:
        execute(
            "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
            [user_id, name, T0 + timedelta(minutes=minutes)],
        )
    personas = [
        ("pa", True, "0001aaaa-old"),  # the default: shared
        ("pb", False, None),  # nobody's: shared
        ("pc", False, "0005eeee"),  # the researcher's: shared
        ("pd", False, "0003cccc"),  # a participant's: private
        ("pe", False, "0006ffff"),  # 'Researcher' is not the researcher: private
    ]
    for persona_id, is_default, created_by in personas:
        execute(
            """INSERT INTO personas (id, name, is_default, created_by, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [persona_id, persona_id.upper(), is_default, created_by, T0, T0],
        )


AFTER_6 = (
    "SELECT id, name, name_key, role, origin, link_epoch FROM users ORDER BY id",
    "SELECT id, visibility FROM personas ORDER BY id",
)


def test_migration_6_backfills_the_same_rows_on_both_engines(
    pg: psycopg.Connection[Any], tmp_path: Path
) -> None:
    duck = _duck_at(tmp_path, 5)
    _pg_at(pg, 5)
    _accounts_before_migration_6(duck.execute)
    _accounts_before_migration_6(_pg_execute(pg))
    assert mig.migrate(duck, [m for m in mig.MIGRATIONS if m.version <= 6]) == [6]
    assert apply_migrations(pg, [m for m in PG_MIGRATIONS if m.version <= 6]) == [6]
    for query in AFTER_6:
        assert _pg_rows(pg, query) == duck.rows(query), query
    keys = {row[0]: row[2:5] for row in duck.rows(AFTER_6[0])}
    assert keys["0002bbbb-new"] == ("alice#0002bbbb", "participant", "legacy")
    assert keys["0003cccc"][0] == "bob smith"
    assert keys["0004dddd"][0] == "fix"
    assert keys["0005eeee"] == ("researcher", "participant", "researcher")
    assert keys["0006ffff"] == ("researcher#0006ffff", "participant", "legacy")
    assert keys["0007gggg"][0] == "zoë" and keys["0008hhhh"][0] == "zoë#0008hhhh"
    assert dict(duck.rows(AFTER_6[1])) == {
        "pa": "shared",
        "pb": "shared",
        "pc": "shared",
        "pd": "private",
        "pe": "private",
    }
    duck.close()


def test_pg_migrated_url_gives_each_test_a_migrated_database_of_its_own(
    pg_migrated_url: str, pg_server: PostgresServer, pg_migrated_template: str
) -> None:
    with psycopg.connect(pg_migrated_url, autocommit=True) as conn:
        versions = _pg_rows(conn, "SELECT version FROM schema_migrations ORDER BY version")
        assert [v for (v,) in versions] == [m.version for m in PG_MIGRATIONS]
        _pg_execute(conn)(
            "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)", ["u1", "Ada", T0]
        )
    with psycopg.connect(pg_server.url(pg_migrated_template)) as template:
        assert _pg_rows(template, "SELECT count(*) FROM users") == [(0,)]  # a copy, not it


def test_the_store_runner_and_the_tests_runner_make_the_same_store(
    pg: psycopg.Connection[Any], pg_migrated_url: str
) -> None:
    # pg_migrated_url's template went through migrate(Database(url)); pg through apply_migrations.
    apply_migrations(pg)
    with psycopg.connect(pg_migrated_url) as app:
        assert _pg_columns(app) == _pg_columns(pg)
        assert _pg_keys(app) == _pg_keys(pg)
        ledger = "SELECT version, name FROM schema_migrations ORDER BY version"
        assert _pg_rows(app, ledger) == _pg_rows(pg, ledger)
        indexes = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"
        assert sorted(_pg_rows(app, indexes)) == sorted(_pg_rows(pg, indexes))
