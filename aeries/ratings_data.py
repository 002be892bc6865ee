"""Battles prepared for rating: model indices, outcome codes, weights and pair aggregates.

Everything here turns a battles DataFrame (see ``aeries.ratings``) into arrays; the fitting
lives in ``aeries.ratings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

WINNER_CODES = {"a": 0, "b": 1, "tie": 2, "both_bad": 2}
A_WINS, B_WINS, TIE = 0, 1, 2


@dataclass(frozen=True)
class Battles:
    """Battles as integer model indices, outcome codes and weights."""

    models: np.ndarray  # sorted model names
    i: np.ndarray  # index of model_a
    j: np.ndarray  # index of model_b
    res: np.ndarray  # A_WINS, B_WINS or TIE
    w: np.ndarray  # weights, all > 0

    @property
    def n(self) -> int:
        return len(self.models)


# ---------------------------------------------------------------------------
# Input handling


def prepare(battles: pd.DataFrame, weight_col: str | None = "weight") -> Battles:
    """Validate battles and encode them; drops self-battles and zero-weight rows."""
    if len(battles) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Battles(np.array([], dtype=object), empty, empty, empty, np.zeros(0))
    missing = {"model_a", "model_b", "winner"} - set(battles.columns)
    if missing:
        raise KeyError(f"battles lack columns: {sorted(missing)}")
    if battles[["model_a", "model_b"]].isna().any(axis=None):
        raise ValueError("model_a and model_b must not be missing")
    a = battles["model_a"].astype(str).to_numpy()
    b = battles["model_b"].astype(str).to_numpy()
    res = encode_winner(battles["winner"])
    w = weights(battles, weight_col)
    keep = (a != b) & (w > 0)
    a, b, res, w = a[keep], b[keep], res[keep], w[keep]
    codes, models = pd.factorize(np.concatenate([a, b]), sort=True)
    m = len(a)
    return Battles(np.asarray(models, dtype=object), codes[:m], codes[m:], res, w)


def encode_winner(winner: pd.Series) -> np.ndarray:
    codes = winner.map(WINNER_CODES)
    bad = winner[codes.isna()]
    if len(bad):
        raise ValueError(f"unknown winner values: {sorted(map(str, bad.unique()))[:5]}")
    return codes.to_numpy(dtype=np.int64)


def weights(battles: pd.DataFrame, weight_col: str | None) -> np.ndarray:
    if weight_col is None or weight_col not in battles.columns:
        return np.ones(len(battles))
    w = pd.to_numeric(battles[weight_col]).fillna(1.0).to_numpy(dtype=float)
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError(f"{weight_col!r} must be finite and non-negative")
    return w


def in_ts_order(battles: pd.DataFrame) -> pd.DataFrame:
    if "ts" not in battles.columns:
        return battles
    return battles.sort_values("ts", kind="stable", na_position="last")


def select_kind(
    battles: pd.DataFrame, implicit_weight: float | None, kind_col: str, weight_col: str
) -> pd.DataFrame:
    """Drop implicit rows, or keep them with weight ``implicit_weight``."""
    if kind_col not in battles.columns:
        return battles
    implicit = (battles[kind_col] == "implicit").to_numpy()
    if implicit_weight is None:
        return battles[~implicit]
    if not (math.isfinite(implicit_weight) and implicit_weight >= 0):
        raise ValueError("implicit_weight must be finite and non-negative")
    out = battles.copy()
    if weight_col not in out.columns:
        out[weight_col] = 1.0
    out[weight_col] = out[weight_col].astype(float)
    out.loc[implicit, weight_col] = implicit_weight
    return out


# ---------------------------------------------------------------------------
# Aggregation


def unique_battles(data: Battles) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct (lo, hi, res, w) battles with lo < hi, and how often each occurs."""
    swap = data.i > data.j
    lo = np.where(swap, data.j, data.i)
    hi = np.where(swap, data.i, data.j)
    res = np.where(swap & (data.res != TIE), 1 - data.res, data.res)
    frame = pd.DataFrame({"lo": lo, "hi": hi, "res": res, "w": data.w})
    counts = frame.value_counts(sort=False)
    keys = counts.index.to_frame(index=False)
    return keys, counts.to_numpy(dtype=float)


def cell_contributions(keys: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each unique battle, the win-matrix cells it adds to: (cell, source row, amount)."""
    lo, hi = keys["lo"].to_numpy(), keys["hi"].to_numpy()
    res, w = keys["res"].to_numpy(), keys["w"].to_numpy(dtype=float)
    tie = np.flatnonzero(res == TIE)
    first = np.where(res == B_WINS, hi * n + lo, lo * n + hi)
    cells = np.concatenate([first, hi[tie] * n + lo[tie]])
    source = np.concatenate([np.arange(len(keys)), tie])
    amount = np.concatenate([np.where(res == TIE, w / 2, w), w[tie] / 2])
    return cells, source, amount


def win_matrices(keys: pd.DataFrame, counts: np.ndarray, n: int) -> np.ndarray:
    """Win-weight matrices W[r, i, j] (i's wins over j) for count vectors ``counts[r]``."""
    counts = np.atleast_2d(counts)
    rounds = counts.shape[0]
    cells, source, amount = cell_contributions(keys, n)
    flat = (np.arange(rounds)[:, None] * (n * n) + cells[None, :]).ravel()
    values = (counts[:, source] * amount[None, :]).ravel()
    w = np.bincount(flat, weights=values, minlength=rounds * n * n)
    return w.reshape(rounds, n, n)


def win_matrix(data: Battles) -> np.ndarray:
    keys, counts = unique_battles(data)
    return win_matrices(keys, counts, data.n)[0]


def outcome_counts(data: Battles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unweighted wins, losses and ties per model."""
    n = data.n
    winner = np.where(data.res == A_WINS, data.i, data.j)
    loser = np.where(data.res == A_WINS, data.j, data.i)
    decided = data.res != TIE
    wins = np.bincount(winner[decided], minlength=n)
    losses = np.bincount(loser[decided], minlength=n)
    ties = np.bincount(np.concatenate([data.i[~decided], data.j[~decided]]), minlength=n)
    return wins, losses, ties


# ---------------------------------------------------------------------------
# Bradley–Terry fit (batched Newton on aggregated win matrices)
