"""The pandas baseline for bench_analytics: the same figures as aeries.analytics*, computed the
way a notebook would, on DataFrames loaded from the same database (default filters only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries import ratings
from aeries.analytics import Filters
from aeries.analytics.arena import GAP_BUCKETS

EXCHANGE_COLUMNS = (
    "id, user_id, model, source, persona_id, brief_enabled, status, started_at, ttft_ms, "
    "e2e_ms, tpot_ms, prompt_tokens, completion_tokens"
)
SIGNAL_COLUMNS = "exchange_id, user_id, kind, name, value_num, value_text, created_at"


def load(con) -> dict[str, pd.DataFrame]:
    """The tables the baseline needs, as a notebook would load them."""
    return {
        "ex": con.execute(f"SELECT {EXCHANGE_COLUMNS} FROM exchanges").df(),
        "sig": con.execute(f"SELECT {SIGNAL_COLUMNS} FROM signals").df(),
        "prefs": con.execute("SELECT * FROM preferences").df(),
        "personas": con.execute("SELECT id, name FROM personas").df(),
    }


def bucket(ts: pd.Series, width: str) -> pd.Series:
    """Bucket start: hour, day, or Monday of the week (UTC)."""
    if width == "week":
        return (ts - pd.to_timedelta(ts.dt.dayofweek, unit="D")).dt.floor("D")
    return ts.dt.floor("h" if width == "hour" else "D")


def _in_range(ex: pd.DataFrame, f: Filters) -> pd.DataFrame:
    return ex[(ex["started_at"] >= f.start) & (ex["started_at"] < f.end)]


def _metric(e: pd.DataFrame, metric: str) -> pd.Series:
    if metric == "tps":
        return e["completion_tokens"] / (e["e2e_ms"].where(e["e2e_ms"] > 0) / 1000)
    return e[f"{metric}_ms"]


def latency_trend(d: dict, f: Filters, metric: str) -> pd.DataFrame:
    e = _in_range(d["ex"], f)
    e = e[e["status"] == "ok"]
    g = pd.DataFrame({"bucket": bucket(e["started_at"], f.bucket), "model": e["model"]})
    g["v"] = _metric(e, metric)
    g = g.dropna(subset=["v"]).groupby(["bucket", "model"])["v"]
    out = g.quantile([0.5, 0.95, 0.99]).unstack()
    out.columns = ["p50", "p95", "p99"]
    return out.assign(n=g.size()).reset_index()


def latency_table(d: dict, f: Filters, metric: str) -> pd.DataFrame:
    e = _in_range(d["ex"], f)
    e = e[e["status"] == "ok"]
    g = pd.DataFrame({"model": e["model"], "v": _metric(e, metric)}).dropna()
    grouped = g.groupby("model")["v"]
    out = grouped.quantile([0.5, 0.9, 0.95, 0.99]).unstack()
    out.columns = ["p50", "p90", "p95", "p99"]
    return out.assign(n=grouped.size(), mean=grouped.mean()).reset_index()


def volume(d: dict, f: Filters) -> pd.DataFrame:
    e = _in_range(d["ex"], f)
    g = pd.DataFrame(
        {
            "bucket": bucket(e["started_at"], f.bucket),
            "model": e["model"],
            "ok": e["status"] == "ok",
            "errors": e["status"] == "error",
            "aborted": e["status"] == "aborted",
            "prompt_tokens": e["prompt_tokens"],
            "completion_tokens": e["completion_tokens"],
        }
    ).groupby(["bucket", "model"])
    out = g.sum().assign(requests=g.size())
    out["error_rate"] = out["errors"] / out["requests"]
    out["abort_rate"] = out["aborted"] / out["requests"]
    return out.reset_index()


def signal_summary(d: dict, f: Filters) -> dict[str, pd.DataFrame]:
    s = d["sig"]
    s = s[
        (s["created_at"] >= f.start)
        & s["name"].isin(["thumbs", "satisfaction", "sentiment"])
        & s["exchange_id"].notna()
        & s["value_num"].notna()
    ]
    s = s[(s["kind"] == "feedback") == (s["name"] == "thumbs")]
    thumbs = s[s["name"] == "thumbs"].sort_values("created_at")
    thumbs = thumbs.drop_duplicates("exchange_id", keep="last").set_index("exchange_id")
    per_x = pd.DataFrame({"thumb": thumbs["value_num"]})
    for name, col in (("satisfaction", "sat"), ("sentiment", "sent")):
        per_x = per_x.join(
            s[s["name"] == name].groupby("exchange_id")["value_num"].mean().rename(col),
            how="outer",
        )
    e = _in_range(d["ex"], f)[["id", "started_at", "model", "persona_id", "brief_enabled"]]
    j = per_x.reset_index(names="exchange_id").merge(e, left_on="exchange_id", right_on="id")
    names = d["personas"].rename(columns={"id": "persona_id", "name": "persona"})
    j = j.merge(names, on="persona_id", how="left")
    j["persona"] = j["persona"].fillna("(no persona)")
    j["bucket"] = bucket(j["started_at"], f.bucket)
    aggs = {
        "thumbs": ("thumb", "count"),
        "ups": ("thumb", "sum"),
        "sat_n": ("sat", "count"),
        "satisfaction": ("sat", "mean"),
        "sent_n": ("sent", "count"),
        "sentiment": ("sent", "mean"),
    }
    keys = {
        "model": ["bucket", "model"],
        "persona": ["bucket", "persona"],
        "overall": ["bucket"],
        "brief": ["brief_enabled"],
    }
    return {k: j.groupby(v, dropna=False).agg(**aggs).reset_index() for k, v in keys.items()}


def top_learned(d: dict, f: Filters, limit: int = 10) -> pd.DataFrame:
    s = d["sig"]
    s = s[
        (s["created_at"] >= f.start)
        & (s["created_at"] < f.end)
        & (s["kind"] == "observer")
        & s["name"].isin(["preference", "topic"])
        & s["value_text"].notna()
    ]
    g = s.groupby(["name", "value_text"]).agg(
        mentions=("user_id", "size"), users=("user_id", "nunique")
    )
    g = g.reset_index().sort_values(["name", "mentions", "value_text"], ascending=[1, 0, 1])
    return g.groupby("name").head(limit)


def _prefs(d: dict, f: Filters, explicit: bool = True) -> pd.DataFrame:
    p = d["prefs"]
    p = p[(p["created_at"] >= f.start) & (p["created_at"] < f.end)]
    return p[p["kind"] == "explicit"] if explicit else p


def ratings_figures(d: dict, f: Filters, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaderboard and per-period fits (the same aeries.ratings calls as the page)."""
    p = _prefs(d, f)
    battles = p[["model_a", "model_b", "winner", "weight"]]
    board = ratings.leaderboard(battles, rounds=100, seed=0)
    fits = [
        ratings.bootstrap_ratings(rows, rounds=50, seed=0).assign(bucket=b)
        for b, rows in battles.groupby(bucket(p["created_at"], period))
    ]
    return board, pd.concat(fits) if fits else pd.DataFrame()


