"""The background writer never loses a row silently: a full disk or an unwritable folder is
waited out (in memory, then in a spill file), bad rows are set aside, health says what is wrong.

The full-disk and unwritable-folder tests use the real thing where this machine allows it (root:
a 4 MB tmpfs, ``chattr +i``) and otherwise inject the exact error DuckDB 2.0.1 raises there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from aeries.ids import new_id, utcnow
from aeries.store import spill
from aeries.store.db import Database
from aeries.store.duckdb_file import DuckDBDatabase
from aeries.store.migrations import migrate
from aeries.store.ops import decode_op, encode_op
from aeries.store.spill import SpillFile, read_spill, spill_files
from aeries.store.writer import Execute, Insert, Op, Writer, replay_spills
from tests.helpers import ROOT, wait_until

FULL = (
    'TransactionContext Error: Failed to commit: Could not write file "x.wal": '
    "No space left on device"
)
UNWRITABLE = (
    'TransactionContext Error: Failed to commit: Cannot open file "x.wal": Permission denied'
)
FAST = {"max_delay_s": 0.005, "retry_initial_s": 0.05, "retry_max_s": 0.2}
T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


class FlakyDatabase(DuckDBDatabase):
    """A Database whose transactions fail with ``error`` while ``failing`` is set; normal
    otherwise (an injected storage failure, where the real one cannot be made)."""

    def __init__(self, path: Path, error: str = FULL) -> None:
        super().__init__(path)
        self.failing = False
        self.error = error
        self.kind: type[Exception] = duckdb.TransactionException
        self.reopened = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.failing:
            with super().transaction() as cur:
                yield cur
            return
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            finally:
                cur.execute("ROLLBACK")
        raise self.kind(self.error)

    def reopen(self, busy_wait_s: float = 5.0) -> None:
        super().reopen(busy_wait_s)
        self.reopened += 1
        if self.kind is duckdb.FatalException:
            self.failing = False  # a fresh connection is no longer invalidated


class Harness:
    """One database + writer in ``folder``, closed at teardown (after the failure is undone)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db: FlakyDatabase | None = None
        self.writer: Writer | None = None

    def open(self, error: str = FULL, **writer_args: Any) -> tuple[FlakyDatabase, Writer]:
        self.db = FlakyDatabase(self.folder / "x.duckdb", error)
        migrate(self.db)
        self.writer = Writer(self.db, **{**FAST, **writer_args})
        return self.db, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close(timeout=5)
        if self.db is not None:
            self.db.close()


class FullDisk(Harness):
    """A real 4 MB tmpfs filled by a filler file, or an injected full disk."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        folder.mkdir()
        mount = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)]
        self.real = subprocess.run(mount, capture_output=True).returncode == 0
        self.filler = folder / "filler"

    def fill(self) -> None:
        if not self.real:
            assert self.db is not None
            self.db.failing = True
            return
        with open(self.filler, "wb", buffering=0) as f:
            for size in (1 << 20, 1 << 16, 4096, 512, 1):  # down to the last byte
                with contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * size)

    def free(self) -> None:
        if self.real:
            self.filler.unlink()
        else:
            assert self.db is not None
            self.db.failing = False

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.real:
                subprocess.run(["umount", str(self.folder)], capture_output=True)
                if self.folder.is_mount():
                    subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)


class FrozenFolder(Harness):
    """A folder made immutable (``chattr +i``: not even root can create files), or injected."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        folder.mkdir()
        self.real = False

    def freeze(self) -> None:
        done = subprocess.run(["chattr", "+i", str(self.folder)], capture_output=True)
        self.real = done.returncode == 0
        if not self.real:
            assert self.db is not None
            self.db.failing = True

    def thaw(self) -> None:
        subprocess.run(["chattr", "-i", str(self.folder)], capture_output=True)
        if self.db is not None:
            self.db.failing = False

    def close(self) -> None:
        try:
            self.thaw()  # always, even when the test failed
        finally:
            super().close()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    disk = FullDisk(tmp_path / "disk")
    yield disk
    disk.close()


