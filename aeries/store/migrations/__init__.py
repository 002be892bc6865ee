"""Ordered schema migrations, each applied once and recorded in ``schema_migrations``.

One module per migration (``m001_core_tables`` … ``m009_annotation``), each
holding its SQL as literals and importing only ``Migration`` from ``base`` (plus the standard
library and duckdb): a released migration is frozen, and editing runtime code never edits it.
To change the schema, add the next module and list it in ``MIGRATIONS``; then regenerate
docs/schema.md with ``cog -r docs/schema.md``. This package's ``__init__`` is the runner.
"""

from __future__ import annotations

from collections.abc import Sequence

from aeries.ids import utcnow
from aeries.store.db import Database, DatabaseError
from aeries.store.migrations.base import Migration
from aeries.store.migrations.m001_core_tables import MIGRATION as CORE_TABLES
from aeries.store.migrations.m002_personas_and_events import MIGRATION as PERSONAS_AND_EVENTS
from aeries.store.migrations.m003_arena import MIGRATION as ARENA
from aeries.store.migrations.m004_profile import MIGRATION as PROFILE
from aeries.store.migrations.m005_analytics_facts import MIGRATION as ANALYTICS_FACTS
from aeries.store.migrations.m006_identity_and_durability import (
    MIGRATION as IDENTITY_AND_DURABILITY,
)
from aeries.store.migrations.m007_server_metrics import MIGRATION as SERVER_METRICS
from aeries.store.migrations.m008_studies import MIGRATION as STUDIES
from aeries.store.migrations.m009_annotation import MIGRATION as ANNOTATION

__all__ = [
    "ANALYTICS_FACTS",
    "ANNOTATION",
    "ARENA",
    "CORE_TABLES",
    "IDENTITY_AND_DURABILITY",
    "MIGRATIONS",
    "PERSONAS_AND_EVENTS",
    "PROFILE",
    "SERVER_METRICS",
    "STUDIES",
    "Migration",
    "NotAeriesDatabase",
    "applied_versions",
    "migrate",
    "migrations_for",
]

MIGRATIONS: tuple[Migration, ...] = (
    CORE_TABLES,
    PERSONAS_AND_EVENTS,
    ARENA,
    PROFILE,
    ANALYTICS_FACTS,
    IDENTITY_AND_DURABILITY,
    SERVER_METRICS,
    STUDIES,
    ANNOTATION,
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
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    if tables and "schema_migrations" not in tables:
        listed = ", ".join(sorted(tables)[:8])
        raise NotAeriesDatabase(
            f"The database {db.label} was not made by Aeries (it has the tables {listed}, and "
            "no schema_migrations). Point AERIES_DB at a new file, or at an Aeries database."
        )
    if "schema_migrations" in tables:
        newest = db.one("SELECT max(version) FROM schema_migrations")
        known = max(m.version for m in migrations)
        if newest and newest[0] is not None and newest[0] > known:
            raise NotAeriesDatabase(
                f"The database {db.label} was upgraded by a newer Aeries (schema version "
                f"{newest[0]}; this one knows up to {known}). Use the newer Aeries with it."
            )


def migrations_for(db: Database) -> tuple[Migration, ...]:
    """The migration set of the store's engine (the same versions and names in each)."""
    if db.dialect == "postgres":
        from aeries.store.migrations.pg import PG_MIGRATIONS

        return PG_MIGRATIONS
    return MIGRATIONS


def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply every pending migration in order, each in its own transaction; return those
    applied. Processes starting together on a shared store take turns (the first migrates)."""
    with db.lock("migrate"):
        return _migrate(db, migrations_for(db) if migrations is None else migrations)


def _migrate(db: Database, migrations: Sequence[Migration]) -> list[int]:
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
