"""An answer being streamed is on disk from its first token: a crash leaves an 'interrupted'
exchange (and answer) with what was shown; a clean end leaves no trace in ``inflight``; a clean
stop waits for the observer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from aeries.chat import Turn, TurnSpec, user_message
from aeries.llm import Sampling
from aeries.store.conversations import load_messages, new_conversation, save_message
from aeries.store.db import Database
from aeries.store.inflight import INTERRUPTED_ERROR, recover_inflight
from aeries.store.migrations import migrate
from tests.helpers import ROOT, wait_until

MODEL = "sim-llama-3.1-8b"


def _turn(runtime, sim, text="tell me a long story"):
    conv = new_conversation(runtime.writer, "u", text)
    question = user_message(conv.id, None, text)
    save_message(runtime.writer, "u", question)
    spec = TurnSpec("u", conv.id, sim.base_url, MODEL, Sampling(max_tokens=2000))
    return conv, question, Turn(runtime, spec, [question])


def test_the_record_appears_at_the_first_token_and_grows(runtime, sim):
    sim.config.ttft_ms, sim.config.itl_ms, sim.config.tokens = 300, 20, 200
    _, _, turn = _turn(runtime, sim)
    turn.record._refresh_s = 0.2  # refreshed every 2 s in the app; faster here
    runtime.writer.flush()
    # Sent, but no token yet: nothing in flight (never written before the request is out).
    assert runtime.db.one("SELECT count(*) FROM inflight") == (0,)
    stream = iter(turn.stream)
    next(stream)
    assert wait_until(lambda: runtime.writer.flush() and _inflight(runtime.db) is not None, 3)
    first = _inflight(runtime.db)
    time.sleep(0.8)
    runtime.writer.flush()
    later = _inflight(runtime.db)
    assert later is not None and len(later) > len(first)  # refreshed while streaming
    for _ in stream:
        pass
    turn.finish()
    runtime.writer.flush()
    assert runtime.db.one("SELECT count(*) FROM inflight") == (0,)  # a clean end: gone
    assert runtime.db.one("SELECT status FROM exchanges WHERE source='chat'") == ("ok",)


def _inflight(db: Database) -> str | None:
    row = db.one("SELECT response_text FROM inflight")
    return row[0] if row else None


def test_recovery_files_an_interrupted_exchange_and_answer(runtime, sim):
    sim.config.ttft_ms, sim.config.itl_ms, sim.config.tokens = 20, 20, 300
    conv, question, turn = _turn(runtime, sim)
    stream = iter(turn.stream)
    for _ in range(5):
        next(stream)
    assert wait_until(lambda: runtime.writer.flush() and _inflight(runtime.db) is not None, 3)
    shown = _inflight(runtime.db)
    # The process "dies" here: the stream is never finished. A new start files the record.
    turn.stream.abort()
    filed = recover_inflight(runtime.db)
    assert filed == 1
    row = runtime.db.one(
        "SELECT status, error_kind, error, response_text, ttft_ms, user_id, conversation_id "
        "FROM exchanges WHERE source = 'chat'"
    )
    assert row[:3] == ("interrupted", "interrupted", INTERRUPTED_ERROR)
    assert row[3] == shown and row[4] is not None and row[5:] == ("u", conv.id)
    messages = load_messages(runtime.db, "u", conv.id)
    assert [(m.role, m.status) for m in messages] == [("user", None), ("assistant", "interrupted")]
    assert messages[1].content == shown and messages[1].parent_id == question.id
    assert runtime.db.one("SELECT message_count, current_leaf_id FROM conversations") == (
        2,
        messages[1].id,
    )
    assert recover_inflight(runtime.db) == 0  # once only


def test_a_record_whose_answer_ended_is_not_filed_twice(runtime, sim):
    _, _, turn = _turn(runtime, sim)
    turn.stream.collect()
    turn.finish()
    runtime.writer.flush()
    # As if the process died between writing the final rows and deleting the record.
    runtime.db.execute(
        "INSERT INTO inflight (exchange_id, exchange, response_text, updated_at) "
        "SELECT id, CAST('{\"id\": \"' || id || '\"}' AS JSON), 'x', now() "
        "FROM exchanges WHERE source = 'chat'"
    )
    recover_inflight(runtime.db)
    assert runtime.db.one("SELECT count(*) FROM exchanges WHERE source='chat'") == (1,)
    assert runtime.db.one("SELECT count(*) FROM messages WHERE role='assistant'") == (1,)
    assert runtime.db.one("SELECT count(*) FROM inflight") == (0,)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from aeries.config import load_settings
    from aeries.runtime import build_runtime
    from aeries.chat import Turn, TurnSpec, user_message
    from aeries.llm import Sampling
    from aeries.store.conversations import new_conversation, save_message

    rt = build_runtime(load_settings(secrets={}))
    conv = new_conversation(rt.writer, "u", "story")
    question = user_message(conv.id, None, "story")
    save_message(rt.writer, "u", question)
    spec = TurnSpec("u", conv.id, sys.argv[1], "sim-llama-3.1-8b", Sampling(max_tokens=2000))
    turn = Turn(rt, spec, [question])
    for i, delta in enumerate(turn.stream):
        if i == 10:
            rt.writer.flush()
            print("STREAMING", flush=True)
    time.sleep(60)
    """
)


