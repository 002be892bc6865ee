"""Analytics at scale: each query in DuckDB vs the same figure in pandas, and the page in AppTest.

Data: ``python -m aeries demo`` with 1M exchanges (~5M signals), generated into a temporary file
unless ``--db`` points at one. The pandas baseline (bench/_analytics_pandas.py) computes the same
figures on DataFrames loaded from that database, the way a notebook would; load time is reported
separately and not counted. Runs alternate DuckDB / pandas so machine noise hits both alike.
Two filter sets: the page default (last 30 days, by day) and the whole period (all 12 weeks).

The page is run in AppTest with the model server down: once per tab (tabs are lazy, so a page
run renders the filters and the open tab), with the analytics cache cleared before each run
("cold") and then again with it warm. Its pandas counterpart is the sum of that tab's figures.

    python -m bench.bench_analytics [--db PATH] [--exchanges 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from aeries import analytics as A
from aeries.analytics import arena as P
from aeries.analytics import drill as D
from aeries.analytics import feedback as S
from aeries.demo import DemoConfig, run_demo
from aeries.store.db import Database
from bench import _analytics_pandas as PD
from bench._common import pct, today

TABS = ("Latency", "Arena", "Feedback", "Drill-down")
PAGE = Path(__file__).resolve().parent.parent / "views" / "analytics.py"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def queries(db: Database, d: dict, f: A.Filters) -> dict[str, tuple[Callable, Callable, str]]:
    """name → (DuckDB call, pandas call, tab)."""
    period = P.rating_period(f)
    out: dict[str, tuple[Callable, Callable, str]] = {}
    for m in A.METRICS:
        out[f"latency_trend[{m}]"] = (
            lambda m=m: A.latency_trend(db, f, m),
            lambda m=m: PD.latency_trend(d, f, m),
            "Latency",
        )
        out[f"latency_table[{m}]"] = (
            lambda m=m: A.latency_table(db, f, m),
            lambda m=m: PD.latency_table(d, f, m),
            "Latency",
        )
    out["volume_trend"] = (lambda: A.volume_trend(db, f), lambda: PD.volume(d, f), "Latency")
    out["signal_summary"] = (
        lambda: S.signal_summary(db, f),
        lambda: PD.signal_summary(d, f),
        "Feedback",
    )
    out["top_learned"] = (lambda: S.top_learned(db, f), lambda: PD.top_learned(d, f), "Feedback")

    def duck_ratings():
        prefs = P.select_kinds(P.preference_counts(db, f, period), implicit=False)
        return P.leaderboard(prefs.drop(columns=["bucket"])), P.rating_trend(prefs)

    out["preferences + ratings"] = (
        duck_ratings,
        lambda: PD.ratings_figures(d, f, period),
        "Arena",
    )
    out["win_matrix"] = (lambda: P.win_matrix(db, f), lambda: PD.win_matrix(d, f), "Arena")
    out["position_bias"] = (
        lambda: P.position_bias(db, f, False),
        lambda: PD.position_bias(d, f),
        "Arena",
    )
    out["latency_preference"] = (
        lambda: P.latency_preference(db, f, False),
        lambda: PD.latency_preference(d, f),
        "Arena",
    )
    out["exchange_list"] = (
        lambda: D.exchange_list(db, f),
        lambda: d["ex"][
            (d["ex"]["started_at"] >= f.start) & (d["ex"]["started_at"] < f.end)
        ].nlargest(D.DRILL_LIMIT, "started_at"),
        "Drill-down",
    )
    return out


def check(db: Database, d: dict, f: A.Filters) -> None:
    """The baseline computes the same figures (else the ratio would mean nothing)."""
    a = A.latency_trend(db, f, "ttft").sort_values(["bucket", "model"]).reset_index(drop=True)
    b = PD.latency_trend(d, f, "ttft").sort_values(["bucket", "model"]).reset_index(drop=True)
    assert np.allclose(a["p95"], b["p95"]) and list(a["n"]) == list(b["n"])
    assert A.volume_trend(db, f)["requests"].sum() == PD.volume(d, f)["requests"].sum()
    sa, sb = S.signal_summary(db, f)["brief"], PD.signal_summary(d, f)["brief"]
    assert sa["thumbs"].sum() == sb["thumbs"].sum() and sa["sat_n"].sum() == sb["sat_n"].sum()
    ta, tb = S.top_learned(db, f), PD.top_learned(d, f)
    assert list(ta["mentions"]) == list(tb["mentions"])
    period = P.rating_period(f)
    prefs = P.select_kinds(P.preference_counts(db, f, period), implicit=False)
    ra, rb = P.leaderboard(prefs.drop(columns=["bucket"])), PD.ratings_figures(d, f, period)[0]
    bounds = ["rating", "lower", "upper"]
    assert np.allclose(ra[bounds], rb[bounds]) and list(ra["votes"]) == list(rb["votes"])
    wa = P.win_matrix(db, f).set_index(["model", "opponent"])["win_rate"]
    assert np.allclose(wa.sort_index(), PD.win_matrix(d, f).set_index(["model", "opponent"])
                       ["win_rate"].sort_index())  # fmt: skip


def run_queries(db: Database, d: dict, f: A.Filters, repeats: int) -> dict[str, dict]:
    results = {}
    for name, (duck, pandas, tab) in queries(db, d, f).items():
        dt, pt = [], []
        for _ in range(repeats):
            dt.append(timed(duck)[0])
            pt.append(timed(pandas)[0])
        results[name] = {"duck": dt, "pandas": pt, "tab": tab}
        print(
            f"  {name:<24} duckdb p50 {pct(dt, 0.5):7.1f} p95 {pct(dt, 0.95):7.1f} ms | "
            f"pandas p50 {pct(pt, 0.5):8.1f} p95 {pct(pt, 0.95):8.1f} ms | "
            f"×{pct(pt, 0.5) / pct(dt, 0.5):5.1f}",
            flush=True,
        )
    return results


def run_page(db_path: Path, query: dict[str, str], repeats: int) -> dict[str, dict]:
    """Each tab of the page in AppTest: cold (analytics cache cleared) and warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from aeries.ui.resources import clear_runtime

    os.environ["AERIES_DB"] = str(db_path)
    os.environ["AERIES_BASE_URL"] = "http://127.0.0.1:9/v1"
    clear_runtime()
    page = str(PAGE)
    out = {}
    for tab in TABS:
        at = AppTest.from_file(page, default_timeout=120)
        for key, value in {**query, "view": tab}.items():
            at.query_params[key] = value
        at.run()  # first run: AppTest scans installed components (~1 s), not the page
        assert not at.exception, at.exception
        cold, warm = [], []
        for _ in range(repeats):
            st.cache_data.clear()
            cold.append(timed(at.run)[0])
            warm.append(timed(at.run)[0])
        assert not at.exception and not at.error, (at.exception, at.error)
        out[tab] = {"cold": cold, "warm": warm}
        print(f"  page[{tab:<10}] cold p50 {pct(cold, 0.5):7.1f} p95 {pct(cold, 0.95):7.1f} ms"
              f" | warm p50 {pct(warm, 0.5):6.1f} ms", flush=True)  # fmt: skip
    clear_runtime()
    return out


