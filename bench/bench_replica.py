"""The analytics replica of a PostgreSQL store against the same analytics on a DuckDB file.

For each size (100k and 1M exchanges by default): the demo generator writes a DuckDB file, and the
same rows go into a PostgreSQL database (every table over ADBC's ``adbc_ingest``; the demo's own
PostgreSQL path, ``--via demo``, also recomputes the derived tables there and takes longer). Then,
in one run:

- the replica's first load of the analytics page's tables, in memory and in a temporary file,
  with the memory it takes;
- a read when nothing has committed (one snapshot query), a refresh that finds nothing new (the
  scans alone), and an incremental refresh after 1,000 new exchanges;
- each analytics query of bench_analytics on the replica and on the DuckDB file, alternating, and
  their ratio;
- two of the heaviest queries written for PostgreSQL and run on it directly (latency percentiles
  with ``percentile_cont``, the volume trend with ``date_bin``), checked against the DuckDB ones.

    python -m bench.bench_replica [--sizes 100000,1000000] [--repeats 5] [--pg-url URL]

Without ``--pg-url`` it starts a temporary PostgreSQL cluster (fsync off) and removes it after.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from aeries import analytics as A
from aeries.demo import DemoConfig, run_demo
from aeries.store import replica as R
from aeries.store.db import Database
from aeries.store.migrations import migrate
from bench._common import pct, today
from bench.bench_analytics import queries

PAGE_TABLES = ("exchanges", "answer_scores", "learned_notes", "preferences", "users", "personas")
END = datetime(2026, 12, 1, tzinfo=UTC)


def timed(fn: Callable[[], object]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[Callable[[str], str]]:
    """A function making a new database and returning its URL, on ``url``'s server or on a
    temporary cluster."""
    if url:
        import psycopg

        def make(name: str) -> str:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return url.rsplit("/", 1)[0] + "/" + name

        yield make
        return
    from aeries.store.pg_server import PostgresServer

    with PostgresServer.temporary(fsync=False) as server:
        yield server.create_database


def copy_into(duck_path: Path, url: str) -> float:
    """Every table of the DuckDB file into the migrated PostgreSQL database; seconds."""
    from adbc_driver_postgresql import dbapi

    store = Database(url)
    migrate(store)
    store.close()
    t0 = time.perf_counter()
    con = duckdb.connect(str(duck_path), read_only=True)
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name <> 'schema_migrations'"
        ).fetchall()
    ]
    with dbapi.connect(url) as conn, conn.cursor() as cur:
        for name in names:
            reader = con.sql(f'SELECT * FROM "{name}"').to_arrow_reader(100_000)
            cur.adbc_ingest(name, reader, mode="append")
        conn.commit()
    con.close()
    seconds = time.perf_counter() - t0
    settle(url)
    return seconds


def settle(url: str) -> None:
    """VACUUM ANALYZE, as autovacuum does soon after a bulk load: the first scan of fresh rows
    would otherwise also set every row's hint bits (writing the table again) and be timed."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def add_exchanges(store: Database, n: int) -> None:
    """``n`` new exchanges (copies of recent ones under new ids, started now)."""
    store.execute(
        f"""INSERT INTO exchanges (id, user_id, model, source, status, started_at, ttft_ms,
               e2e_ms, tpot_ms, prompt_tokens, completion_tokens, persona_id, brief_enabled)
            SELECT gen_random_uuid()::text, user_id, model, source, status, now(), ttft_ms,
                   e2e_ms, tpot_ms, prompt_tokens, completion_tokens, persona_id, brief_enabled
            FROM exchanges ORDER BY started_at DESC LIMIT {n}"""
    )


