"""Signal analytics: thumbs-up rate per model and persona, observer sentiment and satisfaction,
brief on vs off, and the most frequent learned preferences and topics.

Reads the tables kept next to the signals for this (aeries.store.facts), not the signals
themselves: ``answer_scores`` holds one row per answer with its latest thumb and its observer
scores, filed under that answer's exchange (time bucket, model, persona, brief, source, user);
``learned_notes`` one row per preference or topic noted. Satisfaction and sentiment are
averaged per answer first (the observer notes each once per answer), then over answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries.analytics.arena import NO_PERSONA_LABEL
from aeries.analytics.filters import Filters, bucket_key, exchange_where, frame
from aeries.analytics.stats import wilson
from aeries.store.db import Database

# Grouping sets of the summary query, by the GROUPING() bitmask of (b, model, persona, brief).
_SETS = {"model": 0b0011, "persona": 0b0101, "overall": 0b0111, "brief": 0b1110}


def _summary_sql(f: Filters) -> tuple[str, list]:
    where, params = exchange_where(f, "a")
    key = bucket_key("a.started_at", f.bucket)
    # Two stages: answers → (bucket, model, persona, brief) cells with count, sum and sum of
    # squares, then the grouping sets over those few cells (means and SDs from the sums).
    moments = ", ".join(
        f"count({v}) AS {v}_n, sum({v}) AS {v}_s, sum({v} * {v}) AS {v}_q" for v in ("sat", "sent")
    )
    summary = ", ".join(
        f"""sum({v}_n)::BIGINT AS {v}_n, sum({v}_s) / nullif(sum({v}_n), 0) AS {name},
            sqrt(greatest(sum({v}_q) - sum({v}_s) ^ 2 / sum({v}_n), 0) / nullif(sum({v}_n) - 1, 0))
                AS {v}_sd"""
        for v, name in (("sat", "satisfaction"), ("sent", "sentiment"))
    )
    sql = f"""
        WITH cells AS (
            SELECT b, model, persona_id, brief,
                   count(thumb) AS thumbs, coalesce(sum(thumb), 0) AS ups, {moments}
            FROM (
                SELECT {key} AS b, a.model, a.persona_id, a.brief_enabled AS brief, a.thumb,
                       a.satisfaction_sum / nullif(a.satisfaction_n, 0) AS sat,
                       a.sentiment_sum / nullif(a.sentiment_n, 0) AS sent
                FROM answer_scores a
                WHERE {where}
            )
            GROUP BY ALL
        )
        SELECT GROUPING(b, model, persona, brief) AS grp, b, model, persona, brief,
               sum(thumbs)::BIGINT AS thumbs, sum(ups) AS ups, {summary}
        FROM (
            SELECT c.*, coalesce(pe.name, '{NO_PERSONA_LABEL}') AS persona
            FROM cells c LEFT JOIN personas pe ON pe.id = c.persona_id
        )
        GROUP BY GROUPING SETS ((b, model), (b, persona), (b), (brief))"""
    return sql, params


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
    raw = frame(db.analytics("answer_scores", "personas"), sql, params)
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

    Counted by when the observer noted them (seconds after the answer); the model, persona,
    source, brief and user filters apply through the answer they were noted about.
    """
    where, params = exchange_where(f, "n", time=False)
    sql = f"""
        SELECT n.name, n.value, count(*) AS mentions, count(DISTINCT n.user_id) AS users
        FROM learned_notes n
        WHERE n.created_at >= ? AND n.created_at < ? AND {where}
        GROUP BY n.name, n.value
        QUALIFY row_number() OVER (PARTITION BY n.name ORDER BY count(*) DESC, n.value) <= ?
        ORDER BY n.name, mentions DESC, n.value"""
    return frame(db.analytics("learned_notes"), sql, [f.start, f.end, *params, limit])