@pytest.fixture
def frozen(tmp_path: Path) -> Iterator[FrozenFolder]:
    folder = FrozenFolder(tmp_path / "frozen")
    yield folder
    folder.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def user(i: int, **extra: Any) -> Insert:
    return Insert("users", {"id": f"u{i:04d}", "name": f"user {i}", "created_at": T0, **extra})


def conversation_and_messages(n: int) -> tuple[str, list[str], list[Op]]:
    """A conversation, ``n`` messages (one big group for Arrow, then singles) and a rename."""
    conv = new_id()
    ops: list[Op] = [
        Insert(
            "conversations",
            {"id": conv, "user_id": "u0000", "title": "first", "created_at": utcnow()},
        )
    ]
    ids = [new_id() for _ in range(n)]
    for k, mid in enumerate(ids):
        row = {
            "id": mid,
            "conversation_id": conv,
            "parent_id": ids[k - 1] if k else None,
            "role": "user" if k % 2 == 0 else "assistant",
            "content": f"message {k} " + "é" * k,
            "created_at": T0 + timedelta(microseconds=k),
        }
        if k >= n // 2:  # different columns: not grouped with the first half
            row["reasoning"] = None
        ops.append(Insert("messages", row))
    ops.append(Execute("UPDATE conversations SET title = ? WHERE id = ?", ["renamed", conv]))
    return conv, ids, ops


def stored_messages(db: Database) -> list[str]:
    return [r[0] for r in db.rows("SELECT id FROM messages ORDER BY rowid")]


def wait_ok(writer: Writer, timeout: float = 5.0) -> None:
    assert wait_until(lambda: writer.health().ok, timeout), writer.health()


# --- storage failures are waited out ---------------------------------------------------------


def test_full_disk_rows_wait_then_land_in_order(full_disk: FullDisk) -> None:
    db, writer = full_disk.open(max_pending_ops=10)
    writer.submit(user(0))
    assert writer.flush()
    full_disk.fill()
    conv, ids, ops = conversation_and_messages(30)
    writer.submit(*ops)
    started = time.monotonic()
    assert writer.flush(timeout=10) is False
    assert time.monotonic() - started < 1.0  # the page is not held for the whole timeout
    health = writer.health()
    assert not health.ok
    assert health.problem == "the disk holding the database is full"
    assert health.detail and "No space left" in health.detail
    assert health.since is not None and health.since.tzinfo is not None
    assert health.waiting_ops == len(ops)
    if full_disk.real:  # the spill file cannot be written on the same full disk: kept in memory
        assert health.spilled_ops == 0 and health.spill_error
    time.sleep(0.3)  # a few retries fail meanwhile
    assert db.one("SELECT count(*) FROM messages") == (0,)
    full_disk.free()
    wait_ok(writer)
    assert writer.flush()
    assert stored_messages(db) == ids
    assert db.one("SELECT title FROM conversations WHERE id = ?", [conv]) == ("renamed",)
    health = writer.health()
    assert (health.waiting_ops, health.spilled_ops, health.problem) == (0, 0, None)
    assert spill_files(db.path) == []


