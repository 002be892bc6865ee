"""The DuckDB connection: one per process, a fresh cursor for every query."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

Params = Sequence[Any] | dict[str, Any] | None


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
    """The database file cannot be opened (corrupt, unreadable, not a DuckDB file)."""


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


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot write right now (full disk, unwritable folder,
    I/O failure), as opposed to a row it will never accept: the first kind is waited out and
    retried, the second is set aside."""
    if isinstance(exc, OSError | duckdb.IOException | duckdb.FatalException):
        return True
    if isinstance(exc, DatabaseError):
        return True  # the connection is closed or could not be opened
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and any(word in text for word in _STORAGE_WORDS)


# One process owns a DuckDB file, so a lock that serialises the process's threads serialises
# every writer of that file. Keyed by (file, purpose); shared by every Database on the file.
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class Database:
    """A DuckDB file opened once; every call uses its own cursor so threads never share one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"The folder for the database {self.path} cannot be made: "
                    f"{exc.strerror or exc} ({exc.filename or self.path.parent}). "
                    "Point AERIES_DB at a file in a folder Aeries can write."
                ) from None
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLocked(self.path, str(exc)) from None
            raise DatabaseError(f"The database {self.path} could not be opened: {exc}") from None
        except duckdb.Error as exc:
            raise DatabaseError(f"The database {self.path} could not be opened: {exc}") from None
        self._closed = False
        self._lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor (a connection to the same database) for the calling thread."""
        with self._lock:
            if self._closed:
                raise DatabaseError("The database connection is closed.")
            return self._con.cursor()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
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
            return cur.execute(sql, params).fetchall()

    def one(self, sql: str, params: Params = None) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        with self.cursor() as cur:
            return cur.execute(sql, params).fetchone()

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """All rows as dicts keyed by column name."""
        with self.cursor() as cur:
            result = cur.execute(sql, params)
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """A query's result as a pandas DataFrame."""
        with self.cursor() as cur:
            return cur.execute(sql, params).df()

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the store-wide lock named ``key`` for the block: a check-then-write that must
        not interleave with the same check-then-write anywhere else on this store (a name
        being claimed, a study slot being filled)."""
        with _LOCKS_GUARD:
            held = _LOCKS.setdefault((str(self.path.resolve()), key), threading.Lock())
        with held:
            yield

    def checkpoint(self) -> None:
        """Move everything in the write-ahead log into the database file, so a copy of the
        file alone holds every committed row. Raises duckdb.Error if it cannot."""
        with self.cursor() as cur:
            cur.execute("CHECKPOINT")

    def reopen(self, busy_wait_s: float = 5.0) -> None:
        """Close the connection and open the file again, for when DuckDB has invalidated it (a
        failed write it could not recover from). Cursors other threads hold fail from now on
        (ConnectionException); new cursors use the new connection. Raises DatabaseError if
        the file cannot be opened (then cursors fail until a later reopen succeeds)."""
        with self._lock:  # no new cursor while the connection is swapped
            if self._closed:
                raise DatabaseError("The database connection is closed.")
            # DuckDB refuses to close a connection while one of its cursors runs a query: wait
            # a little for it. The instance is only dropped from DuckDB's cache once closed.
            deadline = time.monotonic() + busy_wait_s
            while True:
                try:
                    self._con.close()
                    break
                except duckdb.ResourceInUseException:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                except duckdb.Error:
                    break  # already unusable: opening anew is all that is left
            try:
                self._con = duckdb.connect(str(self.path))
            except duckdb.Error as exc:
                raise DatabaseError(
                    f"The database {self.path} could not be reopened: {exc}"
                ) from None

    def close(self) -> None:
        """Checkpoint and close; later calls fail clearly."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self._con.close()

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return self._closed
