"""Battles prepared for rating: model indices, outcome codes, weights, counts and pair aggregates.

Everything here turns a battles DataFrame (its columns are described in ``aeries.ratings``)
into arrays, or (``expand_best_of``) one best-of-N vote into pairwise rows; the fitting lives
in ``aeries.ratings.fit``, ``bootstrap`` and ``elo``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

WINNER_CODES = {"a": 0, "b": 1, "tie": 2, "both_bad": 2}
A_WINS, B_WINS, TIE = 0, 1, 2
KEY_COLUMNS = ("g", "lo", "hi", "res", "w")

Keys = dict[str, np.ndarray]  # distinct battles: one array per KEY_COLUMNS name


@dataclass(frozen=True)
class Battles:
    """Battles as integer model indices, outcome codes, weights, counts and groups."""

    models: np.ndarray  # sorted model names
    i: np.ndarray  # index of model_a
    j: np.ndarray  # index of model_b
    res: np.ndarray  # A_WINS, B_WINS or TIE
    w: np.ndarray  # weights, all > 0
    count: np.ndarray  # how many identical battles each row stands for, all >= 1
    g: np.ndarray  # index of the row's group in ``groups``
    groups: pd.Index  # sorted group labels (a single group when not grouped)

    @property
    def n(self) -> int:
        return len(self.models)


# ---------------------------------------------------------------------------
# Input handling


def prepare(
    battles: pd.DataFrame,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    by: str | None = None,
) -> Battles:
    """Validate battles and encode them, grouped by the column ``by`` if given.

    Drops self-battles, rows of weight or count 0 and rows whose group is missing.
    """
    if len(battles) == 0:
        empty = np.zeros(0, dtype=np.int64)
        models = np.array([], dtype=object)
        return Battles(models, empty, empty, empty, np.zeros(0), empty, empty, pd.Index([]))
    missing = {"model_a", "model_b", "winner", *([by] if by else [])} - set(battles.columns)
    if missing:
        raise KeyError(f"battles lack columns: {sorted(missing)}")
    if battles[["model_a", "model_b"]].isna().any(axis=None):
        raise ValueError("model_a and model_b must not be missing")
    res = encode_winner(battles["winner"])
    w = weights(battles, weight_col)
    count = counts(battles, count_col)
    i, j, names = model_codes(battles["model_a"], battles["model_b"])
    g, labels = group_codes(battles, by)
    keep = (i != j) & (w > 0) & (count > 0) & (g >= 0)
    used, ij = np.unique(np.concatenate([i[keep], j[keep]]), return_inverse=True)
    used_groups, g = np.unique(g[keep], return_inverse=True)
    m = int(keep.sum())
    return Battles(
        names[used], ij[:m], ij[m:], res[keep], w[keep], count[keep], g, labels[used_groups]
    )


def model_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of model_a and model_b into the sorted names of both (as strings)."""
    code_a, names_a = pd.factorize(a)
    code_b, names_b = pd.factorize(b)
    names_a, names_b = _strings(names_a), _strings(names_b)
    names = np.unique(np.concatenate([names_a, names_b]))
    return np.searchsorted(names, names_a)[code_a], np.searchsorted(names, names_b)[code_b], names


def _strings(values: pd.Index) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


def group_codes(battles: pd.DataFrame, by: str | None) -> tuple[np.ndarray, pd.Index]:
    """Each row's index into the sorted labels of ``by`` (-1 where missing)."""
    if by is None:
        return np.zeros(len(battles), dtype=np.intp), pd.RangeIndex(1)
    codes, labels = pd.factorize(battles[by], sort=True)
    return codes, pd.Index(labels)


def encode_winner(winner: pd.Series) -> np.ndarray:
    """Outcome codes; each distinct value is looked up once."""
    codes, values = pd.factorize(winner, use_na_sentinel=False)
    lookup = np.array([WINNER_CODES.get(v, -1) for v in values], dtype=np.int64)
    bad = [str(v) for v, code in zip(values, lookup, strict=True) if code < 0]
    if bad:
        raise ValueError(f"unknown winner values: {sorted(bad)[:5]}")
    return lookup[codes]


def weights(battles: pd.DataFrame, weight_col: str | None) -> np.ndarray:
    if weight_col is None or weight_col not in battles.columns:
        return np.ones(len(battles))
    w = pd.to_numeric(battles[weight_col]).fillna(1.0).to_numpy(dtype=float)
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError(f"{weight_col!r} must be finite and non-negative")
    return w


