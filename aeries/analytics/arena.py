"""Preference analytics: arena ratings, win rates, thumbs, observer signals, brief on/off,
preference × latency and position bias.

Signals are counted by the time of the exchange they are about (so "thumbs in March" means
thumbs on answers given in March) and filtered through that exchange (model, persona, source,
brief, user). A thumb can be changed: only the latest thumb per exchange counts. Preferences
are counted by their own time (when the vote was cast).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries import ratings
from aeries.analytics.filters import (
    BUCKETS,
    Filters,
    _in,
    bucket_key,
    bucket_time,
    exchange_where,
    frame,
)
from aeries.analytics.stats import wilson
from aeries.store.db import Database

NO_PERSONA_LABEL = "(no persona)"
# Preference × latency: TTFT gap buckets (ms): [low, high) and their labels, in order.
GAP_BUCKETS: tuple[tuple[float, float, str], ...] = (
    (0, 100, "< 100 ms"),
    (100, 250, "100–250 ms"),
    (250, 500, "250–500 ms"),
    (500, 1000, "0.5–1 s"),
    (1000, 2000, "1–2 s"),
    (2000, float("inf"), "≥ 2 s"),
)
MAX_RATING_PERIODS = 24
TREND_COLUMNS = ["bucket", "model", "rating", "lower", "upper", "votes"]


def preference_where(f: Filters, alias: str = "p") -> tuple[str, list]:
    """Conditions on preferences: their time, both models, user, source; persona and brief
    through the exchanges of both sides."""
    params: list = [f.start, f.end]
    clauses = [f"{alias}.created_at >= ? AND {alias}.created_at < ?"]
    if f.models:
        clauses.append(_in(f"{alias}.model_a", f.models, params))
        clauses.append(_in(f"{alias}.model_b", f.models, params))
    if f.users:
        clauses.append(_in(f"{alias}.user_id", f.users, params))
    if f.sources:
        clauses.append(_in(f"{alias}.source", f.sources, params))
    if f.personas or f.brief is not None:
        side = Filters(f.start, f.end, personas=f.personas, brief=f.brief, bucket=f.bucket)
        where, more = exchange_where(side, "x", time=False)
        for column in ("exchange_a", "exchange_b"):
            clauses.append(f"{alias}.{column} IN (SELECT x.id FROM exchanges x WHERE {where})")
            params += more
    return " AND ".join(clauses), params


def preference_tables(f: Filters) -> tuple[str, ...]:
    """The tables ``preference_where(f)`` reads (for ``db.analytics``)."""
    if f.personas or f.brief is not None:
        return ("preferences", "exchanges")
    return ("preferences",)


def preference_counts(db: Database, f: Filters, bucket: str | None = None) -> pd.DataFrame:
    """Preferences counted by bucket, model_a, model_b, winner, kind and weight: those
    columns and n (how many preferences the row stands for), in that sort order."""
    where, params = preference_where(f)
    bucket = bucket or f.bucket
    sql = f"""
        SELECT {bucket_time("b", bucket)} AS bucket, model_a, model_b, winner, kind, weight, n
        FROM (
            SELECT {bucket_key("p.created_at", bucket)} AS b, p.model_a, p.model_b, p.winner,
                   p.kind, p.weight, count(*) AS n
            FROM preferences p
            WHERE {where}
            GROUP BY ALL
        )
        ORDER BY b, model_a, model_b, winner, kind, weight"""
    return frame(db.analytics(*preference_tables(f)), sql, params)


def select_kinds(prefs: pd.DataFrame, implicit: bool) -> pd.DataFrame:
    """Explicit votes only, or explicit and implicit preferences with their own weights."""
    rows = prefs if implicit else prefs[prefs["kind"] == "explicit"]
    return rows.drop(columns=["kind"])


def leaderboard(prefs: pd.DataFrame, *, rounds: int = 100, seed: int = 0) -> pd.DataFrame:
    """Bradley–Terry ratings with bootstrap CIs and vote counts (see aeries.ratings)."""
    return ratings.leaderboard(prefs, rounds=rounds, seed=seed)


def rating_period(f: Filters) -> str:
    """The bucket for refitting ratings: the filter's, coarsened to at most 24 periods."""
    for bucket in BUCKETS:
        if BUCKETS[bucket] < BUCKETS[f.bucket]:
            continue
        if (f.end - f.start).total_seconds() / BUCKETS[bucket] <= MAX_RATING_PERIODS:
            return bucket
    return "week"


