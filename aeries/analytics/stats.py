"""Statistics the analytics sections share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def wilson(
    successes: pd.Series | np.ndarray, n: pd.Series | np.ndarray, z: float = 1.96
) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval (lower, upper) for a rate; NaN where n is 0."""
    s = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
