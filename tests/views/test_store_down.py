"""When the database cannot be written, the pages say so plainly, refuse new messages instead of
pretending, and everything already sent lands once storage is back (AppTest).

The disk is really full where this machine allows a tmpfs mount (root); otherwise the exact error
DuckDB raises on a full disk is injected at the write.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from aeries.store.events import log_event
from aeries.ui.store_health import NOT_SENT, UNSAVED_ANSWER
from tests.helpers import app_runtime, participant_link, problem_texts, send, wait_until

FULL = (
    'TransactionContext Error: Failed to commit: Could not write file "x.wal": '
    "No space left on device"
)


pytestmark = pytest.mark.own_store  # a DuckDB file in a folder it fills or freezes


class Disk:
    """The app's database folder, made unable to take writes: a small tmpfs filled up
    (``full``), or the folder made immutable with ``chattr +i`` (``frozen``: not even root can
    create the write-ahead log then); where the machine allows neither, the error DuckDB gives
    on a full disk is injected at the write."""

    def __init__(self, folder: Path, kind: str) -> None:
        folder.mkdir()
        self.folder = folder
        self.kind = kind
        self.real = kind == "frozen"
        if kind == "full":
            mount = ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)]
            self.real = subprocess.run(mount, capture_output=True).returncode == 0

    def fill(self, rt) -> None:
        if self.kind == "frozen":
            rt.db.checkpoint()  # the WAL is gone: the next write must create it
            done = subprocess.run(["chattr", "+i", str(self.folder)], capture_output=True)
            self.real = done.returncode == 0
        elif self.real:
            with open(self.folder / "filler", "wb", buffering=0) as f:
                for size in (1 << 20, 1 << 16, 4096, 512, 1):
                    with contextlib.suppress(OSError):
                        while True:
                            f.write(b"\0" * size)
        if self.real:
            return
        original = rt.db.transaction

        @contextlib.contextmanager
        def failing() -> Iterator[duckdb.DuckDBPyConnection]:
            with rt.db.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                finally:
                    cur.execute("ROLLBACK")
            raise duckdb.TransactionException(FULL)

        rt.db.transaction = failing
        self._undo = lambda: setattr(rt.db, "transaction", original)

    def free(self) -> None:
        if self.kind == "frozen":
            subprocess.run(["chattr", "-i", str(self.folder)], capture_output=True)
        if not self.real:
            self._undo()
        elif self.kind == "full":
            (self.folder / "filler").unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run(["chattr", "-i", str(self.folder)], capture_output=True)
        if self.kind == "full" and self.real:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)


PROBLEMS = {"full": "disk holding the database is full", "frozen": "folder cannot be written"}


@pytest.fixture(params=["full", "frozen"])
def disk(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env) -> Iterator[Disk]:
    d = Disk(tmp_path / "small", request.param)
    monkeypatch.setenv("AERIES_DB", str(d.folder / "aeries.duckdb"))
    yield d
    try:
        d.free()
    finally:
        d.close()  # the folder is thawed even when the test failed


def test_a_full_disk_is_said_and_refused_then_everything_lands(app, disk, sim):
    at = app(participant_link({}, "alice")).run()
    send(at, "first, while the disk has room")
    rt = app_runtime()
    assert rt.writer.flush()
    disk.fill(rt)
    sim.config.itl_ms = 20  # the writer meets the full disk while this answer streams
    send(at, "second, as the disk fills")  # sent: the failure is not known yet
    assert UNSAVED_ANSWER in problem_texts(at)  # said under the answer that could not be saved
    assert wait_until(lambda: not rt.writer.health().ok, 10)
    at.run()
    shown = problem_texts(at)
    problem = PROBLEMS[disk.kind] if disk.real else PROBLEMS["full"]
    assert "not being saved right now" in shown and problem in shown
    send(at, "third, refused")
    assert NOT_SENT in problem_texts(at)
    assert any("third, refused" in c.value for c in at.code)  # given back to copy
    requests = [r for r in sim.stats.requests_log if "response_format" not in r]
    assert not any("third, refused" in str(r["messages"]) for r in requests)
    disk.free()
    assert wait_until(lambda: rt.writer.health().ok, 30)
    assert rt.writer.flush()
    rows = rt.db.rows("SELECT content FROM messages WHERE role = 'user' ORDER BY created_at")
    assert [r[0] for r in rows] == ["first, while the disk has room", "second, as the disk fills"]
    assert rt.db.one("SELECT count(*) FROM exchanges WHERE source = 'chat'") == (2,)
    assert rt.db.one("SELECT count(*) FROM inflight") == (0,)
    at.run()
    assert "not being saved" not in problem_texts(at)


def test_a_new_participant_gets_a_clear_message_not_a_traceback(app, disk, monkeypatch):
    monkeypatch.setattr("aeries.ui.identity.is_local", lambda rt: False)
    at = app().run()
    rt = app_runtime()
    disk.fill(rt)
    log_event(rt.writer, "probe", user_id=None, conversation_id=None, payload={})  # meets it
    assert wait_until(lambda: not rt.writer.health().ok, 10)
    at.text_input(key="aeries.signin.name").input("Newcomer")
    at.button[0].click().run()
    assert not at.exception
    assert "cannot save anything right now" in problem_texts(at)
    assert not at.chat_input
