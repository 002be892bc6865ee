"""The files that keep write ops when the database cannot: spill files, the rejected file.

A spill file (``<db name>.pending-<uuid7>.jsonl``, next to the database) holds the ops of one
episode in which the database could not be written. It is appended in chunks: a blank line,
one line per op (``{"seq": n, "op": ...}``), then an end marker (``{"end": n}``), fsynced. Only
chunks that reach their marker count, so a write cut short by a full disk leaves lines that are
ignored; an op's ``seq`` makes a chunk written again after such a failure harmless. A spill
file is written back in one transaction that also records its id in ``applied_spills``.

Several processes can share a store (and so a spill folder): a spill file is owned by the
process holding its ``flock``, taken before its name appears. A process adopts only files
whose lock it can take, i.e. files whose owner has ended; a live owner's file is left to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.ops import (
    Execute,
    Insert,
    Op,
    apply_group,
    decode_op,
    encode_op,
    is_store_failure,
    plan_groups,
    target,
)
from aeries.store.ops import dumps as _dumps

__all__ = ["Execute", "Insert", "Op", "RejectedLog", "SpillFile", "replay_spills", "write_back"]

log = logging.getLogger(__name__)


class _OpFailed(Exception):
    """One group of a write-back failed for a reason of its own (not the store's)."""

    def __init__(self, idxs: list[int], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.idxs = idxs
        self.cause = cause


def write_back(db: Database, spill_id: str, ops: Sequence[Op], rejected: RejectedLog) -> int | None:
    """Apply ``ops`` and record ``spill_id`` in applied_spills, all in one transaction; return
    how many ops were applied, or None if the spill was applied before. An op that fails on its
    own is set aside in ``rejected`` and the transaction redone without it (DuckDB has no
    savepoints). Store failures, and failures no op can be blamed for, are raised."""
    singles: set[int] = set()
    skip: dict[int, str] = {}
    while True:
        try:
            with db.transaction() as cur:
                if cur.execute("SELECT 1 FROM applied_spills WHERE id = ?", [spill_id]).fetchone():
                    return None
                for idxs in plan_groups(ops, singles, set(skip)):
                    try:
                        apply_group(cur, [ops[i] for i in idxs], db.dialect)
                    except Exception as exc:
                        if is_store_failure(exc):
                            raise
                        raise _OpFailed(idxs, exc) from exc
                cur.execute(
                    "INSERT INTO applied_spills (id, ops, applied_at) VALUES (?, ?, ?)",
                    [spill_id, len(ops) - len(skip), utcnow()],
                )
        except _OpFailed as failed:
            if len(failed.idxs) == 1:
                skip[failed.idxs[0]] = str(failed.cause)
            else:  # find the bad op: redo this group's ops one at a time
                singles.update(failed.idxs)
            continue
        break
    for i, error in sorted(skip.items()):
        rejected.add(ops[i], error)
    return len(ops) - len(skip)


# --- files ---------------------------------------------------------------------------------

_PENDING = ".pending-"
_CLAIMING = ".claiming-"  # a spill file being made: locked, then renamed to its pending name


def spill_path(db_path: Path, spill_id: str) -> Path:
    """Where the spill file ``spill_id`` of the database at ``db_path`` lives."""
    return db_path.with_name(f"{db_path.name}{_PENDING}{spill_id}.jsonl")


def spill_files(db_path: Path) -> list[Path]:
    """The spill files next to the database, oldest first (their ids are UUIDv7)."""
    prefix = f"{db_path.name}{_PENDING}"
    try:
        names = [p for p in db_path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    return sorted((p for p in names if p.name.endswith(".jsonl")), key=lambda p: p.name)


def spill_id_of(path: Path) -> str:
    """The id of a spill file, from its name."""
    return path.name.rsplit(_PENDING, 1)[1].removesuffix(".jsonl")


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class SpillFile:
    """One episode's spill file; only the writer thread appends to it. While this object owns
    the file it holds an exclusive ``flock`` on it (released by ``release``)."""

    def __init__(self, path: Path, spill_id: str, count: int = 0, fd: int | None = None) -> None:
        self.path = path
        self.id = spill_id
        self.count = count  # ops in chunks that reached their end marker
        self._fd = fd

    @classmethod
    def new(cls, db_path: Path) -> SpillFile:
        """A spill file for a new episode (the file is made at the first append)."""
        spill_id = new_id()
        return cls(spill_path(db_path, spill_id), spill_id)

    @classmethod
    def claim(cls, path: Path) -> SpillFile | None:
        """Take ownership of an existing spill file, or None if another live process owns it
        (or it is gone). Raises OSError if it cannot be opened for another reason."""
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if os.fstat(fd).st_nlink == 0:  # its owner wrote it back and removed it meanwhile
            os.close(fd)
            return None
        return cls(path, spill_id_of(path), 0, fd)

    def _create(self) -> None:
        """Make the file, locked before any other process can see its name."""
        making = self.path.with_name(self.path.name.replace(_PENDING, _CLAIMING, 1))
        fd = os.open(making, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(making, self.path)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                making.unlink()
            raise
        self._fd = fd

    def release(self) -> None:
        """Give up ownership (after the file is written back and removed, or at exit)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def append(self, items: Sequence[tuple[int, Op]]) -> int:
        """Append a chunk of (seq, op), fsynced; return how many of ``items`` (from the first)
        it holds: it stops before an op the codec cannot encode. Raises OSError."""
        lines: list[str] = []
        for seq, op in items:
            try:
                lines.append(_dumps({"seq": seq, **encode_op(op)}))
            except (TypeError, ValueError) as exc:
                log.error(
                    "A write to %s cannot be spilled (%s); it stays in memory", target(op), exc
                )
                break
        if not lines:
            return 0
        end = items[len(lines) - 1][0]
        created = self._fd is None
        if created:
            self._create()
        with open(self.path, "a", encoding="ascii") as f:
            f.write("\n" + "\n".join(lines) + "\n" + _dumps({"end": end}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if created:
            _fsync_dir(self.path.parent)
        self.count += len(lines)
        return len(lines)


def read_spill(path: Path) -> list[tuple[int, Op]]:
    """The (seq, op) of a spill file in order: ops of chunks that reached their end marker, each
    seq once. A missing file holds nothing. Raises OSError if it cannot be read."""
    items: list[tuple[int, Op]] = []
    chunk: list[tuple[int, Op]] = []
    last, bad = -1, 0
    try:
        f = open(path, encoding="ascii", errors="replace")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    with f:
        for line in f:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if "end" in data:
                    for seq, op in chunk:
                        if seq > last:  # a chunk written again repeats seqs
                            items.append((seq, op))
                            last = seq
                    chunk = []
                else:
                    chunk.append((int(data["seq"]), decode_op(data)))
            except Exception:  # a line cut short by a failed write, or damaged
                bad += 1
    if bad:
        log.warning("Ignored %d damaged lines in %s", bad, path)
    return items


class RejectedLog:
    """The rejected file (``<db name>.rejected.jsonl``): ops the database refused on their own,
    with the error and the time. Lines that cannot be written yet are kept and retried."""

    def __init__(self, db_path: Path | None) -> None:
        self.path = db_path.with_name(f"{db_path.name}.rejected.jsonl") if db_path else None
        self._backlog: list[str] = []
        self._lock = threading.Lock()

    def add(self, op: Op, error: str) -> None:
        """Set ``op`` aside with the error the database gave."""
        try:
            encoded: dict[str, Any] = encode_op(op)
        except (TypeError, ValueError):
            encoded = {"op": type(op).__name__.lower(), "repr": repr(op)}
        line = json.dumps({"at": utcnow().isoformat(), "error": error, "op": encoded})
        log.warning("Set aside a write to %s in %s: %s", target(op), self.path, error)
        with self._lock:
            self._backlog.append(line)
        self.flush()

    def flush(self) -> bool:
        """Write the backlog; False (logged) if the file cannot be written now."""
        with self._lock:
            if not self._backlog:
                return True
            if self.path is None:
                log.error("Rejected writes (no file for an in-memory database): %s", self._backlog)
                self._backlog.clear()
                return True
            try:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write("".join(line + "\n" for line in self._backlog))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                log.error(
                    "Cannot write %s yet (%s); %d lines wait", self.path, exc, len(self._backlog)
                )
                return False
            self._backlog.clear()
            return True

    def backlog(self) -> list[str]:
        """Lines not written yet."""
        with self._lock:
            return list(self._backlog)


def replay_spills(db: Database) -> int:
    """Write back the spill files an earlier process left next to the database, oldest first,
    each once (ids already in applied_spills are skipped), deleting each after; return the
    number of ops applied. Call it after migrate() and before the Writer starts. A file that
    cannot be written back now is left for the Writer, which adopts leftovers at start."""
    if not db.on_disk:
        return 0
    rejected = RejectedLog(db.path)
    applied = 0
    for path in spill_files(db.path):
        try:
            owned = SpillFile.claim(path)
        except OSError as exc:
            log.error("Cannot open %s (%s); the writer will retry it", path, exc)
            break
        if owned is None:
            continue  # another live process is still filling it
        try:
            ops = [op for _, op in read_spill(path)]
            done = write_back(db, spill_id_of(path), ops, rejected) if ops else 0
        except Exception as exc:
            owned.release()
            # Later files must not overtake this one: stop here.
            log.error("Could not write back %s yet (%s); the writer will retry it", path, exc)
            break
        if done is None:
            log.warning("%s was written back before; removing it", path.name)
        else:
            applied += done
            log.warning("Wrote back %d rows kept in %s by an earlier run", done, path.name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # harmless: its id is in applied_spills
            log.error("Could not remove %s: %s", path, exc)
        owned.release()
    return applied
