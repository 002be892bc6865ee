"""The ``Migration`` record. Migration modules import only this (plus stdlib and duckdb), never
runtime code: a released migration must not change when the application does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released migration: add a new one."""

    version: int
    name: str
    statements: tuple[str, ...]
    # A data step too subtle for SQL, run after the statements in the same transaction. Like the
    # SQL, it is frozen: it uses nothing from runtime modules. It gets the transaction's cursor
    # (DuckDB's, or the PostgreSQL store's, which takes the same ``?`` SQL).
    backfill: Callable[[Any], None] | None = None