def test_unwritable_folder_rows_wait_in_memory_then_land(frozen: FrozenFolder) -> None:
    db, writer = frozen.open(UNWRITABLE, max_pending_ops=5)
    writer.submit(user(0))
    assert writer.flush()
    db.checkpoint()  # the WAL is gone: the next commit must create it
    assert not Path(f"{db.path}.wal").exists()
    frozen.freeze()
    ops: list[Op] = [user(i) for i in range(1, 21)]
    ops.append(Execute("UPDATE users SET name = ? WHERE id = ?", ["renamed", "u0020"]))
    writer.submit(*ops)
    started = time.monotonic()
    assert writer.flush(timeout=10) is False
    assert time.monotonic() - started < 1.0
    health = writer.health()
    assert health.problem == "the database folder cannot be written"
    assert health.detail and "Cannot open file" in health.detail
    assert health.waiting_ops == len(ops)
    if frozen.real:  # not even the spill file can be made there: past the bound, in memory
        assert health.spilled_ops == 0 and health.spill_error
        assert not any(frozen.folder.glob("*.pending-*"))
    frozen.thaw()
    wait_ok(writer)
    assert writer.flush()
    assert db.one("SELECT count(*) FROM users") == (21,)
    assert db.one("SELECT name FROM users WHERE id = 'u0020'") == ("renamed",)


def test_memory_bound_spills_to_a_file_written_back_in_order(harness: Harness) -> None:
    db, writer = harness.open(max_pending_ops=10)
    writer.submit(user(0))
    assert writer.flush()
    db.failing = True
    conv, ids, ops = conversation_and_messages(40)
    writer.submit(*ops)
    assert writer.flush(timeout=5) is False
    health = writer.health()
    assert health.waiting_ops == len(ops) and health.spilled_ops >= 33
    (path,) = spill_files(db.path)
    assert path.name.startswith("x.duckdb.pending-") and path.suffix == ".jsonl"
    assert [seq for seq, _ in read_spill(path)] == list(range(health.spilled_ops))
    db.failing = False
    wait_ok(writer)
    assert writer.flush()
    assert stored_messages(db) == ids
    assert db.one("SELECT title FROM conversations WHERE id = ?", [conv]) == ("renamed",)
    assert not path.exists()
    assert db.rows("SELECT id, ops FROM applied_spills") == [
        (spill.spill_id_of(path), health.spilled_ops)
    ]


def test_invalidated_connection_is_reopened(harness: Harness) -> None:
    db, writer = harness.open()
    db.kind = duckdb.FatalException
    db.error = "FATAL Error: database has been invalidated because of a previous fatal error"
    db.failing = True
    writer.submit(user(1), user(2))
    assert writer.flush(timeout=5) is False
    assert writer.health().problem == "the database stopped working and is being reopened"
    wait_ok(writer)
    assert db.reopened >= 1
    assert db.one("SELECT count(*) FROM users") == (2,)


def test_reopen_while_another_thread_holds_a_cursor(tmp_path: Path) -> None:
    db = Database(tmp_path / "r.duckdb")
    db.execute("CREATE TABLE t (x INTEGER)")
    db.execute("INSERT INTO t VALUES (1)")
    held = db.cursor()
    outcome: list[object] = []
    started = threading.Event()

    def slow_query() -> None:  # busy in another thread while the connection is swapped
        with db.cursor() as cur:
            started.set()
            try:
                outcome.append(cur.execute(_SLOW).fetchone())
            except duckdb.Error as exc:
                outcome.append(exc)

    worker = threading.Thread(target=slow_query)
    worker.start()
    started.wait(5)
    time.sleep(0.05)
    db.reopen()
    worker.join(10)
    assert len(outcome) == 1  # a result or an error, never a crash or a hang
    with pytest.raises(duckdb.Error):
        held.execute("SELECT count(*) FROM t")
    assert db.one("SELECT count(*) FROM t") == (1,)
    db.close()


_SLOW = "SELECT count(*) FROM range(3000000) a, range(30) b WHERE (a.range + b.range) % 7 = 0"


# --- spill files and replay at start ---------------------------------------------------------

