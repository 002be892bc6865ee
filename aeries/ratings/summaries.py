"""What the arena shows: the leaderboard, win-rate and battle-count matrices, and which
models' ratings the data cannot pin down ("unbounded")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries.ratings.battles import Battles, outcome_counts, prepare, select_kind, win_matrix
from aeries.ratings.bootstrap import _bootstrap
from aeries.ratings.scale import _empty_frame, _model_index

_LEADERBOARD_DTYPES = {
    "model": "str",
    "rating": float,
    "lower": float,
    "upper": float,
    "votes": int,
    "wins": int,
    "losses": int,
    "ties": int,
    "win_rate": float,
    "unbounded": bool,
    "rank": int,
}
LEADERBOARD_COLUMNS = list(_LEADERBOARD_DTYPES)

# ---------------------------------------------------------------------------
# Unbounded models


def _reachability(adjacency: np.ndarray) -> np.ndarray:
    """Transitive closure of a boolean adjacency matrix (reflexive)."""
    reach = (adjacency | np.eye(len(adjacency), dtype=bool)).astype(float)
    while True:
        grown = (reach @ reach) > 0
        if np.array_equal(grown, reach > 0):
            return grown
        reach = grown.astype(float)


def _main_component(w: np.ndarray) -> np.ndarray:
    """Mask of the largest strongly connected "beats" component (ties broken by weight)."""
    same = _reachability(w > 0)
    component = same & same.T
    sizes = component.sum(axis=1)
    if sizes.max() < 2:
        return np.zeros(len(w), dtype=bool)
    members = component.astype(float)
    inner_weight = ((members @ (w + w.T)) * members).sum(axis=1)
    best = np.lexsort((inner_weight, sizes))[-1]
    return component[best]


def _unbounded_reasons(data: Battles) -> np.ndarray:
    w = win_matrix(data)
    won, lost = w.sum(axis=1) > 0, w.sum(axis=0) > 0
    main = _main_component(w)
    reasons = np.full(data.n, "", dtype=object)
    reasons[~main] = "outside the main comparison graph"
    reasons[~lost] = "no losses"
    reasons[~won] = "no wins"
    return reasons


def unbounded_reasons(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.Series:
    """Why each model's BT rating is unbounded ("" when it is well defined).

    The unpenalised MLE is finite only inside a strongly connected "beats" graph (a tie is
    an edge both ways). Models outside the largest such component — all wins, all losses,
    or disconnected — are unbounded.
    """
    data = prepare(battles, weight_col, count_col)
    reasons = _unbounded_reasons(data) if data.n else np.zeros(0, dtype=object)
    return pd.Series(reasons, index=_model_index(data.models), name="reason", dtype="str")


def unbounded_models(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.Series:
    """Boolean Series by model: True where the rating is not pinned down by the data."""
    reasons = unbounded_reasons(battles, weight_col=weight_col, count_col=count_col)
    return (reasons != "").rename("unbounded")


# ---------------------------------------------------------------------------
# Matrices


def _model_frame(models: np.ndarray, values: np.ndarray, dtype: type) -> pd.DataFrame:
    index, columns = _model_index(models), _model_index(models, "opponent")
    return pd.DataFrame(values, index=index, columns=columns, dtype=dtype)


def win_rate_matrix(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.DataFrame:
    """Row model's (weighted) win rate against the column model, ties half; NaN if unplayed."""
    data = prepare(battles, weight_col, count_col)
    if data.n == 0:
        return _model_frame(data.models, np.zeros((0, 0)), float)
    w = win_matrix(data)
    total = w + w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, w / total, np.nan)
    return _model_frame(data.models, rate, float)


def battle_count_matrix(battles: pd.DataFrame, *, count_col: str | None = "n") -> pd.DataFrame:
    """Symmetric count of battles between each pair of models (unweighted)."""
    data = prepare(battles, weight_col=None, count_col=count_col)
    n = data.n
    cells = np.bincount(data.i * n + data.j, weights=data.count, minlength=n * n)
    counts = cells.reshape(n, n).astype(np.int64)
    return _model_frame(data.models, counts + counts.T, int)


# ---------------------------------------------------------------------------
# Leaderboard


def leaderboard(
    battles: pd.DataFrame,
    *,
    rounds: int = 100,
    seed: int | None = 0,
    implicit_weight: float | None = None,
    kind_col: str = "kind",
    weight_col: str = "weight",
    count_col: str | None = "n",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Ratings with bootstrap intervals and vote counts, best first.

    If ``kind_col`` exists, rows with kind "implicit" are dropped when ``implicit_weight`` is
    None, else kept with that weight (replacing any weight they had). ``votes``, ``wins``,
    ``losses`` and ``ties`` are unweighted counts (a row counts ``n`` times); ``win_rate`` =
    (wins + ties/2) / votes. ``rank`` is 1 + the number of models rated strictly higher.
    """
    selected = select_kind(battles, implicit_weight, kind_col, weight_col)
    data = prepare(selected, weight_col, count_col)
    if data.n == 0:
        return _empty_frame(_LEADERBOARD_DTYPES)
    boot = _bootstrap(data, rounds=rounds, seed=seed, ci=ci)
    wins, losses, ties = outcome_counts(data)
    votes = wins + losses + ties
    table = pd.DataFrame(
        {
            "model": pd.array(data.models, dtype="str"),
            "votes": votes,
            "wins": wins,
            "losses": losses,
            "ties": ties,
            "win_rate": (wins + 0.5 * ties) / votes,
            "unbounded": _unbounded_reasons(data) != "",
        }
    )
    table = boot[["model", "rating", "lower", "upper"]].merge(table, on="model")
    table["rank"] = table["rating"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="stable")
    return table[LEADERBOARD_COLUMNS].reset_index(drop=True)
