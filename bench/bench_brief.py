"""Brief assembly for one user at 1k / 10k / 100k signals, with 1M signals in the table.

Aeries reads the user's rows of profile_stats (kept up to date as signals are written) and
builds the brief in Python. The baseline aggregates the user's signals directly in SQL with
the same recency weighting, then builds the same brief. Both run in the same process on the
same database; the two briefs are checked to be identical.

    python -m bench.bench_brief [--total 1000000] [--repeats 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from aeries.brief import assemble_brief, build_brief
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.profile import EPOCH, TAU_S, ProfileItem, rebuild_profile
from bench._common import pct, today

NAMES = np.array(["preference", "topic", "correction", "sentiment", "satisfaction", "intent"])
PREFS = [f"{a}={v}" for a in ("verbosity", "format", "tone", "expertise") for v in "abcde"]
TOPICS = [f"topic {i}" for i in range(60)]
FIXES = [f"correction number {i}" for i in range(30)]


def synth(n: int, user: str, rng: np.random.Generator, now: datetime) -> pa.Table:
    """n observer signals for one user over the last 90 days."""
    names = NAMES[rng.integers(0, len(NAMES), n)]
    pools = {"preference": PREFS, "topic": TOPICS, "correction": FIXES}
    values = [str(pools[m][rng.integers(0, len(pools[m]))]) if m in pools else None for m in names]
    ages = rng.random(n) * 90 * 86400
    stamps = np.array([int((now - timedelta(seconds=float(a))).timestamp() * 1e6) for a in ages])
    return pa.table(
        {
            "id": [f"{user}-{i}" for i in range(n)],
            "user_id": [user] * n,
            "kind": ["observer"] * n,
            "name": names.tolist(),
            "value_text": values,
            "value_num": rng.random(n),
            "created_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        }
    )


def baseline_items(db: Database, user: str, now: datetime) -> list[ProfileItem]:
    """The same items, aggregated from every signal of the user at query time."""
    rows = db.rows(
        """SELECT name, value_text, sum(exp((epoch(created_at) - epoch(?::TIMESTAMPTZ)) / ?)),
                  count(*), max(created_at)
           FROM signals WHERE user_id = ? AND kind = 'observer'
             AND name IN ('preference', 'topic', 'correction') AND value_text IS NOT NULL
           GROUP BY ALL""",
        [EPOCH, TAU_S, user],
    )
    factor = float(np.exp(-(now - EPOCH).total_seconds() / TAU_S))
    return [ProfileItem(n, v, s * factor, c, last) for n, v, s, c, last in rows]


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    sizes = {"u1k": 1_000, "u10k": 10_000, "u100k": 100_000}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "brief.duckdb")
        migrate(db)
        others = args.total - sum(sizes.values())
        tables = [synth(n, user, rng, now) for user, n in sizes.items()]
        tables += [synth(others // 50, f"other{i}", rng, now) for i in range(50)]
        # Real signals arrive interleaved across users: shuffle, so no user's rows are
        # contiguous (which would let DuckDB's zone maps skip most of the table).
        combined = pa.concat_tables(tables)
        combined = combined.take(pa.array(rng.permutation(combined.num_rows)))
        with db.cursor() as cur:
            cur.register("batch", combined)
            cur.execute("INSERT INTO signals BY NAME SELECT * FROM batch")
            cur.unregister("batch")
        rebuild_profile(db)
        total = db.one("SELECT count(*) FROM signals")[0]
        print(f"Brief assembly, {total:,} signals in the table ({today()}), {args.repeats} repeats")
        print(
            "| user signals | aeries p50 | aeries p99 | baseline p50 | baseline p99 | ratio p50 |"
        )
        print("|---|---|---|---|---|---|")
        for user, n in sizes.items():
            ours = assemble_brief(db, user, now)
            theirs = build_brief(baseline_items(db, user, now))
            assert ours.text == theirs.text, "aeries and the baseline disagree"
            a = timed(lambda u=user: assemble_brief(db, u, now), args.repeats)
            b = timed(lambda u=user: build_brief(baseline_items(db, u, now)), args.repeats)
            print(
                f"| {n:,} | {pct(a, 0.5):.2f} ms | {pct(a, 0.99):.2f} ms | {pct(b, 0.5):.2f} ms "
                f"| {pct(b, 0.99):.2f} ms | {pct(b, 0.5) / pct(a, 0.5):.1f}× |"
            )
        db.close()


if __name__ == "__main__":
    main()
