"""Signal analytics: thumbs-up rate per model and persona, observer sentiment and satisfaction,
brief on vs off, and the most frequent learned preferences and topics.

Every signal is joined to the exchange it is about (``signals.exchange_id``), counted in that
exchange's time bucket, and filtered by that exchange. Only the latest thumb per exchange counts;
satisfaction and sentiment are averaged per answer first (the observer notes each once per
answer), then over answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries.analytics import Filters, _in, bucket_key, exchange_where, frame
from aeries.analytics_prefs import NO_PERSONA_LABEL, wilson
from aeries.store.db import Database

# The observer notes a signal seconds after the answer; this bounds the exchange scan.
SIGNAL_LAG_SLACK = "INTERVAL 1 DAY"
# Grouping sets of the summary query, by the GROUPING() bitmask of (b, model, persona, brief).
_SETS = {"model": 0b0011, "persona": 0b0101, "overall": 0b0111, "brief": 0b1110}


def _summary_sql(f: Filters) -> tuple[str, list]:
    where, params = exchange_where(f)
    key = bucket_key("e.started_at", f.bucket)
    # One row per exchange before the join (the join with exchanges is the expensive part).
    sql = f"""
        WITH v AS (
            SELECT exchange_id,
                   arg_max(value_num, created_at)
                       FILTER (WHERE name = 'thumbs' AND kind = 'feedback') AS thumb,
                   avg(value_num) FILTER (WHERE name = 'satisfaction' AND kind = 'observer') AS sat,
                   avg(value_num) FILTER (WHERE name = 'sentiment' AND kind = 'observer') AS sent
            FROM signals
            WHERE created_at >= ? AND name IN ('thumbs', 'satisfaction', 'sentiment')
              AND exchange_id IS NOT NULL AND value_num IS NOT NULL
            GROUP BY exchange_id
        )
        SELECT GROUPING(b, model, persona, brief) AS grp, b, model, persona, brief,
               count(thumb) AS thumbs, coalesce(sum(thumb), 0) AS ups,
               count(sat) AS sat_n, avg(sat) AS satisfaction, stddev_samp(sat) AS sat_sd,
               count(sent) AS sent_n, avg(sent) AS sentiment, stddev_samp(sent) AS sent_sd
        FROM (
            SELECT {key} AS b, e.model AS model,
                   coalesce(pe.name, '{NO_PERSONA_LABEL}') AS persona,
                   e.brief_enabled AS brief, v.thumb, v.sat, v.sent
            FROM v
            JOIN exchanges e ON e.id = v.exchange_id
            LEFT JOIN personas pe ON pe.id = e.persona_id
            WHERE {where}
        )
        GROUP BY GROUPING SETS ((b, model), (b, persona), (b), (brief))"""
    return sql, [f.start, *params]


def _with_rates(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        df["up_rate"] = df["ups"] / df["thumbs"].where(df["thumbs"] > 0)
    df["up_lower"], df["up_upper"] = wilson(df["ups"], df["thumbs"])
    for col, n, sd in (("satisfaction", "sat_n", "sat_sd"), ("sentiment", "sent_n", "sent_sd")):
        half = 1.96 * df[sd] / np.sqrt(df[n].where(df[n] > 0))
        df[f"{col}_lower"], df[f"{col}_upper"] = df[col] - half, df[col] + half
    return df


def signal_summary(db: Database, f: Filters) -> dict[str, pd.DataFrame]:
    """Thumbs and observer aggregates in one pass, split by grouping:

    - ``model``: bucket, model — thumbs, ups, up_rate (+ CI), satisfaction, sentiment, ns
    - ``persona``: bucket, persona — the same
    - ``overall``: bucket — the same (observer sentiment and satisfaction over time)
    - ``brief``: brief (True/False/None) — the same (brief on vs off)
    """
    sql, params = _summary_sql(f)
    raw = frame(db, sql, params)
    out: dict[str, pd.DataFrame] = {}
    for name, mask in _SETS.items():
        part = raw[raw["grp"] == mask].drop(columns=["grp"])
        if name != "brief":
            part = part.assign(bucket=_bucket_times(part["b"], f))
        keep = {
            "model": ["bucket", "model"],
            "persona": ["bucket", "persona"],
            "overall": ["bucket"],
            "brief": ["brief"],
        }[name]
        values = [c for c in part.columns if c not in ("b", "model", "persona", "brief", "bucket")]
        part = part[keep + values].sort_values(keep, na_position="last")
        out[name] = _with_rates(part.reset_index(drop=True))
    return out


def _bucket_times(keys: pd.Series, f: Filters) -> pd.Series:
    """Integer bucket keys (as returned by SQL) to bucket start times, vectorised."""
    offset = 4 * 86_400 if f.bucket == "week" else 0
    seconds = keys.astype("int64") * f.bucket_seconds + offset
    return pd.to_datetime(seconds, unit="s", utc=True)


def top_learned(db: Database, f: Filters, limit: int = 10) -> pd.DataFrame:
    """Most frequent observer preferences and topics: name, value, mentions, users.

    Counted by when the observer noted them (seconds after the answer), so the common case —
    no model, persona, source or brief filter — needs no join with exchanges; those filters
    apply through the exchange the signal is about.
    """
    params: list = [f.start, f.end]
    where = "s.created_at >= ? AND s.created_at < ?"
    if f.users:
        where += " AND " + _in("s.user_id", f.users, params)
    if f.models or f.personas or f.sources or f.brief is not None:
        by_exchange = Filters(
            f.start, f.end, f.models, f.personas, (), f.sources, f.brief, f.bucket
        )
        ex_where, ex_params = exchange_where(by_exchange, time=False)
        where += f""" AND s.exchange_id IN (
            SELECT e.id FROM exchanges e
            WHERE e.started_at >= ?::TIMESTAMPTZ - {SIGNAL_LAG_SLACK} AND e.started_at < ?
              AND {ex_where})"""
        params += [f.start, f.end, *ex_params]
    sql = f"""
        SELECT s.name, s.value_text AS value, count(*) AS mentions,
               count(DISTINCT s.user_id) AS users
        FROM signals s
        WHERE s.kind = 'observer' AND s.name IN ('preference', 'topic')
          AND s.value_text IS NOT NULL AND {where}
        GROUP BY s.name, s.value_text
        QUALIFY row_number() OVER (PARTITION BY s.name ORDER BY count(*) DESC, s.value_text) <= ?
        ORDER BY s.name, mentions DESC, value"""
    return frame(db, sql, [*params, limit])
