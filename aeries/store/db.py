"""The store's one interface, over two engines: an embedded DuckDB file (the default: one
process) or a shared PostgreSQL database (several app processes).

``Database(target)`` opens the engine the target names: a file path (or ``:memory:``) is a
DuckDB file (`aeries.store.duckdb_file`), a ``postgresql://`` URL a PostgreSQL database
(`aeries.store.postgres`). Table modules see only this class: ``?`` placeholders, a fresh
cursor per call, ``transaction()``, ``lock(key)``; SQL is written once in forms both accept.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from aeries.config import is_postgres_url

Params = Sequence[Any] | dict[str, Any] | None
Dialect = Literal["duckdb", "postgres"]
_ENGINES: dict[Dialect, str] = {
    "duckdb": "aeries.store.duckdb_file",
    "postgres": "aeries.store.postgres",
}


class DatabaseLocked(RuntimeError):
    """Another process holds the database file; DuckDB allows one writer process per file."""

    def __init__(self, path: Path, detail: str) -> None:
        pid = re.search(r"PID (\d+)", detail)
        holder = f" (process {pid.group(1)})" if pid else ""
        super().__init__(
            f"The database {path} is in use by another program{holder}. DuckDB lets only one "
            "process open a database file. Close the other program (another Aeries, a notebook "
            "or the duckdb CLI), or point Aeries at another file with AERIES_DB, then reload. "
            "To read the data while Aeries runs, use `python -m aeries export --out DIR`."
        )
        self.path = path
        self.pid = int(pid.group(1)) if pid else None


class DatabaseError(RuntimeError):
    """The store cannot be opened or reached (a corrupt or unreadable file, a PostgreSQL
    server that does not answer), or its connection is closed."""


_STORAGE_WORDS = (
    "no space left",
    "could not write",
    "cannot open file",
    "permission denied",
    "read-only file system",
    "disk quota",
    "input/output error",
    "has been invalidated",
    "could not fsync",
    "could not truncate",
    "could not create",
)


def from_postgres(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by the PostgreSQL driver (psycopg or its pool)."""
    return type(exc).__module__.startswith(("psycopg", "psycopg_pool"))


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot write right now (full disk, unwritable folder,
    I/O failure, a PostgreSQL server down or gone), as opposed to a row it will never
    accept: the first kind is waited out and retried, the second is set aside."""
    if from_postgres(exc):  # then the PostgreSQL engine is loaded
        module = importlib.import_module(_ENGINES["postgres"])
        return bool(module.is_pg_store_failure(exc))
    if isinstance(exc, OSError | duckdb.IOException | duckdb.FatalException):
        return True
    if isinstance(exc, DatabaseError):
        return True  # the connection is closed or could not be opened
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and any(word in text for word in _STORAGE_WORDS)


def store_errors() -> tuple[type[BaseException], ...]:
    """Every exception class a store call can raise, for ``except store_errors():`` where a
    page turns a failed read into a message. psycopg is named only once it is loaded (a
    DuckDB-only process never imports it)."""
    errors: tuple[type[BaseException], ...] = (duckdb.Error, DatabaseError)
    if "psycopg" in sys.modules:
        import psycopg

        errors += (psycopg.Error,)
    return errors


class Database:
    """The store: every call uses its own cursor so threads never share one.

    ``Database(target)`` returns the engine's subclass; the subclasses implement ``cursor``,
    ``lock``, ``checkpoint``, ``reopen`` and ``close``."""

    dialect: Dialect
    path: Path  # the DuckDB file; for PostgreSQL the local base name of spill and key files

    def __new__(cls, target: str | Path, *args: Any, **kwargs: Any) -> Database:
        if cls is not Database:
            return super().__new__(cls)
        # The engine module is imported by name, on first use: a DuckDB-only process never
        # loads psycopg, and the engines (which subclass this) are not imported back from here.
        module = importlib.import_module(
            _ENGINES["postgres" if is_postgres_url(target) else "duckdb"]
        )
        engine: type[Database] = module.ENGINE
        return super().__new__(engine)

    @property
    def label(self) -> str:
        """The store as messages name it (a file path, or host/database)."""
        return str(self.path)

    @property
    def on_disk(self) -> bool:
        """Whether rows outlive the process (not an in-memory DuckDB)."""
        return str(self.path) != ":memory:"

    def cursor(self) -> Any:
        """A new cursor for the calling thread (use it in a ``with`` block)."""
        raise NotImplementedError

    def lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold the store-wide lock named ``key`` for the block: a check-then-write that must
        not interleave with the same check-then-write anywhere else on this store (a name
        being claimed, a study slot being filled), in this process or another."""
        raise NotImplementedError

    def checkpoint(self) -> None:
        """Make committed rows durable in the store's own files (DuckDB: fold the WAL)."""
        raise NotImplementedError

    def reopen(self, busy_wait_s: float = 5.0) -> None:
        """Drop the connection and connect again, after the engine has invalidated it."""
        raise NotImplementedError

    def needs_reopen(self, exc: BaseException) -> bool:
        """Whether ``exc`` leaves the connection unusable until ``reopen``."""
        return False

    def close(self) -> None:
        """Close the store; later calls fail clearly."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: committed if the block ends normally, rolled back
        (and the error re-raised) if it raises."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def execute(self, sql: str, params: Params = None) -> None:
        """Run one statement (parameterised) in its own cursor."""
        with self.cursor() as cur:
            cur.execute(sql, params)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """All rows of a query as tuples."""
        with self.cursor() as cur:
            return list(cur.execute(sql, params).fetchall())

    def one(self, sql: str, params: Params = None) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        with self.cursor() as cur:
            row = cur.execute(sql, params).fetchone()
            return tuple(row) if row is not None else None

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """All rows as dicts keyed by column name."""
        with self.cursor() as cur:
            result = cur.execute(sql, params)
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """A query's result as a pandas DataFrame."""
        with self.cursor() as cur:
            frame: pd.DataFrame = cur.execute(sql, params).df()
            return frame

    def analytics(self, *tables: str) -> Database:
        """The DuckDB database to run analytics SQL on, with ``tables`` up to date: the store
        itself for a DuckDB file; for PostgreSQL, this process's replica of those tables,
        refreshed incrementally (aeries.store.replica; looked up by name, so a DuckDB-only
        process never loads it, and the replica, which imports this module, is no cycle)."""
        if self.dialect == "duckdb":
            return self
        replica = importlib.import_module("aeries.store.replica")
        reader: Database = replica.analytics_reader(self, tables)
        return reader
