"""Recovery of answers in flight when several processes share a store: only rows no process
has refreshed for a while are filed, each exactly once, however many processes look at once.
Runs on both engines."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.inflight import InflightSweeper, recover_inflight


def _in_flight(db: Database, *, age_s: float, text: str = "partial") -> str:
    """An inflight row, as a stream's first token leaves it, last refreshed ``age_s`` ago."""
    exchange_id = new_id()
    exchange = {
        "id": exchange_id,
        "user_id": "u",
        "source": "chat",
        "model": "sim-llama-3.1-8b",
        "status": "ok",
        "started_at": (utcnow() - timedelta(seconds=age_s + 1)).isoformat(),
    }
    db.execute(
        """INSERT INTO inflight (exchange_id, user_id, exchange, response_text, ttft_ms,
           chunk_count, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [
            exchange_id,
            "u",
            json.dumps(exchange),
            text,
            12.5,
            3,
            utcnow() - timedelta(seconds=age_s),
        ],
    )
    return exchange_id


def test_only_rows_stale_for_longer_than_the_threshold_are_filed(db: Database) -> None:
    live = _in_flight(db, age_s=1)  # another process is streaming it right now
    dead = _in_flight(db, age_s=600, text="what was shown")
    assert recover_inflight(db, older_than_s=180) == 1
    assert db.rows("SELECT exchange_id FROM inflight") == [(live,)]
    assert db.rows("SELECT id, status, response_text FROM exchanges") == [
        (dead, "interrupted", "what was shown")
    ]


def test_every_row_is_filed_at_an_embedded_start(db: Database) -> None:
    _in_flight(db, age_s=1)
    _in_flight(db, age_s=600)
    assert recover_inflight(db) == 2
    assert db.one("SELECT count(*) FROM inflight") == (0,)


def test_processes_sweeping_at_once_file_each_answer_once(db: Database) -> None:
    ids = {_in_flight(db, age_s=600) for _ in range(20)}
    start = threading.Barrier(4)
    filed: list[int] = []

    def sweep() -> None:
        start.wait()
        filed.append(recover_inflight(db, older_than_s=180))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    rows = db.rows("SELECT id FROM exchanges")
    assert sorted(r[0] for r in rows) == sorted(ids)  # each once: none lost, none twice
    assert db.one("SELECT count(*) FROM inflight") == (0,)
    assert sum(filed) == 20


def test_the_sweeper_files_a_dead_workers_answer_while_the_app_runs(db: Database) -> None:
    dead = _in_flight(db, age_s=600)
    sweeper = InflightSweeper(db, every_s=0.05, older_than_s=180)
    try:
        for _ in range(100):
            if db.one("SELECT count(*) FROM exchanges") == (1,):
                break
            threading.Event().wait(0.05)
    finally:
        sweeper.close()
    assert db.rows("SELECT id, status FROM exchanges") == [(dead, "interrupted")]