_CRASHING_CHILD = """
import os, sys, time
import duckdb
from datetime import UTC, datetime, timedelta
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.writer import Execute, Insert, Writer

class Refuse:
    def __enter__(self):
        raise duckdb.TransactionException(sys.argv[2])
    def __exit__(self, *exc):
        return False

db = Database(sys.argv[1])
migrate(db)
Database.transaction = lambda self: Refuse()
w = Writer(db, max_pending_ops=4, retry_initial_s=0.05, retry_max_s=0.1)
t0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
w.submit(*[
    Insert("users", {"id": f"u{i:04d}", "name": f"user {i}", "created_at": t0 + timedelta(0, i)})
    for i in range(24)
])
w.submit(Execute("UPDATE users SET name = ? WHERE id = ?", ["renamed", "u0023"]))
deadline = time.monotonic() + 10
while w.health().spilled_ops < 25 and time.monotonic() < deadline:
    time.sleep(0.01)
print(w.health().spilled_ops, flush=True)
os._exit(0)  # a crash: no close, no checkpoint
"""


def test_replay_at_start_applies_a_crashed_run_spill_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, str(path), FULL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout.strip() == "25", child.stderr
    (left,) = spill_files(path)
    db = Database(path)
    migrate(db)
    assert db.one("SELECT count(*) FROM users") == (0,)
    assert replay_spills(db) == 25
    assert replay_spills(db) == 0  # a second run finds nothing to do
    assert not left.exists()
    rows = db.rows("SELECT id, name, created_at FROM users ORDER BY id")
    assert len(rows) == 24
    assert rows[0] == ("u0000", "user 0", T0)
    assert rows[23] == ("u0023", "renamed", T0 + timedelta(seconds=23))
    db.close()


