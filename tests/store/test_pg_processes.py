"""Several app processes on one PostgreSQL store: what one writes the other lists, concurrent
writes lose and repeat nothing, a name is claimed once, and a worker killed mid-stream leaves
an interrupted row that a live process files (while its own live answer is left alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aeries.store.conversations import list_conversations
from aeries.store.db import Database
from aeries.store.inflight import recover_inflight
from aeries.store.migrations.pg import PG_MIGRATIONS
from tests.helpers import ROOT, wait_until

pytestmark = pytest.mark.timeout(180)

_WRITER = textwrap.dedent(
    """
    import sys
    from aeries.auth.names import name_key
    from aeries.messages import Message
    from aeries.store.conversations import new_conversation, save_message
    from aeries.store.db import Database
    from aeries.store.migrations import migrate
    from aeries.store.users import NameTaken, create_account
    from aeries.store.writer import Writer
    from aeries.chat import user_message

    url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = Database(url, local_base=__import__("pathlib").Path(sys.argv[4]))
    migrate(db)  # both start together: one migrates, the other finds it done
    print("READY", flush=True)
    sys.stdin.readline()  # go
    try:
        create_account(db, "Shared Name", name_key("Shared Name"), "name")
        print("CLAIMED", flush=True)
    except NameTaken:
        print("TAKEN", flush=True)
    writer = Writer(db)
    for i in range(count):
        conv = new_conversation(writer, "u", f"{tag} {i}")
        parent = None
        for j in range(3):
            message = user_message(conv.id, parent, f"{tag} {i}.{j}")
            save_message(writer, "u", message)
            parent = message.id
    assert writer.flush(timeout=60)
    writer.close()
    db.close()
    print("DONE", flush=True)
    """
)


def _spawn(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(child: subprocess.Popen[str], marker: str, timeout: float = 60) -> list[str]:
    assert child.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while marker not in (line := child.stdout.readline()):
        assert line or child.poll() is None, f"the child exited early: {''.join(seen)}"
        assert time.monotonic() < deadline, "".join(seen)
        seen.append(line)
    seen.append(line)
    return seen


def test_two_processes_write_at_once_and_each_lists_the_others_rows(
    pg_url: str, tmp_path: Path
) -> None:
    # pg_url is empty: the two processes race to migrate it.
    children = [_spawn(_WRITER, pg_url, tag, "150", str(tmp_path / tag)) for tag in ("A", "B")]
    try:
        for child in children:
            _read_until(child, "READY")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        said = ["".join(_read_until(child, "DONE", 120)) for child in children]
        for child in children:
            assert child.wait(30) == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    # Exactly one of them took the name.
    assert sorted("CLAIMED" in s for s in said) == [False, True]
    db = Database(pg_url, local_base=tmp_path / "reader")
    try:
        assert db.one("SELECT count(*) FROM schema_migrations") == (len(PG_MIGRATIONS),)
        assert db.one("SELECT count(*), count(DISTINCT id) FROM conversations") == (300, 300)
        assert db.one("SELECT count(*), count(DISTINCT id) FROM messages") == (900, 900)
        assert db.one("SELECT count(*) FROM users WHERE name = 'Shared Name'") == (1,)
        counts = db.rows("SELECT DISTINCT message_count FROM conversations")
        assert counts == [(3,)]  # every increment landed, none twice
        # What either process made, any process lists.
        listed = list_conversations(db, "u", limit=1000)
        titles = {c.title for c in listed}
        assert {"A 0", "A 149", "B 0", "B 149"} <= titles and len(listed) == 300
    finally:
        db.close()


_STREAMER = textwrap.dedent(
    """
    import sys, time
    from aeries.config import load_settings
    from aeries.runtime import build_runtime
    from aeries.chat import Turn, TurnSpec, user_message
    from aeries.llm import Sampling
    from aeries.store.conversations import new_conversation, save_message

    rt = build_runtime(load_settings(secrets={}))
    conv = new_conversation(rt.writer, sys.argv[2], "story")
    question = user_message(conv.id, None, "story")
    save_message(rt.writer, sys.argv[2], question)
    spec = TurnSpec(sys.argv[2], conv.id, sys.argv[1], "sim-llama-3.1-8b",
                    Sampling(max_tokens=4000))
    turn = Turn(rt, spec, [question])
    turn.record._refresh_s = 0.2  # the live one refreshes often: only the dead one goes stale
    for i, delta in enumerate(turn.stream):
        if i == 10:
            rt.writer.flush()
            print("STREAMING", flush=True)
    for _ in range(600):
        time.sleep(0.1)
    """
)


def test_a_worker_killed_mid_stream_is_filed_by_a_live_one_and_a_live_stream_is_not(
    pg_migrated_url: str, tmp_path: Path, sim
) -> None:
    sim.config.ttft_ms, sim.config.itl_ms, sim.config.tokens = 20, 30, 3000
    env = {"AERIES_DB": pg_migrated_url, "AERIES_BASE_URL": sim.base_url}
    # Two workers, each in its own folder (their spill and key files), streaming at once.
    folders = [tmp_path / "w1", tmp_path / "w2"]
    for folder in folders:
        folder.mkdir()
    doomed, alive = (
        subprocess.Popen(
            [sys.executable, "-c", _STREAMER, sim.base_url, user],
            cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for folder, user in zip(folders, ("doomed", "alive"), strict=True)
    )
    db = Database(pg_migrated_url, local_base=tmp_path / "sweeper")
    try:
        _read_until(doomed, "STREAMING")
        _read_until(alive, "STREAMING")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        time.sleep(2.0)  # the dead one's row ages; the live one's is refreshed every 0.2 s
        assert recover_inflight(db, older_than_s=1.5) == 1
        row = db.one("SELECT user_id, status, chunk_count FROM exchanges WHERE source = 'chat'")
        assert row is not None and row[:2] == ("doomed", "interrupted") and row[2] > 0
        assert db.rows("SELECT user_id FROM inflight") == [("alive",)]  # left to its owner
        assert db.one(
            "SELECT status FROM messages WHERE role = 'assistant' AND conversation_id IN "
            "(SELECT id FROM conversations WHERE user_id = 'doomed')"
        ) == ("interrupted",)
        # Filed once: a second sweep (another process) finds nothing more of it.
        assert recover_inflight(db, older_than_s=1.5) == 0
        assert wait_until(lambda: alive.poll() is None, 0.1)
    finally:
        for child in (doomed, alive):
            if child.poll() is None:
                child.kill()
                child.wait(10)
        db.close()
