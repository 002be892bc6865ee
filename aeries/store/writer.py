"""Background writer: callers enqueue ops and return at once; a thread commits them in batches.

A batch is committed ~``max_delay_s`` after its first op (one DuckDB transaction per batch),
or at once when somebody waits on ``flush()``; the commit itself takes what the machine gives
it (a few hundred ms on a loaded 2-core box), so a page that must not show something as saved
before it is waits on ``flush()`` rather than on a delay.
A batch that fails for a reason of its own is retried op by op; an op that still fails is set
aside in the rejected file (``<db name>.rejected.jsonl``), so one bad row never takes the others
with it. When the *store* fails (full disk, unwritable folder, invalidated connection) nothing
is dropped: every op waits in order, in memory and past a bound in a spill file next to the
database, while the writer retries with back-off; once a retry succeeds it writes everything
back in order. ``health()`` tells the pages.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from aeries.ids import utcnow
from aeries.store.db import Database, from_postgres
from aeries.store.ops import Execute, Insert, Op, apply_group, group_ops, is_store_failure
from aeries.store.spill import (
    RejectedLog,
    SpillFile,
    read_spill,
    replay_spills,
    spill_files,
    write_back,
)

__all__ = ["Execute", "Insert", "Op", "StoreHealth", "Writer", "WriterClosed", "replay_spills"]

log = logging.getLogger(__name__)

_FLUSH_POLL_S = 0.25  # how long flush() waits before noticing that the store is failing


class WriterClosed(RuntimeError):
    """Rows submitted after the writer closed (the app is shutting down)."""


@dataclass(frozen=True)
class StoreHealth:
    """Whether the writer can write, and what waits; cheap to read on every page run."""

    ok: bool
    problem: str | None = None  # for participants: plain words
    detail: str | None = None  # for researchers: the database's error text
    since: datetime | None = None  # UTC, when the store stopped taking writes
    waiting_ops: int = 0  # in memory and in spill files
    spilled_ops: int = 0
    rejected_ops: int = 0
    rejected_path: Path | None = None
    committed_ops: int = 0
    spill_error: str | None = None  # why waiting ops cannot be spilled (they stay in memory)


@dataclass
class _Barrier:
    """Marks a point in the queue; set once everything before it is committed (ok) or parked
    because the store is failing (not ok)."""

    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False

    def finish(self, ok: bool) -> None:
        self.ok = ok
        self.done.set()


_TIMEOUT = object()  # what _get returns when nothing arrived in time


def problem_of(exc: BaseException) -> str:
    """A participant-readable sentence for a store failure."""
    text = str(exc).lower()
    if "no space left" in text or "disk quota" in text:
        return "the disk holding the database is full"
    if any(
        w in text
        for w in ("permission denied", "not permitted", "read-only file system", "cannot open file")
    ):
        return "the database folder cannot be written"
    if isinstance(exc, duckdb.FatalException) or "invalidated" in text:
        return "the database stopped working and is being reopened"
    if "not reachable" in text or from_postgres(exc):
        if "read-only" in text:
            return "the database server accepts no writes (read-only)"
        return "the database server cannot be reached"
    return "the database cannot be written"


def _size(op: Op) -> int:
    """A rough size in bytes, for the memory bound (strings dominate)."""
    values = op.row.values() if isinstance(op, Insert) else op.params or ()
    if isinstance(values, dict):
        values = values.values()
    size = 64 + (len(op.sql) if isinstance(op, Execute) else 0)
    for v in values:
        if isinstance(v, str):
            size += len(v)
        elif isinstance(v, list):
            size += sum(len(x) if isinstance(x, str) else 16 for x in v)
        else:
            size += 16
    return size


class Writer:
    """A single thread that owns all writes of the process."""

    def __init__(
        self,
        db: Database,
        *,
        max_delay_s: float = 0.02,
        max_batch: int = 2000,
        max_pending_ops: int = 5000,
        max_pending_bytes: int = 8 << 20,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        checkpoint_interval_s: float | None = 60.0,
    ) -> None:
        self.db = db
        self.max_delay_s = max_delay_s
        self.max_batch = max_batch
        self.max_pending_ops = max_pending_ops
        self.max_pending_bytes = max_pending_bytes
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.checkpoint_interval_s = checkpoint_interval_s
        self.committed_ops = 0
        self.rejected_ops = 0
        self._queue: queue.Queue[Op | _Barrier | None] = queue.Queue()
        self._closed = False
        self._submit_lock = threading.Lock()  # nothing is queued after the stop marker
        self._lock = threading.Lock()  # health fields, read by pages, set by the thread
        self._on_disk = db.on_disk
        self._rejected = RejectedLog(db.path if self._on_disk else None)
        # Failing state: ops wait as (seq, op, size), after those in the spill files.
        self._failing = False
        self._problem: str | None = None
        self._detail: str | None = None
        self._since: datetime | None = None
        self._parked: deque[tuple[int, Op, int]] = deque()
        self._parked_bytes = 0
        self._seq = 0
        self._spills: list[SpillFile] = []  # to write back before the parked ops, oldest first
        self._spill: SpillFile | None = None  # the current episode's file, last of _spills
        self._spilled = 0
        self._spill_error: str | None = None
        self._spill_retry_at = 0.0
        self._reopen = False
        self._delay = retry_initial_s
        self._retry_at = 0.0
        self._undeleted: list[Path] = []  # written back, but could not be removed yet
        self._dirty = False  # committed since the last checkpoint
        self._last_checkpoint = time.monotonic()
        self._adopt_leftovers()
        self._thread = threading.Thread(target=self._run, name="aeries-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # --- the callers' side ---------------------------------------------------------------

    def submit(self, *ops: Op) -> None:
        """Queue ops for writing; never blocks on the database."""
        with self._submit_lock:
            if self._closed:
                raise WriterClosed("The writer is closed.")
            for op in ops:
                self._queue.put(op)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed (True). False on timeout, and
        promptly when the store is failing (the earlier ops then wait in order)."""
        with self._submit_lock:
            if self._closed:
                return not self._thread.is_alive() and not (self._parked or self._spills)
            barrier = _Barrier()
            self._queue.put(barrier)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if barrier.done.wait(min(remaining, _FLUSH_POLL_S)):
                return barrier.ok
            if self._failing:  # the thread may be busy retrying: do not hold the page
                return False

    def health(self) -> StoreHealth:
        """The store's state as the pages show it (no database access)."""
        with self._lock:
            return StoreHealth(
                ok=not self._failing,
                problem=self._problem,
                detail=self._detail,
                since=self._since,
                waiting_ops=len(self._parked) + self._spilled,
                spilled_ops=self._spilled,
                rejected_ops=self.rejected_ops,
                rejected_path=self._rejected.path if self.rejected_ops else None,
                committed_ops=self.committed_ops,
                spill_error=self._spill_error,
            )

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread (also runs at interpreter exit). If the
        store is failing, try once more, then spill what remains."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("The writer did not stop within %.0f s; ops still wait", timeout)

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                stop = self._step_failing() if self._failing else self._step_normal()
            except Exception:  # a bug must not stop every later write
                log.exception("The writer thread hit an unexpected error; it carries on")
                time.sleep(self.retry_initial_s)
        self._finish()

    def _get(self, timeout: float | None) -> object:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return _TIMEOUT

    def _step_normal(self) -> bool:
        """Commit one batch; return True once the stop marker was seen."""
        wait = None
        if self._dirty and self.checkpoint_interval_s is not None:
            wait = max(0.0, self._last_checkpoint + self.checkpoint_interval_s - time.monotonic())
        first = self._get(wait)
        if first is _TIMEOUT:
            self._maybe_checkpoint()
            return False
        batch: list[Op] = []
        barriers: list[_Barrier] = []
        stop = self._absorb(first, batch, barriers)  # type: ignore[arg-type]
        deadline = time.monotonic() + self.max_delay_s
        while not stop and len(batch) < self.max_batch:
            # Wait for more until the deadline; past it, or once somebody waits on a flush
            # (a page holding an answer back until it is saved), take only what is queued.
            wait = 0.0 if barriers else max(0.0, deadline - time.monotonic())
            item = self._get(wait)
            if item is _TIMEOUT:
                break
            stop = self._absorb(item, batch, barriers)  # type: ignore[arg-type]
        if batch:
            done, exc = self._write(batch)
            if exc is not None:
                self._fail(exc)
                self._park(batch[done:])
        for barrier in barriers:
            barrier.finish(not self._failing)
        self._maybe_checkpoint()
        return stop

    @staticmethod
    def _absorb(item: Op | _Barrier | None, batch: list[Op], barriers: list[_Barrier]) -> bool:
        if item is None:
            return True
        if isinstance(item, _Barrier):
            barriers.append(item)
        else:
            batch.append(item)
        return False

    def _step_failing(self) -> bool:
        """Park what arrives until the next retry is due, then retry."""
        item = self._get(max(0.0, self._retry_at - time.monotonic()))
        stop = False
        while item is not _TIMEOUT and not stop:
            if item is None:
                stop = True
            elif isinstance(item, _Barrier):
                item.finish(False)  # everything before it is parked
            else:
                self._park([item])  # type: ignore[list-item]
            item = self._get(0) if not stop else _TIMEOUT
        self._spill_if_over()
        if not stop and time.monotonic() >= self._retry_at:
            self._retry()
        return stop

    def _write(self, ops: list[Op]) -> tuple[int, BaseException | None]:
        """Commit ``ops`` (one transaction, or op by op if that fails for a reason of their own,
        setting bad ops aside). Return how many were handled from the start and, if the store
        failed before the end, its error."""
        try:
            with self.db.transaction() as cur:
                for group in group_ops(ops):
                    apply_group(cur, group, self.db.dialect)
        except Exception as exc:
            if is_store_failure(exc):
                return 0, exc
            log.warning("A write batch failed (%s); retrying its %d ops one by one", exc, len(ops))
            return self._write_one_by_one(ops)
        self._count_committed(len(ops))
        return len(ops), None

    def _write_one_by_one(self, ops: list[Op]) -> tuple[int, BaseException | None]:
        for i, op in enumerate(ops):
            try:
                with self.db.cursor() as cur:
                    apply_group(cur, [op], self.db.dialect)
            except Exception as exc:
                if is_store_failure(exc):
                    return i, exc
                self.rejected_ops += 1
                self._rejected.add(op, str(exc))
                continue
            self._count_committed(1)
        return len(ops), None

    def _count_committed(self, n: int) -> None:
        self.committed_ops += n
        self._dirty = True

    def _maybe_checkpoint(self) -> None:
        """Fold the WAL into the database file now and then, so the file alone holds the rows."""
        interval = self.checkpoint_interval_s
        if not self._dirty or interval is None:
            return
        if time.monotonic() - self._last_checkpoint < interval:
            return
        self._last_checkpoint = time.monotonic()
        try:
            self.db.checkpoint()
        except Exception as exc:  # the rows are safe in the WAL; try again next interval
            log.warning("A checkpoint failed (rows stay in the write-ahead log): %s", exc)
            return
        self._dirty = False

    # --- the failing state ---------------------------------------------------------------

    def _fail(self, exc: BaseException, progress: bool = False) -> None:
        """Enter (or stay in) the failing state after ``exc``; schedule the next retry."""
        problem = problem_of(exc)
        with self._lock:
            entering = not self._failing
            if entering:
                self._failing = True
                self._since = utcnow()
                self._delay = self.retry_initial_s
            elif progress:
                self._delay = self.retry_initial_s
            else:
                self._delay = min(self._delay * 2, self.retry_max_s)
            changed = problem != self._problem
            self._problem, self._detail = problem, str(exc)
        if entering or changed:
            log.error("Writes wait: %s (%s); they will be written once it can", problem, exc)
        else:
            log.debug("The database still cannot be written: %s", exc)
        self._reopen = self._reopen or self.db.needs_reopen(exc)
        self._retry_at = time.monotonic() + self._delay

    def _park(self, ops: list[Op]) -> None:
        with self._lock:
            for op in ops:
                size = _size(op)
                self._parked.append((self._seq, op, size))
                self._seq += 1
                self._parked_bytes += size
        self._spill_if_over()

    def _spill_if_over(self, force: bool = False) -> None:
        """Move the parked ops to the spill file once they pass the memory bound (all of them,
        so the file always holds the oldest). If the file cannot be written they stay."""
        if not self._parked or not self._on_disk:
            return
        over = (
            len(self._parked) > self.max_pending_ops or self._parked_bytes > self.max_pending_bytes
        )
        now = time.monotonic()
        if not force and (not over or now < self._spill_retry_at):
            return
        if self._spill is None:
            # Listed at once: a failed append may still leave chunks write-back must see.
            self._spill = SpillFile.new(self.db.path)
            self._spills.append(self._spill)
        try:
            n = self._spill.append([(seq, op) for seq, op, _ in self._parked])
        except OSError as exc:
            self._spill_retry_at = now + self._delay
            if self._spill_error is None:
                log.error("Cannot spill to %s (%s); the ops stay in memory", self._spill.path, exc)
            with self._lock:
                self._spill_error = str(exc)
            return
        with self._lock:
            for _ in range(n):
                self._parked_bytes -= self._parked.popleft()[2]
            self._spilled += n
            self._spill_error = None

    def _retry(self) -> None:
        """Try to write back everything that waits, in order; leave the failing state if done."""
        if self._reopen:
            try:
                self.db.reopen()
            except Exception as exc:
                self._fail(exc)
                return
            self._reopen = False
            log.warning("Reopened the database connection")
        progress = False
        while self._spills:
            spill = self._spills[0]
            try:
                items = read_spill(spill.path)
                ops = [op for _, op in items]
                applied = write_back(self.db, spill.id, ops, self._rejected) if ops else 0
            except Exception as exc:
                if not is_store_failure(exc):
                    log.error("%s cannot be written back (%s); it is kept", spill.path, exc)
                self._fail(exc, progress)
                return
            progress = True
            # A chunk whose fsync failed may be in our current file and in memory: keep it once.
            last = items[-1][0] if items and spill is self._spill else -1
            with self._lock:
                while self._parked and self._parked[0][0] <= last:
                    self._parked_bytes -= self._parked.popleft()[2]
                self._spills.pop(0)
                self._spilled -= spill.count
                if applied is not None:
                    self.committed_ops += applied
                    self.rejected_ops += len(ops) - applied
            if spill is self._spill:
                self._spill = None
            self._dirty = True
            self._remove(spill.path)
            spill.release()
        while self._parked:
            chunk = [op for _, op, _ in list(self._parked)[: self.max_batch]]
            done, failure = self._write(chunk)
            with self._lock:
                for _ in range(done):
                    self._parked_bytes -= self._parked.popleft()[2]
            if failure is not None:
                self._fail(failure, progress or done > 0)
                return
            progress = True
        self._recover()

    def _recover(self) -> None:
        with self._lock:
            since = self._since
            self._failing = False
            self._problem = self._detail = self._since = None
            self._spill_error = None
            self._spill = None
        waited = (utcnow() - since).total_seconds() if since else 0.0
        log.warning("The database takes writes again after %.1f s; the waiting rows are in", waited)
        for path in list(self._undeleted):
            self._undeleted.remove(path)
            self._remove(path)
        self._rejected.flush()

    def _remove(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # harmless: its id is in applied_spills; try again later
            log.warning("Could not remove %s yet: %s", path, exc)
            self._undeleted.append(path)

    def _adopt_leftovers(self) -> None:
        """Spill files an earlier run left (replay_spills could not write them back) go before
        any new op, so a later change is never overwritten by an older one."""
        if not self._on_disk:
            return
        for path in spill_files(self.db.path):
            try:
                owned = SpillFile.claim(path)
                if owned is None:
                    continue  # another live process on this store is still filling it
                owned.count = len(read_spill(path))
            except OSError as exc:
                log.error("Cannot read %s (%s); it is left as it is", path, exc)
                continue
            self._spills.append(owned)
            self._spilled += owned.count
        if self._spills:
            self._failing = True
            self._since = utcnow()
            self._problem = "rows kept by an earlier run are being written back"
            self._retry_at = 0.0  # at once

    def _finish(self) -> None:
        """After the stop marker: if failing, try once more, then keep what remains on disk."""
        if self._failing:
            self._retry()
        if self._failing:
            self._spill_if_over(force=True)
            where = ", ".join(s.path.name for s in self._spills) or "no file"
            log.error("Closing while the store fails: %d ops kept in %s", self._spilled, where)
            if self._parked:
                lost = len(self._parked)
                log.critical("%d ops could NOT be kept and are lost: %s", lost, self._spill_error)
        for path in list(self._undeleted):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        if not self._rejected.flush():
            log.critical("Rejected ops not saved in a file: %s", self._rejected.backlog())
        for spill in self._spills:  # kept for the next start (or another process) to adopt
            spill.release()
