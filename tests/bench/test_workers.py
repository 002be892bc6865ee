"""bench_workers' row check: every session's rows in the shared store exactly once, a missing
row counted as lost and an extra one as duplicated (the figures are only worth having if no
answer went missing on the way to the store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aeries.store.db import Database
from aeries.store.migrations import migrate
from bench.bench_sessions import Batch
from bench.bench_workers import (
    EXPECTED_ROWS,
    check_rows,
    first_token_window,
    spread,
    store_counts,
    window_cores,
)
from bench.ws_client import Turn

WHOLE = {"conversations": 1, "user messages": 2, "answers": 2, "chat exchanges": 2}


def test_the_expected_rows_are_one_conversation_and_two_of_each_turn() -> None:
    assert EXPECTED_ROWS == WHOLE


def test_sessions_with_every_row_once_pass() -> None:
    check = check_rows({"a": WHOLE, "b": dict(WHOLE)}, ["a", "b"])
    assert (check.sessions, check.lost, check.duplicated, check.problems) == (2, 0, 0, [])
    assert check.ok


def test_a_missing_answer_is_lost_and_an_exchange_written_twice_is_duplicated() -> None:
    counts = {
        "a": WHOLE | {"answers": 1},
        "b": WHOLE | {"chat exchanges": 3},
        "c": WHOLE,
    }
    check = check_rows(counts, ["a", "b", "c"])
    assert (check.lost, check.duplicated) == (1, 1)
    assert not check.ok
    assert check.problems == [
        "a: 1 answers (expected 2)",
        "b: 3 chat exchanges (expected 2)",
    ]


def test_a_session_the_store_never_saw_has_lost_all_its_rows() -> None:
    check = check_rows({}, ["gone"])
    assert check.lost == sum(WHOLE.values())
    assert check.problems == [
        "gone: 0 conversations (expected 1), 0 user messages (expected 2), "
        "0 answers (expected 2), 0 chat exchanges (expected 2)"
    ]


def test_the_counts_come_from_the_store_per_account(tmp_path: Path) -> None:
    # The SQL the bench runs on PostgreSQL is portable; DuckDB checks its shape here.
    db = Database(tmp_path / "t.duckdb")
    try:
        migrate(db)
        now = datetime.now(UTC)
        db.execute(
            "INSERT INTO conversations (id, user_id, title, created_at) VALUES (?, ?, ?, ?)",
            ["c1", "u1", "tea", now],
        )
        for i, role in enumerate(["user", "assistant", "user", "assistant", "assistant"]):
            db.execute(
                "INSERT INTO messages (id, conversation_id, role, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [f"m{i}", "c1", role, "text", now],
            )
        for i, source in enumerate(["chat", "chat", "observer"]):
            db.execute(
                "INSERT INTO exchanges (id, user_id, source, model, status, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [f"e{i}", "u1", source, "sim", "ok", now],
            )
        counts = store_counts(db, ["u1", "u2"])
    finally:
        db.close()
    assert counts == {
        "u1": {"conversations": 1, "user messages": 2, "answers": 3, "chat exchanges": 2},
        "u2": {},
    }
    check = check_rows(counts, ["u1", "u2"])
    assert (check.lost, check.duplicated) == (sum(WHOLE.values()), 1)


def test_the_spread_counts_sessions_per_worker() -> None:
    batch = Batch(4, workers=["1", "0", "1", "1"])
    assert spread(batch) == "w0 1 / w1 3"


def test_the_cores_of_a_window_are_read_between_samples() -> None:
    # worker: 1 core from t=0 to t=2, then idle; sim: half a core throughout; client: only
    # read from t=1 (its meter failed before), so a window starting earlier leaves it out.
    samples = [
        (0.0, {"worker": 10.0, "sim": 0.0}),
        (1.0, {"worker": 11.0, "sim": 0.5, "client": 3.0}),
        (2.0, {"worker": 12.0, "sim": 1.0, "client": 3.2}),
        (4.0, {"worker": 12.0, "sim": 2.0, "client": 3.6}),
    ]
    assert window_cores(samples, 0.5, 1.5) == {"worker": 1.0, "sim": 0.5}
    assert window_cores(samples, 1.0, 4.0) == pytest.approx(
        {"worker": 1 / 3, "sim": 0.5, "client": 0.2}
    )
    assert window_cores(samples, 3.0, 5.0) == {}  # past the last sample
    assert window_cores(samples, 2.0, 2.0) == {}


def test_the_first_token_window_runs_from_the_first_submit_to_the_last_first_token() -> None:
    batch = Batch(
        3,
        first=[
            Turn("q", sent_at=10.0, first_text_at=10.3),
            Turn("q", sent_at=10.1, first_text_at=11.5),
            Turn("q", sent_at=10.05),  # no answer text: it bounds nothing at the end
        ],
    )
    assert first_token_window(batch) == (10.0, 11.5)
    assert first_token_window(Batch(0)) is None
