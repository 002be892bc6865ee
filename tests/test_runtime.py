"""Endpoint rule, secrets hygiene, and the chat page's stop path."""

from __future__ import annotations

import pytest

from aeries.config import load_settings
from aeries.llm import RESTING
from aeries.runtime import build_runtime
from tests.helpers import db_rows, send, wait_until


@pytest.fixture
def no_vllm(monkeypatch, tmp_path):
    """Nothing configured; make sure nothing answers on localhost:8000 for this test."""
    from aeries import runtime as runtime_module

    monkeypatch.delenv("AERIES_BASE_URL", raising=False)
    monkeypatch.setenv("AERIES_DB", str(tmp_path / "a.duckdb"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runtime_module, "DEFAULT_BASE_URL", "http://127.0.0.1:9/v1")


def test_without_vllm_the_simulator_starts_and_serves_models(no_vllm):
    rt = build_runtime(load_settings(secrets={}))
    try:
        assert rt.simulated
        assert rt.endpoints[0].startswith("http://127.0.0.1:")
        assert {m.id for m in rt.models()} >= {"sim-llama-3.1-8b", "sim-qwen3-8b"}
    finally:
        rt.close()


def test_banner_says_answers_are_simulated(no_vllm):
    from streamlit.testing.v1 import AppTest

    from aeries.ui.resources import clear_runtime
    from tests.helpers import ROOT

    clear_runtime()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
        assert not at.exception
        assert any("Answers are simulated" in i.value for i in at.info)
        send(at, "hello simulator")
        assert not at.exception
        assert not at.error
    finally:
        clear_runtime()


def test_configured_endpoint_down_never_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("AERIES_BASE_URL", "http://127.0.0.1:9/v1")
    rt = build_runtime(
        load_settings(
            {"AERIES_BASE_URL": "http://127.0.0.1:9/v1", "AERIES_DB": str(tmp_path / "d.duckdb")},
            {},
        )
    )
    try:
        assert not rt.simulated and rt.sims == []
        status = rt.endpoint_status()
        assert [s.ok for s in status] == [False]
        assert status[0].error == RESTING
        assert rt.models() == []
    finally:
        rt.close()


def test_api_key_and_url_credentials_never_reach_the_database(app, env, monkeypatch, sim):
    secret = "sekrit-key-4242"
    url = sim.base_url.replace("http://", "http://user:pw-9191@")
    monkeypatch.setenv("AERIES_API_KEY", secret)
    monkeypatch.setenv("AERIES_BASE_URL", url)
    at = app().run()
    send(at, "is my key safe?")
    assert not at.exception
    assert db_rows(env, "SELECT endpoint FROM exchanges WHERE source='chat'") == [(sim.base_url,)]
    from aeries.config import load_settings as load
    from aeries.ui.resources import _runtime

    rt = _runtime(load(secrets={}))
    rt.writer.flush()
    assert rt.observer.drain(10)
    if rt.db.dialect == "duckdb":
        rt.db.execute("CHECKPOINT")
        from pathlib import Path

        raw = Path(env["AERIES_DB"]).read_bytes()  # every byte of the file, not just its rows
    else:  # every row of every table, as text
        tables = rt.db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        raw = "\n".join(
            str(row) for (table,) in tables for row in rt.db.rows(f"SELECT * FROM {table}")
        ).encode()
        assert sim.base_url.encode() in raw  # the check can find what it looks for
    assert secret.encode() not in raw and b"pw-9191" not in raw


def test_stopping_the_script_mid_stream_aborts_upstream_and_logs_partial(runtime, sim, monkeypatch):
    """What Stop (or a rerun) does on the chat page: Streamlit raises inside the render loop."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from aeries.chat import Turn, TurnSpec, user_message
    from aeries.llm import Sampling
    from aeries.store.conversations import new_conversation
    from aeries.ui.chat import turns
    from aeries.ui.chat.state import ChatView

    sim.config.tokens, sim.config.itl_ms = 300, 10

    def render_then_stop(stream, interval_s=0.05):
        for i, _ in enumerate(stream):
            if i == 4:
                raise StopException()

    monkeypatch.setattr(turns, "render_stream", render_then_stop)
    monkeypatch.setattr(turns, "remember", lambda view, url=True: None)
    conv = new_conversation(runtime.writer, "u", "stop me")
    view = ChatView("u", conv)
    question = user_message(conv.id, None, "stop me")
    view.tree.add(question)
    spec = TurnSpec("u", conv.id, sim.base_url, "sim-llama-3.1-8b", Sampling())
    turn = Turn(runtime, spec, [question])
    with pytest.raises(StopException):
        turns.stream_turn(runtime, view, turn)
    runtime.writer.flush()
    status, text = runtime.db.one("SELECT status, response_text FROM exchanges WHERE source='chat'")
    assert status == "aborted" and text and len(text) < 300 * 3
    assert runtime.db.one("SELECT status FROM messages WHERE role='assistant'") == ("aborted",)
    assert wait_until(lambda: sim.stats.disconnects >= 1)
    assert runtime.db.one(
        "SELECT count(*) FROM signals WHERE kind='implicit' AND name='abort'"
    ) == (1,)
