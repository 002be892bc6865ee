"""The ``Migration`` record. Migration modules import only this (plus stdlib and duckdb), never
runtime code: a released migration must not change when the application does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released migration: add a new one."""

    version: int
    name: str
    statements: tuple[str, ...]
    # A data step too subtle for SQL, run after the statements in the same transaction. Like the
    # SQL, it is frozen: it uses nothing from runtime modules.
    backfill: Callable[[duckdb.DuckDBPyConnection], None] | None = None
