"""The shared store's real faults, on a PostgreSQL server of the test's own (stopped, killed
and restarted here): rows wait while it is away and land once, exactly, when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aeries.store import postgres as pg_engine
from aeries.store.db import Database, DatabaseError, is_storage_error, store_errors
from aeries.store.migrations import migrate
from aeries.store.pg_server import PostgresServer, free_port
from aeries.store.writer import Insert, Writer
from tests.helpers import wait_until

FAST = {"max_delay_s": 0.005, "retry_initial_s": 0.05, "retry_max_s": 0.3}
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of this test's own, on a fixed port (a restart keeps its URL)."""
    with PostgresServer.temporary(port=free_port(), fsync=False) as own:
        own.create_database("aeries")
        yield own


def _open(server: PostgresServer, tmp_path: Path, **options: Any) -> Database:
    db = Database(server.url("aeries"), local_base=tmp_path / "pg", pool_timeout_s=1.0, **options)
    migrate(db)
    return db


def user(i: int) -> Insert:
    return Insert("users", {"id": f"u{i:04d}", "name": f"user {i}", "created_at": T0})


def _ids(db: Database) -> list[str]:
    return [r[0] for r in db.rows("SELECT id FROM users ORDER BY id")]


def test_a_server_down_at_start_is_a_clear_message(server: PostgresServer, tmp_path: Path) -> None:
    url = server.url("aeries")
    server.stop()
    with pytest.raises(DatabaseError) as caught:
        Database(url, local_base=tmp_path / "pg", connect_timeout_s=1.0)
    text = str(caught.value)
    assert "is not reachable" in text and "Start the server" in text
    server.start()  # back: the next start (a page reload) opens it
    db = Database(url, local_base=tmp_path / "pg")
    assert db.one("SELECT 1") == (1,)
    db.close()


def test_rows_written_while_the_server_is_down_land_once_it_returns(
    server: PostgresServer, tmp_path: Path
) -> None:
    db = _open(server, tmp_path)
    writer = Writer(db, **FAST)
    writer.submit(*[user(i) for i in range(10)])
    assert writer.flush(timeout=10)
    server.stop()
    writer.submit(*[user(i) for i in range(10, 40)])
    assert writer.flush(timeout=3) is False
    health = writer.health()
    assert not health.ok and health.problem == "the database server cannot be reached"
    assert health.waiting_ops == 30
    # Reads fail the way pages turn into a message (not a traceback).
    with pytest.raises(store_errors()) as caught:
        db.rows("SELECT count(*) FROM users")
    assert is_storage_error(caught.value)
    server.start()
    assert wait_until(lambda: writer.health().ok, 30), writer.health()
    assert _ids(db) == [f"u{i:04d}" for i in range(40)]  # every row, each once
    writer.close()
    db.close()


def test_rows_spilled_by_a_process_that_stopped_while_the_server_was_down_land_at_next_start(
    server: PostgresServer, tmp_path: Path
) -> None:
    db = _open(server, tmp_path)
    writer = Writer(db, **FAST, max_pending_ops=5)
    server.stop()
    writer.submit(*[user(i) for i in range(12)])
    assert writer.flush(timeout=2) is False
    writer.close(timeout=5)  # the app stops: what waits is in a spill file
    db.close()
    assert list((tmp_path).glob("pg.pending-*.jsonl"))
    server.start()
    from aeries.store.writer import replay_spills

    again = _open(server, tmp_path)
    assert replay_spills(again) == 12
    assert _ids(again) == [f"u{i:04d}" for i in range(12)]
    assert not list((tmp_path).glob("pg.pending-*.jsonl"))
    again.close()


def test_terminated_connections_are_replaced_and_nothing_is_lost(
    server: PostgresServer, tmp_path: Path
) -> None:
    db = _open(server, tmp_path)
    writer = Writer(db, **FAST)
    writer.submit(*[user(i) for i in range(5)])
    assert writer.flush(timeout=10)
    with server.connect("aeries") as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'aeries'"
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    writer.submit(*[user(i) for i in range(5, 25)])
    assert wait_until(lambda: writer.flush(timeout=1) and writer.health().ok, 30)
    assert _ids(db) == [f"u{i:04d}" for i in range(25)]
    writer.close()
    db.close()


def test_a_commit_whose_answer_is_lost_is_looked_up_not_repeated(
    server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _open(server, tmp_path)
    execute = pg_engine.PostgresCursor.execute
    lost = {"left": 1}

    def commit_then_lose_the_answer(
        self: pg_engine.PostgresCursor, sql: str, params: Any = None
    ) -> pg_engine.PostgresCursor:
        done = execute(self, sql, params)
        if sql == "COMMIT" and lost["left"]:
            lost["left"] -= 1  # the server committed; the client never heard
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return done

    monkeypatch.setattr(pg_engine.PostgresCursor, "execute", commit_then_lose_the_answer)
    writer = Writer(db, **FAST)
    writer.submit(*[user(i) for i in range(10)])
    assert writer.flush(timeout=10)
    assert lost["left"] == 0
    assert writer.health().ok and writer.rejected_ops == 0  # no second try of the batch
    assert _ids(db) == [f"u{i:04d}" for i in range(10)]  # once, not twice
    writer.close()
    db.close()