def first_loads(store: Database, folder: Path) -> dict[str, dict[str, float]]:
    """The first load in memory and in a temporary file: seconds, and what it holds (DuckDB's
    own memory count; for the file also its size on disk)."""
    out = {}
    for mode, path in (("memory", None), ("temp file", folder)):
        gc.collect()
        replica = R.AnalyticsReplica(store, path=path, memory_limit="512MB" if path else None)
        seconds = replica.refresh(PAGE_TABLES).seconds
        held = replica.db.one("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
        files = list(folder.glob("aeries-replica-*/replica.duckdb*")) if path else []
        out[mode] = {
            "seconds": seconds,
            "memory_mb": float(held[0] or 0) / 1e6 if held else 0.0,
            "disk_mb": sum(f.stat().st_size for f in files) / 1e6,
        }
        replica.close()
        print(
            f"  first load ({mode}): {seconds:.2f} s, DuckDB memory {out[mode]['memory_mb']:.0f}"
            f" MB, on disk {out[mode]['disk_mb']:.0f} MB",
            flush=True,
        )
    return out


def refreshes(store: Database, replica: R.AnalyticsReplica, repeats: int) -> dict[str, list]:
    """Read with nothing committed; refresh with nothing new; refresh after 1,000 rows."""
    out: dict[str, list[float]] = {"idle read": [], "nothing new": [], "1,000 new": []}
    for _ in range(repeats):
        replica.tables["exchanges"].cost = 0.0  # due now: only the snapshot check stands
        for state in replica.tables.values():
            state.refreshed_at = 0.0
        before = replica.last
        out["idle read"].append(timed(lambda: replica.reader(PAGE_TABLES))[0])
        assert replica.last is before, "an idle read refreshed"
        out["nothing new"].append(timed(lambda: replica.refresh(PAGE_TABLES))[0])
        add_exchanges(store, 1000)
        ms, report = timed(lambda: replica.refresh(PAGE_TABLES))
        assert report.tables["exchanges"].how == "incremental", report
        assert report.tables["exchanges"].rows == 1000
        out["1,000 new"].append(ms)
    for name, values in out.items():
        print(f"  {name:<12} p50 {pct(values, 0.5):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms")
    return out


def compare_queries(
    duck: Database, stores: dict[str, Database], f: A.Filters, repeats: int
) -> dict[str, dict[str, list[float]]]:
    """Each analytics query on the DuckDB file and on each replica, in turn."""
    calls = {"file": queries(duck, {}, f)} | {k: queries(db, {}, f) for k, db in stores.items()}
    results = {}
    for name in calls["file"]:
        first = {k: c[name][0]() for k, c in calls.items()}  # warm, and the same answer
        if isinstance(first["file"], pd.DataFrame):
            assert all(len(v) == len(first["file"]) for v in first.values()), name
        times: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(repeats):
            for k, c in calls.items():
                times[k].append(timed(c[name][0])[0])
        results[name] = times
        base = pct(times["file"], 0.5)
        line = " | ".join(
            f"{k} {pct(t, 0.5):6.1f} ms ×{pct(t, 0.5) / base:4.2f}" for k, t in times.items()
        )
        print(f"  {name:<24} {line}", flush=True)
    return results


# The same figures in PostgreSQL's SQL, run on the store itself.
PG_LATENCY = """
SELECT model, count(ttft_ms) AS n, avg(ttft_ms) AS mean,
       percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY ttft_ms) AS q
FROM exchanges
WHERE started_at >= %s AND started_at < %s AND status = 'ok'
GROUP BY model HAVING count(ttft_ms) > 0 ORDER BY model"""
PG_VOLUME = """
SELECT date_bin('1 day', started_at, TIMESTAMPTZ '1970-01-01') AS bucket, model,
       count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS errors,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens
FROM exchanges
WHERE started_at >= %s AND started_at < %s
GROUP BY 1, 2 ORDER BY 1, 2"""


def direct_on_postgres(duck: Database, url: str, f: A.Filters, repeats: int) -> dict[str, dict]:
    import psycopg

    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone TO 'UTC'")
        for name, sql, check in (
            ("latency_table[ttft]", PG_LATENCY, lambda: A.latency_table(duck, f, "ttft")),
            ("volume_trend", PG_VOLUME, lambda: A.volume_trend(duck, f)),
        ):
            rows = conn.execute(sql, [f.start, f.end]).fetchall()
            expected = check()
            if name == "volume_trend":
                assert [r[2] for r in rows] == expected["requests"].tolist()
            else:
                assert np.allclose([r[3][2] for r in rows], expected["p95"])
            pg_ms = [timed(lambda s=sql: conn.execute(s, [f.start, f.end]).fetchall())[0]
                     for _ in range(repeats)]  # fmt: skip
            file_ms = [timed(check)[0] for _ in range(repeats)]
            out[name] = {"postgres": pg_ms, "file": file_ms}
            print(
                f"  {name:<24} on PostgreSQL p50 {pct(pg_ms, 0.5):7.1f} ms | DuckDB file "
                f"{pct(file_ms, 0.5):6.1f} ms | ×{pct(pg_ms, 0.5) / pct(file_ms, 0.5):5.1f}",
                flush=True,
            )
    return out


def one_size(make_db: Callable[[str], str], n: int, repeats: int, folder: Path, via: str) -> dict:
    print(f"\n== {n:,} exchanges", flush=True)
    duck_path = folder / f"demo{n}.duckdb"
    cfg = DemoConfig(exchanges=n, seed=0, end=END)
    report = run_demo(duck_path, cfg)
    print(f"  demo into DuckDB: {report.seconds:.1f} s ({report.rows['signals']:,} signals)")
    url = make_db(f"bench_{n}_{uuid.uuid4().hex[:8]}")
    if via == "demo":
        seconds = run_demo(url, cfg).seconds
        settle(url)
    else:
        seconds = copy_into(duck_path, url)
    print(f"  same rows into PostgreSQL ({via}): {seconds:.1f} s", flush=True)
    duck = Database(duck_path)
    pg = Database(url, local_base=folder / f"pg{n}")
    out: dict[str, Any] = {"first": first_loads(pg, folder)}
    R.REPLICA_DIR = None  # this store object's replica is in memory
    replica = R.replica_of(pg)
    replica.refresh(PAGE_TABLES)
    out["refresh"] = refreshes(pg, replica, repeats)
    R.REPLICA_DIR = str(folder)  # the next store object's replica is a temporary file
    pg_file = Database(url, local_base=folder / f"pg{n}")
    R.replica_of(pg_file).refresh(PAGE_TABLES)
    last = A.data_range(duck)
    assert last is not None
    end = last[1].replace(second=0, microsecond=0) + timedelta(minutes=1)
    f = A.Filters(end - timedelta(days=30), end)
    for store in (pg, pg_file):  # the queries alone (the snapshot check is "idle read" above)
        R.replica_of(store).refresh_s = 1e9
    out["queries"] = compare_queries(duck, {"memory": pg, "temp file": pg_file}, f, repeats)
    out["direct"] = direct_on_postgres(duck, url, f, repeats)
    duck.close()
    pg.close()
    pg_file.close()
    return out


def markdown(results: dict[int, dict]) -> None:
    print(f"\n#### Replica vs DuckDB file ({today()})\n")
    sizes = list(results)
    print("| | " + " | ".join(f"{n:,} exchanges" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for mode in ("memory", "temp file"):
        cells = [
            f"{r['first'][mode]['seconds']:.1f} s, {r['first'][mode]['memory_mb']:.0f} MB in "
            f"memory, {r['first'][mode]['disk_mb']:.0f} MB on disk"
            for r in results.values()
        ]
        print(f"| first load, {mode} | " + " | ".join(cells) + " |")
    for name in ("idle read", "nothing new", "1,000 new"):
        cells = [f"{pct(r['refresh'][name], 0.5):.0f} ms" for r in results.values()]
        print(f"| {name} (p50) | " + " | ".join(cells) + " |")
    print("\n| query (last 30 days), p50 | " + " | ".join(
        f"{n:,}: file | memory replica (×) | file replica (×)" for n in sizes) + " |")  # fmt: skip
    print("|---|" + "---|---|---|" * len(sizes))
    names = next(iter(results.values()))["queries"]
    for name in names:
        cells = []
        for r in results.values():
            q = r["queries"][name]
            a, m, t = (pct(q[k], 0.5) for k in ("file", "memory", "temp file"))
            cells.append(f"{a:.0f} ms | {m:.0f} ms ({m / a:.2f}) | {t:.0f} ms ({t / a:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n| on PostgreSQL directly | " + " | ".join(
        f"{n:,}: PostgreSQL p50 | file p50 | ×" for n in sizes) + " |")  # fmt: skip
    print("|---|" + "---|---|---|" * len(sizes))
    for name in next(iter(results.values()))["direct"]:
        cells = []
        for r in results.values():
            d = r["direct"][name]
            a, b = pct(d["postgres"], 0.5), pct(d["file"], 0.5)
            cells.append(f"{a:.0f} ms | {b:.0f} ms | {a / b:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="exchanges, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pg-url", help="an existing server's postgresql:// URL (a database "
                        "with CREATE DATABASE rights); default: a temporary cluster")  # fmt: skip
    parser.add_argument("--via", choices=("copy", "demo"), default="copy")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    print(f"Date: {today()} ({datetime.now(UTC):%H:%M} UTC), DuckDB {duckdb.__version__}")
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="aeries-bench-") as scratch,
        postgres(args.pg_url) as make_db,
    ):
        results = {n: one_size(make_db, n, args.repeats, Path(scratch), args.via) for n in sizes}
    markdown(results)
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
