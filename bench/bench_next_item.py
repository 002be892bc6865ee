"""The next item handed to a rater: Aeries' `next_item` against a plain SQL baseline.

A store with ``--exchanges`` chat exchanges, one queue over all of them (``--raters-per-item``
raters each), and ``--raters`` raters working through it in turns, so the queue is part done
(``--done`` of its labels given, spread over the raters) when the measurement starts. Then, for
``--requests`` rounds, each rater asks for their next item and submits it; the time of the
ask is measured. The baseline, in the same run on the same store, is the bare query a
hand-written tool would use: the first item by position that has fewer than N labels and no
label by this rater (``NOT EXISTS``), no claim, no lock, no transaction. Aeries' ask also
expires old claims, resumes a held item and takes a claim under the queue's lock.

    python -m bench.bench_next_item --exchanges 100000 --raters 10 [--engine postgres]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aeries.store.annotation import Queue, create_queue, next_item, save_rubric, submit
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.ops import Insert, apply_group
from bench._common import pct, today

SPEC = {"name": "Bench", "items": [{"key": "helpful", "kind": "likert", "prompt": "Helpful?"}]}
BASELINE = """
SELECT qi.exchange_id FROM queue_items qi
WHERE qi.queue_id = ? AND qi.labelled < ?
  AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.queue_id = qi.queue_id
                  AND s.exchange_id = qi.exchange_id AND s.rater_id = ?)
ORDER BY qi.position LIMIT 1
"""


@contextmanager
def open_store(engine: str) -> Iterator[Database]:
    """A fresh store on ``engine``: a DuckDB file, or a temporary PostgreSQL cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        if engine == "duckdb":
            db = Database(Path(tmp) / "bench.duckdb")
            try:
                migrate(db)
                yield db
            finally:
                db.close()
            return
        from aeries.store.pg_server import PostgresServer

        with PostgresServer.temporary(fsync=False) as server:
            server.create_database("bench")
            db = Database(server.url("bench"), local_base=Path(tmp) / "pg")
            try:
                migrate(db)
                yield db
            finally:
                db.close()


def fill(db: Database, exchanges: int, raters_per_item: int) -> Queue:
    """The exchanges and one queue over all of them."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ids = [f"e{i:07d}" for i in range(exchanges)]
    rows = [
        Insert(
            "exchanges",
            {
                "id": e,
                "source": "chat",
                "model": "m",
                "status": "ok",
                "response_text": "answer",
                "started_at": start + timedelta(seconds=i),
            },
        )
        for i, e in enumerate(ids)
    ]
    with db.transaction() as cur:
        apply_group(cur, rows, db.dialect)
    rubric = save_rubric(db, "Bench", SPEC, by="bench")
    return create_queue(
        db,
        name="bench",
        rubric=rubric,
        raters_per_item=raters_per_item,
        sampling="all",
        filters={},
        seed=0,
        items=[(e, None) for e in ids],
        by="bench",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--raters", type=int, default=10)
    parser.add_argument("--raters-per-item", type=int, default=3)
    parser.add_argument("--done", type=int, default=2_000, help="labels given before timing")
    parser.add_argument("--requests", type=int, default=30, help="asks per rater timed")
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    args = parser.parse_args(argv)
    raters = [f"rater{i}" for i in range(args.raters)]
    with open_store(args.engine) as db:
        t0 = time.perf_counter()
        queue = fill(db, args.exchanges, args.raters_per_item)
        print(f"{args.exchanges} exchanges and the queue in {time.perf_counter() - t0:.1f} s")
        for i in range(args.done):  # a queue part done: labels spread over the raters
            rater = raters[i % len(raters)]
            item = next_item(db, queue, rater)
            assert item is not None
            submit(db, queue, item, rater, "labelled", {"helpful": "3"})
        ours: list[float] = []
        base: list[float] = []
        for _ in range(args.requests):
            for rater in raters:
                with db.cursor() as cur:  # the baseline first, on the same state
                    t = time.perf_counter()
                    cur.execute(BASELINE, [queue.id, queue.raters_per_item, rater]).fetchone()
                    base.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                item = next_item(db, queue, rater)
                ours.append((time.perf_counter() - t) * 1000)
                assert item is not None
                submit(db, queue, item, rater, "labelled", {"helpful": "4"})
    print(
        f"bench_next_item {today()} · {args.engine} · {args.exchanges} exchanges, "
        f"{args.raters} raters, {args.raters_per_item} per item, {args.done} labels before"
    )
    for name, values in (("Aeries next_item", ours), ("baseline NOT EXISTS", base)):
        print(
            f"  {name:20s} p50 {pct(values, 0.5):7.2f} ms  p95 {pct(values, 0.95):7.2f} ms"
            f"  (n={len(values)})"
        )
    print(
        f"  ratio p50 {pct(ours, 0.5) / pct(base, 0.5):.2f}  "
        f"p95 {pct(ours, 0.95) / pct(base, 0.95):.2f}  (goal: Aeries p95 <= 50 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
