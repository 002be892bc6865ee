"""The logistic rating scale and the shape ratings are returned in.

P(i beats j) = 1 / (1 + base^((R_j − R_i)/scale)), the Chatbot Arena scale. Fits work in
log-strengths θ (nats); a rating is θ · scale / ln(base), centred so the mean rating is
``init_rating`` (or so that ``anchor`` is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def expected_win_prob(
    r_a: float | np.ndarray, r_b: float | np.ndarray, scale: float = 400.0, base: float = 10.0
) -> float | np.ndarray:
    """P(a beats b) under the logistic rating model (a tie counts as half a win)."""
    x = (np.asarray(r_a, dtype=float) - np.asarray(r_b, dtype=float)) * math.log(base) / scale
    p = _sigmoid(x)
    return float(p) if p.ndim == 0 else p


@dataclass(frozen=True)
class RatingScale:
    """How log-strengths become ratings: points per ``base``-fold odds, and the centre."""

    scale: float = 400.0
    base: float = 10.0
    init_rating: float = 1000.0
    anchor: str | None = None  # the model rated ``init_rating``; None: the mean is

    def ratings(self, theta: np.ndarray, models: np.ndarray) -> np.ndarray:
        """Convert nats to the rating scale and centre each row (NaN-aware)."""
        ratings = theta * (self.scale / math.log(self.base))
        if self.anchor is None:
            centre = np.nanmean(ratings, axis=-1, keepdims=True)
        else:
            hits = np.flatnonzero(models == self.anchor)
            if hits.size == 0:
                raise KeyError(f"anchor model {self.anchor!r} has no battles")
            centre = ratings[..., hits[0] : hits[0] + 1]
        return ratings - centre + self.init_rating


def _model_index(models: np.ndarray, name: str = "model") -> pd.Index:
    return pd.Index(models, name=name, dtype="str")


def _rating_series(models: np.ndarray, values: np.ndarray) -> pd.Series:
    """Ratings indexed by model, best first."""
    return pd.Series(values, index=_model_index(models), name="rating", dtype=float).sort_values(
        ascending=False, kind="stable"
    )


def _empty_frame(dtypes: dict[str, object]) -> pd.DataFrame:
    """A frame with no rows and these columns, in this order, of these dtypes."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in dtypes.items()})