def markdown(label: str, q: dict, page: dict) -> None:
    print(f"\n#### {label}\n")
    print("| query | DuckDB p50 | DuckDB p95 | pandas p50 | pandas p95 | pandas ÷ DuckDB |")
    print("|---|---|---|---|---|---|")
    for name, r in q.items():
        d, p = r["duck"], r["pandas"]
        print(f"| {name} | {pct(d, .5):.0f} ms | {pct(d, .95):.0f} ms | {pct(p, .5):.0f} ms | "
              f"{pct(p, .95):.0f} ms | {pct(p, .5) / pct(d, .5):.1f} |")  # fmt: skip
    print(
        "\n| page tab (AppTest) | cold p50 | cold p95 | warm p50 | pandas (same figures) | ratio |"
    )
    print("|---|---|---|---|---|---|")
    for tab, r in page.items():
        pandas = sum(statistics.median(x["pandas"]) for x in q.values() if x["tab"] == tab)
        cold = pct(r["cold"], 0.5)
        print(f"| {tab} | {cold:.0f} ms | {pct(r['cold'], .95):.0f} ms | "
              f"{pct(r['warm'], .5):.0f} ms | {pandas:.0f} ms | {pandas / cold:.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an existing demo database to use")
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="aeries-bench-")
    path = args.db or Path(scratch.name) / "demo.duckdb"
    if not path.exists():
        print(f"Generating {args.exchanges:,} demo exchanges into {path} …", flush=True)
        report = run_demo(path, DemoConfig(exchanges=args.exchanges, seed=0))
        print(f"  {report.rows['exchanges']:,} exchanges, {report.rows['signals']:,} signals "
              f"in {report.seconds:.1f} s", flush=True)  # fmt: skip
    con = duckdb.connect(str(path), read_only=True)
    seconds, d = timed(lambda: PD.load(con))
    con.close()
    print(f"pandas load: {seconds / 1000:.1f} s ({len(d['ex']):,} exchanges, "
          f"{len(d['sig']):,} signals) — not counted", flush=True)  # fmt: skip
    db = Database(path)
    last = A.data_range(db)[1]
    end = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    scenarios = {
        "last 30 days, by day (page default)": (A.Filters(end - timedelta(days=30), end), {}),
        "all 12 weeks, by day": (
            A.Filters(end - timedelta(days=85), end, bucket="day"),
            {"range": "all", "bucket": "day"},
        ),
    }
    print(f"Date: {today()}  ({datetime.now(UTC):%H:%M} UTC), DuckDB {duckdb.__version__}")
    results = {}
    for label, (f, query) in scenarios.items():
        print(f"\n{label}:", flush=True)
        check(db, d, f)
        q = run_queries(db, d, f, args.repeats)
        results[label] = (q, query)
    db.close()
    for label, (q, query) in results.items():
        print(f"\n{label} — page:", flush=True)
        results[label] = (q, run_page(path, query, args.repeats))
    for label, (q, page) in results.items():
        markdown(label, q, page)


if __name__ == "__main__":
    main()