def counts(battles: pd.DataFrame, count_col: str | None) -> np.ndarray:
    """How many identical battles each row stands for (1 without the column)."""
    if count_col is None or count_col not in battles.columns:
        return np.ones(len(battles), dtype=np.int64)
    c = pd.to_numeric(battles[count_col]).to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(c) & (c >= 0) & (c == np.floor(c))):
        raise ValueError(f"{count_col!r} must hold whole numbers >= 0")
    return c.astype(np.int64)


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


def unique_battles(data: Battles) -> tuple[Keys, np.ndarray]:
    """Distinct (g, lo, hi, res, w) battles with lo < hi, in sorted order, and their counts.

    The order depends only on the set of battles, not on the order of the rows.
    """
    swap = data.i > data.j
    lo = np.where(swap, data.j, data.i)
    hi = np.where(swap, data.i, data.j)
    res = np.where(swap & (data.res != TIE), 1 - data.res, data.res)
    columns = (data.g, lo, hi, res, data.w)
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    first = np.zeros(len(order), dtype=bool)
    first[:1] = True
    for column in ordered:
        first[1:] |= column[1:] != column[:-1]
    starts = np.flatnonzero(first)
    keys = {name: column[starts] for name, column in zip(KEY_COLUMNS, ordered, strict=True)}
    if len(starts) == 0:
        return keys, np.zeros(0, dtype=np.int64)
    return keys, np.add.reduceat(data.count[order], starts)


def split_groups(keys: Keys, counts: np.ndarray, groups: int) -> list[tuple[Keys, np.ndarray]]:
    """Unique battles (sorted by group) cut into each group's keys and counts."""
    bounds = np.searchsorted(keys["g"], np.arange(groups + 1))
    return [
        ({name: v[lo:hi] for name, v in keys.items()}, counts[lo:hi]) for lo, hi in pairwise(bounds)
    ]


def cell_contributions(keys: Keys, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each unique battle, the win-matrix cells it adds to: (cell, source row, amount)."""
    lo, hi, res, w = keys["lo"], keys["hi"], keys["res"], keys["w"]
    tie = np.flatnonzero(res == TIE)
    first = np.where(res == B_WINS, hi * n + lo, lo * n + hi)
    cells = np.concatenate([first, hi[tie] * n + lo[tie]])
    source = np.concatenate([np.arange(len(lo)), tie])
    amount = np.concatenate([np.where(res == TIE, w / 2, w), w[tie] / 2])
    return cells, source, amount


def win_matrices(keys: Keys, counts: np.ndarray, n: int) -> np.ndarray:
    """Win-weight matrices W[r, i, j] (i's wins over j) for count vectors ``counts[r]``."""
    counts = np.atleast_2d(counts)
    rounds = counts.shape[0]
    cells, source, amount = cell_contributions(keys, n)
    flat = (np.arange(rounds)[:, None] * (n * n) + cells[None, :]).ravel()
    values = (counts[:, source] * amount[None, :]).ravel()
    w = np.bincount(flat, weights=values, minlength=rounds * n * n)
    return w.reshape(rounds, n, n)


def win_matrix(data: Battles) -> np.ndarray:
    """All battles' win-weight matrix (groups pooled)."""
    keys, counts = unique_battles(data)
    return win_matrices(keys, counts, data.n)[0]


def outcome_counts(data: Battles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unweighted wins, losses and ties per model (each row counted ``count`` times)."""
    n = data.n
    winner = np.where(data.res == A_WINS, data.i, data.j)
    loser = np.where(data.res == A_WINS, data.j, data.i)
    decided = data.res != TIE
    c = data.count.astype(float)
    wins = np.bincount(winner[decided], weights=c[decided], minlength=n)
    losses = np.bincount(loser[decided], weights=c[decided], minlength=n)
    sides = np.concatenate([data.i[~decided], data.j[~decided]])
    ties = np.bincount(sides, weights=np.tile(c[~decided], 2), minlength=n)
    return wins.astype(np.int64), losses.astype(np.int64), ties.astype(np.int64)


# ---------------------------------------------------------------------------
# Best-of votes


def expand_best_of(contestants: list[str], best: str) -> list[tuple[str, str, Literal["a"]]]:
    """Pairwise (model_a, model_b, winner) rows for a best-of-N vote: best beats each other."""
    if len(set(contestants)) != len(contestants):
        raise ValueError("contestants must be distinct")
    if best not in contestants:
        raise ValueError(f"best {best!r} is not among the contestants")
    return [(best, other, "a") for other in contestants if other != best]