def win_matrix(d: dict, f: Filters) -> pd.DataFrame:
    p = _prefs(d, f)
    p = p[p["model_a"] != p["model_b"]]
    score = p["winner"].map({"a": 1.0, "b": 0.0}).fillna(0.5)
    sides = pd.concat(
        [
            pd.DataFrame({"model": p["model_a"], "opponent": p["model_b"], "w": p["weight"],
                          "s": score}),
            pd.DataFrame({"model": p["model_b"], "opponent": p["model_a"], "w": p["weight"],
                          "s": 1 - score}),
        ]
    )  # fmt: skip
    sides["ws"] = sides["w"] * sides["s"]
    g = sides.groupby(["model", "opponent"])[["ws", "w"]].sum()
    return (g["ws"] / g["w"]).rename("win_rate").reset_index()


def position_bias(d: dict, f: Filters) -> pd.DataFrame:
    p = _prefs(d, f)
    p = p[(p["position_a"] == 0) | (p["position_b"] == 0)]
    left_a = p["position_a"] == 0
    won = np.where(
        ~p["winner"].isin(["a", "b"]), 0.5, ((p["winner"] == "a") == left_a).astype(float)
    )
    return pd.DataFrame({"kind": p["kind"], "w": won}).groupby("kind")["w"].agg(["size", "mean"])


def latency_preference(d: dict, f: Filters) -> pd.DataFrame:
    p = _prefs(d, f)
    x = d["ex"][["id", "ttft_ms"]].dropna()
    j = p.merge(x.rename(columns={"id": "exchange_a", "ttft_ms": "ta"}), on="exchange_a")
    j = j.merge(x.rename(columns={"id": "exchange_b", "ttft_ms": "tb"}), on="exchange_b")
    diff = j["ta"] - j["tb"]
    j = j[diff != 0]
    diff = diff[diff != 0]
    won = np.where(~j["winner"].isin(["a", "b"]), 0.5, ((j["winner"] == "a") == (diff < 0)))
    edges = [lo for lo, _, _ in GAP_BUCKETS] + [np.inf]
    order = pd.cut(diff.abs(), edges, right=False, labels=False)
    return (
        pd.DataFrame({"order": order, "w": won.astype(float)})
        .groupby("order")["w"]
        .agg(["size", "mean"])
    )
