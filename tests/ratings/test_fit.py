"""Tests for aeries.ratings.fit: the Bradley–Terry fit and its prior."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aeries import ratings as rt
from tests.ratings.helpers import ORDER_BEST_FIRST, TRUE, battles, centred_truth

# ---------------------------------------------------------------------------
# Recovery of known ratings


def test_bt_recovers_order_and_gaps(arena: pd.DataFrame) -> None:
    est = rt.bradley_terry(arena)
    assert list(est.index) == ORDER_BEST_FIRST
    truth = centred_truth(TRUE)
    assert est.mean() == pytest.approx(1000.0)
    # ~3,200 battles per model gives a standard error of ~6 points.
    assert (est - truth).abs().max() < 25
    assert rt.unbounded_models(arena).sum() == 0


def test_bt_solves_score_equations(arena: pd.DataFrame) -> None:
    """At the unpenalised MLE each model's expected score equals its actual score."""
    est = rt.bradley_terry(arena, reg=0)
    p = rt.expected_win_prob(est[arena["model_a"]].to_numpy(), est[arena["model_b"]].to_numpy())
    actual = arena["winner"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
    resid = pd.concat(
        [
            pd.Series(actual - p, index=arena["model_a"].to_numpy()),
            pd.Series(p - actual, index=arena["model_b"].to_numpy()),
        ]
    )
    assert resid.groupby(level=0).sum().abs().max() < 1e-6


# ---------------------------------------------------------------------------
# Invariances


def test_tie_only_gives_equal_ratings() -> None:
    frame = battles(
        [("A", "B", "tie"), ("B", "C", "both_bad"), ("C", "A", "tie"), ("A", "B", "tie")]
    )
    est = rt.bradley_terry(frame)
    assert np.allclose(est.to_numpy(), 1000.0, atol=1e-6)
    assert not rt.unbounded_models(frame).any()


def test_swapping_sides_gives_same_ratings(arena: pd.DataFrame) -> None:
    swapped = arena.rename(columns={"model_a": "model_b", "model_b": "model_a"})
    swapped["winner"] = swapped["winner"].map({"a": "b", "b": "a", "tie": "tie"})
    pd.testing.assert_series_equal(
        rt.bradley_terry(arena), rt.bradley_terry(swapped), check_exact=False, atol=1e-8
    )


def test_anchor_fixes_model_and_keeps_gaps(arena: pd.DataFrame) -> None:
    centred = rt.bradley_terry(arena)
    anchored = rt.bradley_terry(arena, anchor="m2", init_rating=1500.0)
    assert anchored["m2"] == pytest.approx(1500.0)
    gaps = anchored - anchored["m2"] - (centred - centred["m2"])
    assert gaps.abs().max() < 1e-8
    with pytest.raises(KeyError):
        rt.bradley_terry(arena, anchor="nobody")


def test_scale_and_base_are_respected() -> None:
    frame = battles([("A", "B", "a")] * 3 + [("A", "B", "b")])
    gap = rt.bradley_terry(frame, reg=0, scale=1.0, base=math.e)
    assert gap["A"] - gap["B"] == pytest.approx(math.log(3), abs=1e-9)


def test_fit_is_stationary_on_extreme_counts() -> None:
    """Weights from 1 to 2e5 and one-sided pairs: plain Newton diverges here; the fit must not."""
    w = np.array(
        [
            [0, 2e3, 0, 0, 0],
            [1e2, 0, 0, 0, 1],
            [1e5, 0, 0, 0, 2e2],
            [0, 1e4, 0, 0, 2e5],
            [0, 2e2, 2e2, 0, 0],
        ]
    )
    names = list("ABCDE")
    winners, losers = np.nonzero(w)
    frame = battles(
        [(names[i], names[j], "a") for i, j in zip(winners, losers, strict=True)],
        weight=w[winners, losers].tolist(),
    )
    est = rt.bradley_terry(frame, scale=1.0, base=math.e, init_rating=0.0)[names].to_numpy()
    p = 1 / (1 + np.exp(est[None, :] - est[:, None]))
    grad = (w - (w + w.T) * p).sum(axis=1) - rt.DEFAULT_REG * est
    assert np.isfinite(est).all()
    assert np.abs(grad).max() < 1e-6 * w.sum()


# ---------------------------------------------------------------------------
# Hand-computed values


def test_two_models_three_to_one() -> None:
    frame = battles([("A", "B", "a")] * 3 + [("A", "B", "b")])
    exact = rt.bradley_terry(frame, reg=0)
    assert exact["A"] - exact["B"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert exact.mean() == pytest.approx(1000.0)
    # The default prior moves a four-vote gap by well under a point.
    default = rt.bradley_terry(frame)
    assert default["A"] - default["B"] == pytest.approx(400 * math.log10(3), abs=0.5)
