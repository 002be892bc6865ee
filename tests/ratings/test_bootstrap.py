"""Tests for aeries.ratings.bootstrap: percentile intervals, one group or many."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from aeries.ratings import bootstrap as rt  # the module: its _nan_quantiles is tested too
from tests.ratings.helpers import TRUE, battles, centred_truth, counted, synthetic

# ---------------------------------------------------------------------------
# Intervals


def test_bootstrap_intervals_cover_truth(arena: pd.DataFrame) -> None:
    # Each 95% interval covers its model ~95% of the time, all five together ~75%: this
    # fixed seed is one that does; the calibration test below is the statistical check.
    boot = rt.bootstrap_ratings(arena, rounds=200, seed=3)
    truth = centred_truth(TRUE)[boot.index]
    assert ((boot["lower"] <= truth) & (truth <= boot["upper"])).all()
    assert (boot["lower"] < boot["rating"]).all()
    assert (boot["rating"] < boot["upper"]).all()
    assert (boot["upper"] - boot["lower"]).between(10, 60).all()
    assert (boot["rounds"] == 200).all()


def test_bootstrap_intervals_are_calibrated() -> None:
    truth = centred_truth(TRUE)
    covered = []
    for seed in range(60):
        boot = rt.bootstrap_ratings(synthetic(TRUE, 2000, seed), rounds=100, seed=seed)
        t = truth[boot.index]
        covered.extend((boot["lower"] <= t) & (t <= boot["upper"]))
    # 300 model-intervals at nominal 95%: too narrow or too wide both fail.
    assert 0.89 <= np.mean(covered) <= 0.99


def test_bootstrap_does_not_depend_on_row_order(weighted_arena: pd.DataFrame) -> None:
    shuffled = weighted_arena.sample(frac=1.0, random_state=2)
    pd.testing.assert_frame_equal(
        rt.bootstrap_ratings(shuffled, rounds=20, seed=1),
        rt.bootstrap_ratings(weighted_arena, rounds=20, seed=1),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )


# ---------------------------------------------------------------------------
# Grouped bootstrap


@pytest.fixture(scope="module")
def periods() -> pd.DataFrame:
    """Three periods; "m4" sits out the second, whose battles are also fewer."""
    first, second, third = (
        synthetic(TRUE, size, seed) for size, seed in ((900, 5), (300, 6), (900, 7))
    )
    second = second[(second["model_a"] != "m4") & (second["model_b"] != "m4")]
    labels = pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"], utc=True)
    parts = [p.assign(bucket=b) for p, b in zip((first, second, third), labels, strict=True)]
    return counted(pd.concat(parts, ignore_index=True))


def test_grouped_bootstrap_equals_each_group_alone(periods: pd.DataFrame) -> None:
    fit = rt.bootstrap_ratings_by(periods, "bucket", rounds=40, seed=9)
    assert list(fit.columns) == ["bucket", "model", *rt.BOOTSTRAP_COLUMNS]
    assert fit["bucket"].dtype == periods["bucket"].dtype
    assert fit["bucket"].is_monotonic_increasing
    for bucket, rows in periods.groupby("bucket"):
        alone = rt.bootstrap_ratings(rows.drop(columns="bucket"), rounds=40, seed=9)
        got = fit[fit["bucket"] == bucket].drop(columns="bucket").set_index("model")
        pd.testing.assert_frame_equal(got, alone, check_exact=False, rtol=0, atol=1e-9)


def test_grouped_bootstrap_leaves_absent_models_out(periods: pd.DataFrame) -> None:
    fit = rt.bootstrap_ratings_by(periods, "bucket", rounds=20, seed=0)
    per_bucket = fit.groupby("bucket")["model"].apply(set)
    assert per_bucket.tolist() == [set(TRUE), set(TRUE) - {"m4"}, set(TRUE)]
    # Centred over the models present: the absent one neither shifts nor joins the mean.
    assert fit.groupby("bucket")["rating"].mean().to_numpy() == pytest.approx(1000.0)
    assert fit[["rating", "lower", "upper"]].notna().all(axis=None)
    with pytest.raises(KeyError, match="m4"):
        rt.bootstrap_ratings_by(periods, "bucket", rounds=5, anchor="m4")


def test_grouped_bootstrap_skips_missing_groups_and_empty_input() -> None:
    frame = battles([("A", "B", "a"), ("A", "B", "b"), ("A", "C", "a")], g=["x", None, "y"])
    fit = rt.bootstrap_ratings_by(frame, "g", rounds=5, seed=0)
    assert fit[["g", "model"]].values.tolist() == [["x", "A"], ["x", "B"], ["y", "A"], ["y", "C"]]
    empty = rt.bootstrap_ratings_by(frame.iloc[:0], "g", rounds=5)
    assert empty.empty and list(empty.columns) == ["g", "model", *rt.BOOTSTRAP_COLUMNS]
    with pytest.raises(KeyError, match="lack columns"):
        rt.bootstrap_ratings_by(frame, "period")


def test_bootstrap_bounds_are_numpys_nanquantile() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 37, 6))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[1, :, 2] = np.nan
    qs = (0.025, 0.5, 0.975)
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        expected = np.nanquantile(x, qs, axis=1)
    assert np.array_equal(rt._nan_quantiles(x, qs), expected, equal_nan=True)


# ---------------------------------------------------------------------------
# Seeds, rounds and levels


def test_bootstrap_reproducible_with_seed(arena: pd.DataFrame) -> None:
    first = rt.bootstrap_ratings(arena, rounds=30, seed=7)
    again = rt.bootstrap_ratings(arena, rounds=30, seed=7)
    other = rt.bootstrap_ratings(arena, rounds=30, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first[["lower", "upper"]], other[["lower", "upper"]])
    pd.testing.assert_series_equal(first["rating"], other["rating"])


def test_bootstrap_skips_rounds_missing_a_model(arena: pd.DataFrame) -> None:
    frame = pd.concat([arena, battles([("rare", "m4", "a")])], ignore_index=True)
    boot = rt.bootstrap_ratings(frame, rounds=100, seed=1)
    # rare's single battle is missed with probability (1 - 1/8001)^8001 ≈ e^-1.
    assert 50 < boot.loc["rare", "rounds"] < 75
    assert (boot.drop(index="rare")["rounds"] == 100).all()
    # Whenever rare is drawn it is undefeated, so absent rounds must not drag it to the mean.
    assert boot.loc["rare", "lower"] > boot.loc["m4", "upper"]


def test_interval_level_is_configurable(arena: pd.DataFrame) -> None:
    wide = rt.bootstrap_ratings(arena, rounds=100, seed=2, ci=0.99)
    narrow = rt.bootstrap_ratings(arena, rounds=100, seed=2, ci=0.5)
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).all()