def test_spill_applied_but_not_deleted_is_not_applied_twice(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.duckdb")
    migrate(db)
    kept = SpillFile.new(db.path)
    assert (
        kept.append(
            [(0, user(1)), (1, Execute("UPDATE users SET name = 'x' WHERE id = ?", ["u0001"]))]
        )
        == 2
    )
    kept.release()  # the process that made it has ended
    copy = kept.path.read_bytes()
    assert replay_spills(db) == 2
    kept.path.write_bytes(copy)  # as if the process died between commit and delete
    assert replay_spills(db) == 0
    assert not kept.path.exists()
    assert db.rows("SELECT id, name FROM users") == [("u0001", "x")]
    db.close()


def test_a_spill_file_its_live_owner_still_fills_is_left_to_it(tmp_path: Path) -> None:
    # Two processes on one shared store share a spill folder: a starting process must not
    # write back (and delete) a file another live process is still appending to, or that
    # process's later chunks would land in an unlinked file and be lost.
    db = Database(tmp_path / "o.duckdb")
    migrate(db)
    live = SpillFile.new(db.path)
    live.append([(0, user(1))])
    assert replay_spills(db) == 0  # the owner holds its lock: left alone
    assert live.path.exists()
    writer = Writer(db, **FAST)  # a writer starting now does not adopt it either
    assert writer.health().ok and writer.health().spilled_ops == 0
    writer.close()
    live.append([(1, user(2))])  # the owner goes on appending to the same file
    live.release()  # ... and ends
    assert replay_spills(db) == 2
    assert db.rows("SELECT id FROM users ORDER BY id") == [("u0001",), ("u0002",)]
    assert not live.path.exists()
    db.close()


def test_a_spill_file_is_locked_before_its_name_appears(tmp_path: Path) -> None:
    made = SpillFile.new(tmp_path / "n.duckdb")
    made.append([(0, user(1))])
    assert SpillFile.claim(made.path) is None  # its owner holds it
    assert not list(tmp_path.glob("*.claiming-*"))  # renamed into place
    made.release()
    claimed = SpillFile.claim(made.path)
    assert claimed is not None and claimed.id == made.id
    claimed.release()


def test_a_bad_row_in_a_spill_is_set_aside_and_the_rest_applied_in_one_go(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "b.duckdb")
    migrate(db)
    ops: list[Op] = [user(i) for i in range(12)]  # one Arrow group
    ops[5] = Insert("users", {"id": "u0001", "name": "again", "created_at": T0})  # id taken
    left = SpillFile.new(db.path)
    left.append(list(enumerate(ops)))
    left.release()
    assert replay_spills(db) == 11
    assert db.one("SELECT count(*) FROM users") == (11,)
    assert db.one("SELECT ops FROM applied_spills") == (11,)
    (line,) = db.path.with_name("b.duckdb.rejected.jsonl").read_text().splitlines()
    assert decode_op(json.loads(line)["op"]) == ops[5]
    db.close()


def test_a_chunk_cut_short_is_ignored_and_a_rewritten_one_counts_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.duckdb")
    migrate(db)
    kept = SpillFile.new(db.path)
    kept.append([(0, user(0)), (1, user(1))])
    with open(kept.path, "a") as f:  # a failed append: lines without their end marker
        f.write('\n{"seq":2,"op":"insert","table":"users","row":{"id":"u0002"')
    kept.append([(2, user(2)), (3, user(3))])
    kept.append([(3, user(3)), (4, user(4))])  # seq 3 again: an append whose fsync failed
    assert [seq for seq, _ in read_spill(kept.path)] == [0, 1, 2, 3, 4]
    kept.release()
    assert replay_spills(db) == 5
    assert db.one("SELECT count(*) FROM users") == (5,)
    db.close()


def test_a_spill_whose_fsync_failed_is_written_back_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync_fails(fd: int) -> None:  # the chunks reach the file, the writer cannot know it
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(spill.os, "fsync", fsync_fails)
    db, writer = harness.open(max_pending_ops=5)
    db.failing = True
    conv, ids, ops = conversation_and_messages(12)
    writer.submit(*ops)
    assert writer.flush(timeout=5) is False
    time.sleep(0.2)  # a few more spill attempts fail the same way
    health = writer.health()
    assert health.spilled_ops == 0 and health.waiting_ops == len(ops) and health.spill_error
    (path,) = spill_files(db.path)
    assert len(read_spill(path)) == len(ops)  # in the file and in memory
    db.failing = False
    wait_ok(writer)
    assert stored_messages(db) == ids  # each message once (messages have no key to stop a dup)
    assert db.one("SELECT title FROM conversations WHERE id = ?", [conv]) == ("renamed",)
    assert not path.exists()


def test_writer_adopts_spill_files_replay_could_not_write(harness: Harness) -> None:
    db = FlakyDatabase(harness.folder / "x.duckdb")
    migrate(db)
    left = SpillFile.new(db.path)
    left.append([(0, user(1)), (1, user(2))])
    left.release()  # its process has ended
    db.failing = True  # replay_spills would fail now: the writer must keep the file first
    harness.db, harness.writer = db, Writer(db, **FAST)
    harness.writer.submit(Execute("UPDATE users SET name = 'newer' WHERE id = ?", ["u0001"]))
    assert harness.writer.flush(timeout=5) is False
    assert harness.writer.health().waiting_ops == 3
    db.failing = False
    wait_ok(harness.writer)
    assert db.rows("SELECT name FROM users ORDER BY id") == [("newer",), ("user 2",)]
    assert spill_files(db.path) == []


# --- bad rows, checkpoints, close ----------------------------------------------------------


def test_bad_rows_are_set_aside_with_their_error(harness: Harness) -> None:
    db, writer = harness.open()
    ops = [user(i) for i in range(10)]
    ops[3] = Insert("users", {"id": "dup", "name": "user 1", "created_at": T0})  # name taken
    ops[6] = Insert("users", {"id": "bad", "name": "bad", "created_at": "not a time"})
    writer.submit(*ops)
    assert writer.flush()
    assert db.one("SELECT count(*) FROM users") == (8,)
    health = writer.health()
    assert health.ok and health.rejected_ops == 2
    assert health.rejected_path == db.path.with_name("x.duckdb.rejected.jsonl")
    lines = [json.loads(x) for x in health.rejected_path.read_text().splitlines()]
    assert [decode_op(x["op"]) for x in lines] == [ops[3], ops[6]]
    assert "Constraint" in lines[0]["error"] and "Conversion" in lines[1]["error"]
    assert all(datetime.fromisoformat(x["at"]).tzinfo for x in lines)


def test_periodic_checkpoint_makes_the_file_alone_hold_the_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.duckdb")
    migrate(db)
    writer = Writer(db, checkpoint_interval_s=0.1)
    writer.submit(*[user(i) for i in range(30)])
    assert writer.flush()

    def copy_holds_rows() -> bool:
        copy = tmp_path / f"copy-{time.monotonic_ns()}.duckdb"
        shutil.copyfile(db.path, copy)  # without the .wal
        try:
            with duckdb.connect(str(copy), read_only=True) as con:
                return con.execute("SELECT count(*) FROM users").fetchone() == (30,)
        except duckdb.Error:
            return False

    assert wait_until(copy_holds_rows, 3)
    writer.close()
    db.close()


def test_close_while_failing_spills_what_is_queued(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    db, writer = harness.open()
    db.failing = True
    writer.submit(*[user(i) for i in range(30)])
    with caplog.at_level(logging.ERROR):
        writer.close()
    assert "30 ops kept" in caplog.text
    (left,) = spill_files(db.path)
    assert len(read_spill(left)) == 30
    db.close()
    harness.db = harness.writer = None
    again = Database(db.path)
    assert replay_spills(again) == 30
    assert again.one("SELECT count(*) FROM users") == (30,)
    again.close()


def test_close_while_failing_logs_loudly_what_cannot_be_kept(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: SpillFile, items: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SpillFile, "append", no_space)
    db, writer = harness.open()
    db.failing = True
    writer.submit(*[user(i) for i in range(7)])
    with caplog.at_level(logging.ERROR):
        writer.close()
    assert any(
        r.levelno == logging.CRITICAL and "7 ops could NOT be kept" in r.getMessage()
        for r in caplog.records
    )


def test_submit_and_flush_never_block_while_failing(harness: Harness) -> None:
    db, writer = harness.open(max_pending_ops=50)
    db.failing = True
    started = time.monotonic()
    for i in range(2000):
        writer.submit(user(i))
    assert writer.flush(timeout=10) is False
    assert time.monotonic() - started < 2.0
    assert writer.health().waiting_ops == 2000
    db.failing = False
    wait_ok(writer)
    assert db.one("SELECT count(*) FROM users") == (2000,)


# --- the codec -------------------------------------------------------------------------------


def test_codec_round_trips_every_value_kind_exactly() -> None:
    row = {
        "s": "text é \udc80 \x00",
        "i": 2**62,
        "f": 0.1,
        "nan": float("nan"),
        "inf": float("-inf"),
        "t": True,
        "n": None,
        "utc": T0,
        "plus2": datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        "naive": datetime(2024, 1, 1, 12),
        "tags": ["a", "b", ""],
        "json": '{"k": [1, 2]}',
        "dict": {"$datetime": "not a tag", "nested": [1, {"x": T0}]},
        "tuple": (1, "a"),
        "dec": Decimal("1.10"),
        "bytes": b"\x00\xff",
    }
    ops: list[Op] = [
        Insert("t", row),
        Execute("UPDATE t SET a = ? WHERE b = ?", ["x", T0]),
        Execute("UPDATE t SET a = $a", {"a": [T0, None]}),
        Execute("CHECKPOINT"),
    ]
    for op in ops:
        back = decode_op(json.loads(json.dumps(encode_op(op))))
        if isinstance(op, Insert):
            assert isinstance(back, Insert)
            for key, value in op.row.items():
                got = back.row[key]
                assert type(got) is type(value), key
                assert got == value or (value != value and got != got), key
            assert back.row["plus2"].utcoffset() == timedelta(hours=2)
            assert back.row["naive"].tzinfo is None
        else:
            assert back == op
