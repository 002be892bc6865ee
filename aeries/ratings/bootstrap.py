"""Percentile bootstrap of the Bradley–Terry fit, every round and group in one batch.

Battles are aggregated into distinct battles with counts; a round is one multinomial draw of
those counts, so a round costs a win matrix, not a pass over the rows. The win matrices of all
rounds of all groups are fitted together by ``aeries.ratings.fit`` in batches of ~16 MB.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from aeries.ratings.battles import (
    Battles,
    Keys,
    prepare,
    split_groups,
    unique_battles,
    win_matrices,
)
from aeries.ratings.fit import DEFAULT_REG, _fit_theta
from aeries.ratings.scale import RatingScale, _empty_frame

BOOTSTRAP_COLUMNS = ["rating", "lower", "upper", "rounds"]
_DTYPES = {
    "group": int,
    "model": "str",
    "rating": float,
    "lower": float,
    "upper": float,
    "rounds": int,
}

_CHUNK_CELLS = 2_000_000
_ARENA_SCALE = RatingScale()  # 400 points per 10-fold odds, mean 1000


def _resample(counts: np.ndarray, rounds: int, seed: int | None) -> np.ndarray:
    """The counts, then ``rounds`` multinomial resamples of them from a generator of ``seed``."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=rounds)
    return np.vstack([counts[None], draws]).astype(float)


def _win_batches(keys: list[Keys], blocks: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """Win matrices of every row of every block (block b counts the battles in keys[b]),
    packed across blocks into batches of about ``_CHUNK_CELLS`` cells (~16 MB)."""
    chunk = max(1, _CHUNK_CELLS // (n * n))
    pending: list[np.ndarray] = []
    for k, block in zip(keys, blocks, strict=True):
        for start in range(0, len(block), chunk):
            pending.append(win_matrices(k, block[start : start + chunk], n))
            if sum(map(len, pending)) >= chunk:
                yield np.concatenate(pending)
                pending = []
    if pending:
        yield np.concatenate(pending)


def _fit_blocks(
    keys: list[Keys], blocks: list[np.ndarray], n: int, reg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fit every row of every block in batches; also which models appear in each row."""
    thetas, presents = [], []
    for w in _win_batches(keys, blocks, n):
        thetas.append(_fit_theta(w, reg))
        presents.append((w.sum(axis=2) + w.sum(axis=1)) > 0)
    return np.concatenate(thetas), np.concatenate(presents)


def _nan_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.nanquantile(x, qs, axis=1)`` (linear) of a 3-D array, bit for bit, without its
    loop over columns; NaN where a column is all NaN."""
    ordered = np.sort(x, axis=1)  # NaN sorts last
    last = (~np.isnan(x)).sum(axis=1, keepdims=True) - 1
    pos = last * np.asarray(qs, dtype=float)[None, :, None]
    below = np.floor(pos)
    gamma = pos - below
    a = np.take_along_axis(ordered, np.clip(below, 0, None).astype(np.intp), axis=1)
    upper = np.clip(np.minimum(below + 1, last), 0, None).astype(np.intp)
    b = np.take_along_axis(ordered, upper, axis=1)
    diff = b - a
    lerp = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)  # as numpy's
    return np.moveaxis(np.where(last >= 0, lerp, np.nan), 1, 0)


def _bootstrap(
    data: Battles,
    *,
    rounds: int,
    seed: int | None,
    ci: float,
    rating_scale: RatingScale = _ARENA_SCALE,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """Point fit and bootstrap of every group of ``data`` in one batch: group (index into
    ``data.groups``), model, rating, lower, upper, rounds; by group, then best first.

    A model without battles in a group has zero rows and columns in that group's matrices:
    the penalty is separable, so it stays at 0, does not move the others, and is masked out
    before centring. Each group resamples with its own generator seeded with ``seed``.
    """
    if rounds < 1 or not 0 < ci < 1:
        raise ValueError("need rounds >= 1 and 0 < ci < 1")
    if data.n == 0:
        return _empty_frame(_DTYPES)
    parts = split_groups(*unique_battles(data), len(data.groups))
    blocks = [_resample(counts, rounds, seed) for _, counts in parts]
    theta, present = _fit_blocks([keys for keys, _ in parts], blocks, data.n, reg)
    shape = (len(parts), rounds + 1, data.n)
    theta, present = theta.reshape(shape), present.reshape(shape)
    ratings = rating_scale.ratings(np.where(present, theta, np.nan), data.models)
    group, model = np.nonzero(present[:, 0])
    if np.isnan(ratings[group, 0, model]).any():
        raise KeyError(f"anchor model {rating_scale.anchor!r} has no battles in some group")
    # A model drawn in no round has an all-NaN column: its bounds are NaN.
    lower, upper = _nan_quantiles(ratings[:, 1:], ((1 - ci) / 2, (1 + ci) / 2))
    out = pd.DataFrame(
        {
            "group": group,
            "model": pd.array(data.models[model], dtype="str"),
            "rating": ratings[group, 0, model],
            "lower": lower[group, model],
            "upper": upper[group, model],
            "rounds": present[:, 1:].sum(axis=1)[group, model],
        }
    )
    return out.sort_values(["group", "rating"], ascending=[True, False], kind="stable")


def bootstrap_ratings(
    battles: pd.DataFrame,
    *,
    rounds: int = 100,
    seed: int | None = None,
    ci: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """BT ratings with percentile bootstrap intervals over battles resampled with replacement.

    Index: model (best first). Columns: rating (full-data fit), lower, upper, rounds (how
    many rounds the model appeared in; a round without the model does not count for its
    interval). Each round draws as many battles as there are (the sum of ``n``).
    """
    data = prepare(battles, weight_col, count_col)
    on = RatingScale(scale, base, init_rating, anchor)
    fit = _bootstrap(data, rounds=rounds, seed=seed, ci=ci, rating_scale=on, reg=reg)
    return fit.set_index("model")[BOOTSTRAP_COLUMNS]


def bootstrap_ratings_by(
    battles: pd.DataFrame,
    by: str,
    *,
    rounds: int = 100,
    seed: int | None = None,
    ci: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """``bootstrap_ratings`` of each group of battles (same value of ``by``), fitted together.

    A long frame: ``by``, model, rating, lower, upper, rounds; groups in sorted order, best
    first within each. A model without battles in a group has no row there, and rows whose
    ``by`` is missing are left out. Each group resamples with its own generator seeded with
    ``seed``, so its rows are those of ``bootstrap_ratings`` on that group alone, same seed.
    """
    data = prepare(battles, weight_col, count_col, by)
    on = RatingScale(scale, base, init_rating, anchor)
    fit = _bootstrap(data, rounds=rounds, seed=seed, ci=ci, rating_scale=on, reg=reg)
    labels = data.groups.take(fit.pop("group").to_numpy())
    fit.insert(0, by, labels.array)
    return fit.reset_index(drop=True)
