"""PostgreSQL fixtures, for every test (tests/conftest.py imports them).

- ``pg_server``: one temporary cluster for the whole run, started the first time a test asks.
- ``pg_url``: a new empty database per test (dropped after it).
- ``pg_migrated_url``: a new database per test with the PostgreSQL migrations applied: a copy
  of a template migrated once per run (a copy takes about 70 ms, migrating about 10 times that).

Without PostgreSQL's server programs these fixtures fail, never skip: CI must run the tests
(scripts/test.sh installs them).

The template is migrated by the store's own runner (``migrate(Database(url))``), as the app
migrates a ``postgresql://`` store. ``apply_migrations`` is a runner of the tests' own, on plain
psycopg (through ``QmarkCursor``, which takes the ``?`` placeholders Aeries writes): the
migration tests use it to stop at any version without the store's code in the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from aeries.store.migrations.base import Migration
from aeries.store.migrations.pg import PG_MIGRATIONS
from aeries.store.pg_server import PostgresNotFound, PostgresServer, PostgresServerError
from aeries.store.postgres import to_dollar_params

if TYPE_CHECKING:  # psycopg is loaded by the first PostgreSQL test, not by every test run
    import psycopg

MIGRATED_TEMPLATE = "aeries_migrated_template"


class QmarkCursor:
    """A psycopg cursor taking DuckDB-style ``?`` placeholders, as a migration's backfill uses
    them; ``execute`` returns the cursor, so ``cur.execute(...).fetchall()`` reads as in DuckDB."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        self._cur = psycopg.RawCursor(conn)

    def execute(self, query: str, params: Sequence[Any] | None = None) -> QmarkCursor:
        self._cur.execute(to_dollar_params(query), params)
        return self

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def close(self) -> None:
        self._cur.close()

    def __enter__(self) -> QmarkCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""


def apply_migrations(
    conn: psycopg.Connection[Any], migrations: Sequence[Migration] = PG_MIGRATIONS
) -> list[int]:
    """Apply the migrations not yet recorded, in order, each in its own transaction (its
    statements, then its backfill, then its ledger row), as the DuckDB runner does. ``conn``
    must be in autocommit mode, so each ``transaction()`` is a real BEGIN … COMMIT."""
    if not conn.autocommit:
        raise ValueError("apply_migrations needs an autocommit connection")
    with conn.transaction():
        conn.execute(LEDGER)
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    newly: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        with conn.transaction(), QmarkCursor(conn) as cur:
            for statement in migration.statements:
                cur.execute(statement)
            if migration.backfill is not None:
                migration.backfill(cur)
            cur.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, datetime.now(UTC)],
            )
        newly.append(migration.version)
    return newly


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One temporary PostgreSQL cluster for the test run (fsync off: nothing in it must
    outlive the run)."""
    context = PostgresServer.temporary(fsync=False)
    try:
        server = context.__enter__()
    except PostgresNotFound as exc:
        problem = f"These tests need a PostgreSQL server. {exc}"
    except PostgresServerError as exc:
        problem = f"The test PostgreSQL server did not start. {exc}"
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)  # outside the except: no traceback chain
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


def _fresh_database(server: PostgresServer, template: str | None = None) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name, template=template)
    try:
        yield url
    finally:
        server.drop_database(name)  # cuts connections a test left open


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database of the session's cluster."""
    yield from _fresh_database(pg_server)


@pytest.fixture(scope="session")
def pg_migrated_template(pg_server: PostgresServer) -> str:
    """The name of a database migrated to the newest PostgreSQL schema, to copy from."""
    from aeries.store.db import Database
    from aeries.store.migrations import migrate

    db = Database(pg_server.create_database(MIGRATED_TEMPLATE))
    try:
        migrate(db)
    finally:
        db.close()  # CREATE DATABASE … TEMPLATE refuses a template with connections open
    return MIGRATED_TEMPLATE


@pytest.fixture
def pg_migrated_url(pg_server: PostgresServer, pg_migrated_template: str) -> Iterator[str]:
    """The URL of a new database already migrated with the PostgreSQL migrations."""
    yield from _fresh_database(pg_server, template=pg_migrated_template)
