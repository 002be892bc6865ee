"""The embedded engine: one DuckDB file, opened once per process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from aeries.store.db import Database, DatabaseError, DatabaseLocked

# One process owns a DuckDB file, so a lock that serialises the process's threads serialises
# every writer of that file. Keyed by (file, purpose); shared by every Database on the file.
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class DuckDBDatabase(Database):
    """A DuckDB file opened once; every call uses its own cursor so threads never share one."""

    dialect = "duckdb"

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
    def lock(self, key: str) -> Iterator[None]:
        with _LOCKS_GUARD:
            held = _LOCKS.setdefault((str(self.path.resolve()), key), threading.Lock())
        with held:
            yield

    def checkpoint(self) -> None:
        """Move everything in the write-ahead log into the database file, so a copy of the
        file alone holds every committed row. Raises duckdb.Error if it cannot."""
        with self.cursor() as cur:
            cur.execute("CHECKPOINT")

    def needs_reopen(self, exc: BaseException) -> bool:
        return isinstance(exc, duckdb.FatalException) or "has been invalidated" in str(exc).lower()

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
        return self._closed


ENGINE = DuckDBDatabase  # what Database(target) instantiates for this engine's targets
