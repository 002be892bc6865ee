"""Fixtures of the store tests: every test that takes ``db`` runs on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aeries.store import migrations as mig
from aeries.store.db import Database

ENGINES = ("duckdb", "postgres")


def open_engine(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A store on ``engine`` migrated to the newest schema: a DuckDB file in tmp_path, or a
    fresh PostgreSQL database copied from the migrated template."""
    if engine == "postgres":
        url: str = request.getfixturevalue("pg_migrated_url")
        return Database(url, local_base=tmp_path / "pg")
    database = Database(tmp_path / "t.duckdb")
    mig.migrate(database)
    return database


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A temporary store migrated to the newest schema, on each engine in turn."""
    database = open_engine(request.param, request, tmp_path)
    yield database
    database.close()


@pytest.fixture
def duck_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated DuckDB store only (for tests of DuckDB's own catalog)."""
    database = Database(tmp_path / "t.duckdb")
    mig.migrate(database)
    yield database
    database.close()
