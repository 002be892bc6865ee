"""Fixtures of the annotation tests: the store ones run on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aeries.store.db import Database
from tests.store.conftest import ENGINES, open_engine


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A temporary store migrated to the newest schema, on each engine in turn."""
    database = open_engine(request.param, request, tmp_path)
    yield database
    database.close()
