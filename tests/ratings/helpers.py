"""Battles for the ratings tests: known true ratings, synthetic and hand-built frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries import ratings as rt

TRUE = {"m0": 0.0, "m1": 50.0, "m2": 100.0, "m3": 150.0, "m4": 200.0}
ORDER_BEST_FIRST = ["m4", "m3", "m2", "m1", "m0"]


def synthetic(true: dict[str, float], n: int, seed: int, tie_rate: float = 0.1) -> pd.DataFrame:
    """Battles drawn from the BT model; ties keep each side's expected score at P(win)."""
    rng = np.random.default_rng(seed)
    names = np.array(list(true))
    values = np.array(list(true.values()))
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    p = rt.expected_win_prob(values[a], values[b])
    u = rng.random(n)
    winner = np.where(u < tie_rate, "tie", np.where(u < p + tie_rate / 2, "a", "b"))
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def battles(rows: list[tuple[str, str, str]], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    for name, values in extra.items():
        frame[name] = values
    return frame


def centred_truth(true: dict[str, float], init: float = 1000.0) -> pd.Series:
    s = pd.Series(true)
    return s - s.mean() + init


def counted(frame: pd.DataFrame) -> pd.DataFrame:
    """Identical rows collapsed into one with their number in ``n``."""
    grouped = frame.groupby(list(frame.columns), as_index=False, dropna=False)
    return grouped.size().rename(columns={"size": "n"})
