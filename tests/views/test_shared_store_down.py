"""The shared store (PostgreSQL) going away, as a participant meets it: down at start is a
clear message (and the app opens once it is back); stopped mid-run is the same "not being
saved" behaviour as a full disk in the embedded store, and every row lands once it returns."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from aeries.store.pg_server import PostgresServer, free_port
from aeries.ui.store_health import NOT_SENT
from tests.helpers import app_runtime, participant_link, problem_texts, send, wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.own_store]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, env) -> Iterator[PostgresServer]:
    """A server of this test's own (fixed port: a restart keeps the URL) as the app's store."""
    with PostgresServer.temporary(port=free_port(), fsync=False) as own:
        own.create_database("aeries")
        monkeypatch.setenv("AERIES_DB", own.url("aeries"))
        yield own


def test_a_store_down_at_start_is_a_clear_message_and_the_app_opens_once_it_is_back(
    app, server: PostgresServer
) -> None:
    server.stop()
    at = app().run()
    assert not at.exception
    shown = problem_texts(at)
    assert "could not be opened" in shown and "not reachable" in shown
    assert not at.chat_input
    server.start()
    at = app().run()  # a reload
    assert not at.exception and not problem_texts(at)


def test_a_store_stopped_mid_run_is_said_and_everything_lands_once_it_returns(
    app, server: PostgresServer, sim
) -> None:
    at = app(participant_link({}, "alice")).run()
    send(at, "first, while the store is up")
    rt = app_runtime()
    assert rt.writer.flush()
    # The server stops while the next answer streams: the failure is not known at send.
    sim.config.itl_ms, sim.config.tokens = 30, 100
    stopper = threading.Timer(0.6, server.stop)
    stopper.start()
    send(at, "second, as the store goes away")
    stopper.join()
    assert not at.exception
    assert wait_until(lambda: not rt.writer.health().ok, 15)
    at.run()
    assert not at.exception
    assert "not being saved right now" in problem_texts(
        at
    ) or "cannot read or write" in problem_texts(at)
    send(at, "third, while the store is away")
    assert not at.exception
    # The page could not read the store: it says so, and gives the message back to copy
    # (never taken, never sent to the model) instead of dropping it.
    assert NOT_SENT in problem_texts(at)
    assert any("third, while the store is away" in c.value for c in at.code)
    requests = [r for r in sim.stats.requests_log if "response_format" not in r]
    assert not any("while the store is away" in str(r["messages"]) for r in requests)
    server.start()
    assert wait_until(lambda: rt.writer.health().ok, 30), rt.writer.health()
    assert rt.writer.flush()
    rows = rt.db.rows("SELECT content FROM messages WHERE role = 'user' ORDER BY created_at")
    assert [r[0] for r in rows] == [
        "first, while the store is up",
        "second, as the store goes away",
    ]
    assert rt.db.one("SELECT count(*) FROM exchanges WHERE source = 'chat'") == (2,)
    at.run()
    assert not at.exception and "not being saved" not in problem_texts(at)
