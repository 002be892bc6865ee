"""Latency, volume and token trends over the exchanges in the filters.

All aggregation runs in DuckDB (``db.analytics("exchanges")``: the file, or the replica of a
PostgreSQL store) and comes back as small DataFrames. Percentiles are exact
(``quantile_cont``: linear interpolation, as numpy's default) over ``status = 'ok'`` rows.
"""

from __future__ import annotations

import pandas as pd

from aeries.analytics.filters import Filters, bucket_key, bucket_time, exchange_where, frame
from aeries.store.db import Database

# Latency metrics: name → (SQL expression over exchanges e, label, unit).
METRICS: dict[str, tuple[str, str, str]] = {
    "ttft": ("e.ttft_ms", "Time to first token", "ms"),
    "e2e": ("e.e2e_ms", "End-to-end latency", "ms"),
    "tpot": ("e.tpot_ms", "Time per output token", "ms"),
    "tps": (
        "CASE WHEN e.e2e_ms > 0 THEN e.completion_tokens * 1000.0 / e.e2e_ms END",
        "Tokens per second",
        "tok/s",
    ),
}
TABLE_QUANTILES = (0.5, 0.9, 0.95, 0.99)
TREND_QUANTILES = (0.5, 0.95, 0.99)


def _quantile_columns(expr: str, quantiles: tuple[float, ...]) -> tuple[str, str]:
    """The aggregate (a list of quantiles) and the columns unpacking it as p50, p95, …"""
    qs = ", ".join(str(q) for q in quantiles)
    cols = ", ".join(f"q[{i + 1}] AS p{round(q * 100)}" for i, q in enumerate(quantiles))
    return f"quantile_cont({expr}, [{qs}]) AS q", cols


def latency_trend(db: Database, f: Filters, metric: str) -> pd.DataFrame:
    """Per bucket and model over ok exchanges: n, p50, p95, p99 of ``metric`` (see METRICS)."""
    expr = METRICS[metric][0]
    where, params = exchange_where(f)
    key = bucket_key("e.started_at", f.bucket)
    agg, cols = _quantile_columns(expr, TREND_QUANTILES)
    sql = f"""
        SELECT {bucket_time("b", f.bucket)} AS bucket, model, n, {cols}
        FROM (
            SELECT {key} AS b, e.model AS model, count({expr}) AS n, {agg}
            FROM exchanges e
            WHERE {where} AND e.status = 'ok'
            GROUP BY ALL
        )
        WHERE n > 0
        ORDER BY bucket, model"""
    return frame(db.analytics("exchanges"), sql, params)


def latency_table(db: Database, f: Filters, metric: str) -> pd.DataFrame:
    """Per model over ok exchanges: n, mean, p50, p90, p95, p99 of ``metric``."""
    expr = METRICS[metric][0]
    where, params = exchange_where(f)
    agg, cols = _quantile_columns(expr, TABLE_QUANTILES)
    sql = f"""
        SELECT model, n, mean, {cols}
        FROM (
            SELECT e.model AS model, count({expr}) AS n, avg({expr}) AS mean, {agg}
            FROM exchanges e
            WHERE {where} AND e.status = 'ok'
            GROUP BY ALL
        )
        WHERE n > 0
        ORDER BY model"""
    return frame(db.analytics("exchanges"), sql, params)


def volume_trend(db: Database, f: Filters) -> pd.DataFrame:
    """Per bucket and model: requests, errors, aborts, their rates, answers the server cut off
    (vLLM's finish_reason abort or repetition), answers interrupted by an app stop or crash,
    and tokens in and out."""
    where, params = exchange_where(f)
    key = bucket_key("e.started_at", f.bucket)
    sql = f"""
        SELECT {bucket_time("b", f.bucket)} AS bucket, model, requests, ok, errors, aborted,
               errors / requests AS error_rate, aborted / requests AS abort_rate,
               cut_off, interrupted, prompt_tokens, completion_tokens
        FROM (
            SELECT {key} AS b, e.model AS model, count(*) AS requests,
                   count(*) FILTER (WHERE e.status = 'ok') AS ok,
                   count(*) FILTER (WHERE e.status = 'error') AS errors,
                   count(*) FILTER (WHERE e.status = 'aborted') AS aborted,
                   count(*) FILTER (WHERE e.status = 'cut_off') AS cut_off,
                   count(*) FILTER (WHERE e.status = 'interrupted') AS interrupted,
                   coalesce(sum(e.prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(e.completion_tokens), 0) AS completion_tokens
            FROM exchanges e
            WHERE {where}
            GROUP BY ALL
        )
        ORDER BY bucket, model"""
    return frame(db.analytics("exchanges"), sql, params)


TTFT_PARTS = ("queue_ms", "prefill_ms", "between_ms")


def ttft_breakdown(db: Database, f: Filters) -> pd.DataFrame:
    """Where each ok answer's wait went, per model, over the answers whose server sent its own
    timings (vLLM's --enable-per-request-metrics): the server's queue, its prefill (its TTFT,
    from scheduling), and what lies between the server and the user's screen (client TTFT −
    queue − prefill: templating and tokenisation, the engine hand-off, the network, the
    client). Means, so the three parts add up to the mean client TTFT exactly."""
    where, params = exchange_where(f)
    sql = f"""
        SELECT model, count(*) AS n, avg(e.ttft_ms) AS ttft_ms,
               avg(e.server_queue_ms) AS queue_ms, avg(e.server_ttft_ms) AS prefill_ms,
               avg(e.ttft_ms - e.server_queue_ms - e.server_ttft_ms) AS between_ms
        FROM exchanges e
        WHERE {where} AND e.status = 'ok' AND e.ttft_ms IS NOT NULL
              AND e.server_queue_ms IS NOT NULL AND e.server_ttft_ms IS NOT NULL
        GROUP BY ALL
        ORDER BY model"""
    return frame(db.analytics("exchanges"), sql, params)