@contextlib.contextmanager
def child_until(script: str, marker: str, db_path: Path, base_url: str):
    """A child process running ``script`` on its own database, yielded once it prints
    ``marker``; killed afterwards if it is still running."""
    env = {**os.environ, "AERIES_DB": str(db_path), "AERIES_BASE_URL": base_url}
    child = subprocess.Popen(
        [sys.executable, "-c", script, base_url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 30
        while marker not in (line := child.stdout.readline()):
            assert line or child.poll() is None, "the child exited early"
            assert time.monotonic() < deadline
        yield child
    finally:
        if child.poll() is None:
            child.kill()


def test_kill_9_mid_stream_leaves_an_interrupted_row_with_the_partial_text(tmp_path: Path, sim):
    """A real process killed with SIGKILL while an answer streams; the next start files it."""
    sim.config.ttft_ms, sim.config.itl_ms, sim.config.tokens = 20, 30, 1000
    db_path = tmp_path / "crash.duckdb"
    with child_until(_CHILD, "STREAMING", db_path, sim.base_url) as child:
        time.sleep(2.5)  # at least one refresh of the partial text (every 2 s)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    db = Database(db_path)
    migrate(db)
    assert db.one("SELECT count(*) FROM exchanges") == (0,)  # the final row never came
    assert recover_inflight(db) == 1  # what the next start does
    status, text, chunks = db.one(
        "SELECT status, response_text, chunk_count FROM exchanges WHERE source = 'chat'"
    )
    assert status == "interrupted" and chunks and chunks > 10
    assert len(text) > 0
    assert db.one("SELECT status, content FROM messages WHERE role = 'assistant'") == (
        "interrupted",
        text,
    )
    db.close()


_STOPPED_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from aeries.config import load_settings
    from aeries.runtime import build_runtime
    from aeries.chat import Turn, TurnSpec, user_message
    from aeries.llm import Sampling
    from aeries.store.conversations import new_conversation, save_message

    # What Streamlit does on SIGTERM: stop serving, then exit normally (exit hooks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    rt = build_runtime(load_settings(secrets={}))
    conv = new_conversation(rt.writer, "u", "hello")
    question = user_message(conv.id, None, "hello")
    save_message(rt.writer, "u", question)
    spec = TurnSpec("u", conv.id, sys.argv[1], "sim-llama-3.1-8b", Sampling())
    turn = Turn(rt, spec, [question])
    turn.stream.collect()
    turn.finish()  # hands the answer to the observer, whose call takes a while
    print("ANSWERED", flush=True)
    # Short sleeps, not one long one: the kernel may deliver SIGTERM to a worker thread, and
    # then Python runs the handler only when the main thread's sleep returns (Streamlit's
    # event loop wakes on its signal fd; a plain sleep does not).
    for _ in range(600):
        time.sleep(0.1)
    """
)


def test_a_clean_stop_right_after_an_answer_keeps_the_observers_work(tmp_path: Path, sim):
    sim.config.ttft_ms = 1200  # the observer's call is still running when the stop comes
    db_path = tmp_path / "stopped.duckdb"
    with child_until(_STOPPED_CHILD, "ANSWERED", db_path, sim.base_url) as child:
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0
    db = Database(db_path)
    assert db.one("SELECT count(*) FROM exchanges WHERE source = 'observer'") == (1,)
    assert db.one("SELECT count(*) FROM signals WHERE kind = 'observer'")[0] >= 4
    assert db.one("SELECT count(*) FROM exchanges WHERE source = 'chat'") == (1,)
    db.close()
