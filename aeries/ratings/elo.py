"""Online Elo: ratings updated battle by battle, in time order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries.ratings.battles import A_WINS, B_WINS, TIE, in_ts_order, prepare
from aeries.ratings.scale import _rating_series


def online_elo(
    battles: pd.DataFrame,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
) -> pd.Series:
    """Sequential Elo in ``ts`` order (else row order); a battle's K is scaled by its weight.

    A row standing for ``n`` battles is played as ``n`` consecutive identical battles.
    """
    data = prepare(in_ts_order(battles), weight_col, count_col)
    ratings = [init_rating] * data.n
    score = {A_WINS: 1.0, B_WINS: 0.0, TIE: 0.5}
    sequence = (np.repeat(x, data.count).tolist() for x in (data.i, data.j, data.res, data.w))
    for i, j, res, w in zip(*sequence, strict=True):
        expected = 1.0 / (1.0 + base ** ((ratings[j] - ratings[i]) / scale))
        delta = k * w * (score[res] - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return _rating_series(data.models, np.asarray(ratings, dtype=float))
