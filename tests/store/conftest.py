"""Fixtures of the store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aeries.store import migrations as mig
from aeries.store.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A temporary database migrated to the newest schema."""
    database = Database(tmp_path / "t.duckdb")
    mig.migrate(database)
    yield database
    database.close()
