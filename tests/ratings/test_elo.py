"""Tests for aeries.ratings.elo: online Elo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aeries import ratings as rt
from tests.ratings.helpers import TRUE, battles


def test_online_elo_roughly_orders(arena: pd.DataFrame) -> None:
    elo = rt.online_elo(arena)
    truth = pd.Series(TRUE)[elo.index]
    assert elo.index[0] == "m4"
    assert elo.index[-1] == "m0"
    spearman = np.corrcoef(elo.rank(), truth.rank())[0, 1]
    assert spearman >= 0.9
    assert elo.mean() == pytest.approx(1000.0)


def test_online_elo_hand_computed_and_ts_order() -> None:
    frame = battles([("A", "B", "a"), ("B", "A", "a")], ts=[2, 1])
    elo = rt.online_elo(frame, k=4.0)
    # ts order: B beats A first (1000 vs 1000, +2), then A beats B (1002 vs 998).
    first = 4 * 0.5
    second = 4 * (1 - 1 / (1 + 10 ** ((1000 + first - (1000 - first)) / 400)))
    assert elo["A"] == pytest.approx(1000 - first + second)
    assert elo["B"] == pytest.approx(1000 + first - second)
    by_rows = rt.online_elo(frame.drop(columns="ts"), k=4.0)
    assert by_rows["A"] != pytest.approx(elo["A"])
    # Battles without a timestamp go last.
    undated = frame.assign(ts=[pd.NaT, pd.Timestamp("2025-01-01")])
    assert rt.online_elo(undated, k=4.0)["A"] == pytest.approx(elo["A"])


def test_online_elo_plays_a_counted_row_as_consecutive_battles() -> None:
    frame = battles([("A", "B", "a"), ("B", "C", "tie"), ("C", "A", "a")], n=[3, 1, 2])
    expanded = frame.loc[frame.index.repeat(frame["n"])].drop(columns="n")
    pd.testing.assert_series_equal(rt.online_elo(frame), rt.online_elo(expanded))
