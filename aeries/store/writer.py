"""Background writer: callers enqueue rows and return at once; a thread commits them in batches.

Rows are durable within ~``max_delay_s`` of being submitted (one DuckDB transaction per batch).
A batch that fails is retried op by op, so one bad row never takes the others with it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from aeries.store.db import Database, Params

log = logging.getLogger(__name__)

_ARROW_MIN_ROWS = 8  # below this, executemany is faster than building an Arrow table


class WriterClosed(RuntimeError):
    """Rows submitted after the writer closed (the app is shutting down)."""


@dataclass(frozen=True)
class Insert:
    """Insert one row (column → value) into ``table``."""

    table: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Execute:
    """Run one parameterised statement (updates, upserts)."""

    sql: str
    params: Params = None


@dataclass
class _Barrier:
    """Marks a point in the queue; set once everything before it is committed."""

    done: threading.Event = field(default_factory=threading.Event)


Op = Insert | Execute


class Writer:
    """A single thread that owns all writes of the process."""

    def __init__(self, db: Database, *, max_delay_s: float = 0.02, max_batch: int = 2000) -> None:
        self.db = db
        self.max_delay_s = max_delay_s
        self.max_batch = max_batch
        self.failed_ops = 0
        self.committed_ops = 0
        self._queue: queue.Queue[Op | _Barrier | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="aeries-writer", daemon=True)
        self._closed = False
        self._thread.start()
        atexit.register(self.close)

    def submit(self, *ops: Op) -> None:
        """Queue ops for writing; never blocks on the database."""
        if self._closed:
            raise WriterClosed("The writer is closed.")
        for op in ops:
            self._queue.put(op)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed; False on timeout."""
        if self._closed:
            return True
        barrier = _Barrier()
        self._queue.put(barrier)
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread (also runs at interpreter exit)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[Op] = []
            barriers: list[_Barrier] = []
            stop = self._absorb(first, batch, barriers)
            deadline = time.monotonic() + self.max_delay_s
            while not stop and len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                stop = self._absorb(item, batch, barriers)
            # Drain whatever is already waiting without further delay.
            while not stop and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stop = self._absorb(item, batch, barriers)
            if batch:
                self._commit(batch)
            for barrier in barriers:
                barrier.done.set()
            if stop:
                return

    @staticmethod
    def _absorb(item: Op | _Barrier | None, batch: list[Op], barriers: list[_Barrier]) -> bool:
        if item is None:
            return True
        if isinstance(item, _Barrier):
            barriers.append(item)
        else:
            batch.append(item)
        return False

    def _commit(self, batch: list[Op]) -> None:
        try:
            with self.db.transaction() as cur:
                for group in _group(batch):
                    _apply(cur, group)
            self.committed_ops += len(batch)
        except Exception:
            log.exception("A write batch failed; retrying its %d ops one by one", len(batch))
            self._commit_one_by_one(batch)

    def _commit_one_by_one(self, batch: list[Op]) -> None:
        for op in batch:
            try:
                with self.db.cursor() as cur:
                    _apply(cur, [op])
                self.committed_ops += 1
            except Exception as exc:  # the row is bad; keep the rest
                self.failed_ops += 1
                log.error("Dropped a write to %s: %s", _target(op), exc)


def _target(op: Op) -> str:
    return op.table if isinstance(op, Insert) else op.sql.split("(")[0][:60]


def _group(batch: Iterable[Op]) -> list[list[Op]]:
    """Consecutive inserts into the same table with the same columns form one group."""
    groups: list[list[Op]] = []
    for op in batch:
        last = groups[-1] if groups else None
        if (
            isinstance(op, Insert)
            and last
            and isinstance(last[0], Insert)
            and last[0].table == op.table
            and last[0].row.keys() == op.row.keys()
        ):
            last.append(op)
        else:
            groups.append([op])
    return groups


def _apply(cur: duckdb.DuckDBPyConnection, group: list[Op]) -> None:
    first = group[0]
    if isinstance(first, Execute):
        cur.execute(first.sql, first.params)
        return
    inserts: list[Insert] = group  # type: ignore[assignment]
    columns = list(first.row.keys())
    if len(inserts) < _ARROW_MIN_ROWS:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        cur.executemany(
            f"INSERT INTO {first.table} ({names}) VALUES ({marks})",
            [[op.row[c] for c in columns] for op in inserts],
        )
        return
    table = pa.Table.from_pylist([op.row for op in inserts])
    cur.register("aeries_batch", table)
    try:
        cur.execute(f"INSERT INTO {first.table} BY NAME SELECT * FROM aeries_batch")
    finally:
        cur.unregister("aeries_batch")