def rating_trend(prefs: pd.DataFrame, *, rounds: int = 50, seed: int = 0) -> pd.DataFrame:
    """Bradley–Terry refitted on each period's preferences (rows of ``preference_counts``),
    all periods in one batch: bucket, model, rating, lower, upper, votes. A model with no
    votes in a period has no point there; each period resamples with ``seed``."""
    fit = ratings.bootstrap_ratings_by(prefs, "bucket", rounds=rounds, seed=seed)
    if fit.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    return fit.join(_votes(prefs), on=["bucket", "model"])[TREND_COLUMNS]


def _votes(prefs: pd.DataFrame) -> pd.Series:
    """Votes by bucket and model: the preferences naming the model on either side."""
    model = pd.concat([prefs["model_a"], prefs["model_b"]], ignore_index=True)
    bucket, n = (pd.concat([prefs[c]] * 2, ignore_index=True) for c in ("bucket", "n"))
    return n.groupby([bucket, model]).sum().rename("votes")


def win_matrix(db: Database, f: Filters, implicit: bool = False) -> pd.DataFrame:
    """Row model's weighted win rate against each opponent (ties half): model, opponent,
    win_rate, battles. Self-battles are left out."""
    where, params = preference_where(f)
    kinds = _kinds(implicit)
    sql = f"""
        WITH sides AS (
            SELECT p.model_a AS model, p.model_b AS opponent, p.weight AS w,
                   CASE p.winner WHEN 'a' THEN 1.0 WHEN 'b' THEN 0.0 ELSE 0.5 END AS score
            FROM preferences p WHERE {where} {kinds} AND p.model_a <> p.model_b
            UNION ALL
            SELECT p.model_b, p.model_a, p.weight,
                   CASE p.winner WHEN 'b' THEN 1.0 WHEN 'a' THEN 0.0 ELSE 0.5 END
            FROM preferences p WHERE {where} {kinds} AND p.model_a <> p.model_b
        )
        SELECT model, opponent, sum(w * score) / sum(w) AS win_rate, count(*) AS battles
        FROM sides WHERE w > 0
        GROUP BY ALL ORDER BY model, opponent"""
    return frame(db.analytics(*preference_tables(f)), sql, params + params)


def _kinds(implicit: bool) -> str:
    return "" if implicit else " AND p.kind = 'explicit'"


def position_bias(db: Database, f: Filters, implicit: bool = True) -> pd.DataFrame:
    """How often the left side (position 0) wins, ties counting half, per kind: kind, n,
    left_wins, left_win_rate, lower, upper."""
    where, params = preference_where(f)
    where += _kinds(implicit)
    sql = f"""
        SELECT p.kind, count(*) AS n,
               sum(CASE WHEN p.winner NOT IN ('a', 'b') THEN 0.5
                        WHEN (p.winner = 'a') = (p.position_a = 0) THEN 1.0 ELSE 0.0 END)
                   AS left_wins
        FROM preferences p
        WHERE {where} AND (p.position_a = 0 OR p.position_b = 0)
        GROUP BY ALL ORDER BY p.kind"""
    out = frame(db.analytics(*preference_tables(f)), sql, params)
    out["left_win_rate"] = out["left_wins"] / out["n"]
    out["lower"], out["upper"] = wilson(out["left_wins"], out["n"])
    return out


def latency_preference(db: Database, f: Filters, implicit: bool = True) -> pd.DataFrame:
    """Win rate of the side that answered first, by the TTFT gap between the two sides:
    gap, order, n, faster_wins, faster_win_rate, lower, upper (ties half; equal TTFT left out)."""
    where, params = preference_where(f)
    where += _kinds(implicit)
    cases = " ".join(
        f"WHEN gap < {hi} THEN {i}" for i, (_, hi, _) in enumerate(GAP_BUCKETS) if hi != np.inf
    )
    sql = f"""
        WITH scored AS (
            SELECT abs(p.ttft_a_ms - p.ttft_b_ms) AS gap,
                   CASE WHEN p.winner NOT IN ('a', 'b') THEN 0.5
                        WHEN (p.winner = 'a') = (p.ttft_a_ms < p.ttft_b_ms) THEN 1.0
                        ELSE 0.0 END AS faster_won
            FROM preferences p
            WHERE {where} AND p.ttft_a_ms <> p.ttft_b_ms
        )
        SELECT CASE {cases} ELSE {len(GAP_BUCKETS) - 1} END AS "order",
               count(*) AS n, sum(faster_won) AS faster_wins
        FROM scored GROUP BY ALL ORDER BY "order" """
    out = frame(db.analytics(*preference_tables(f)), sql, params)
    out["gap"] = out["order"].map({i: label for i, (_, _, label) in enumerate(GAP_BUCKETS)})
    out["faster_win_rate"] = out["faster_wins"] / out["n"]
    out["lower"], out["upper"] = wilson(out["faster_wins"], out["n"])
    return out[["gap", "order", "n", "faster_wins", "faster_win_rate", "lower", "upper"]]
