"""Tests for aeries.studies.outcomes: the outcome table against independent calculations.

Welch intervals and p-values are checked against statsmodels; Cohen's d against the pooled-SD
formula in numpy; the rank-biserial r by counting pairs (P(c > r) − P(c < r)); the
Mann–Whitney p against the tie-corrected normal approximation written out here.
"""

from __future__ import annotations

import math
from dataclasses import astuple

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from aeries.studies.outcomes import MeasureKind, Outcome, compare, outcome_frame, outcome_table

# scipy warns about "precision loss" for a group whose values are all equal; its variance is
# still exactly 0, which is what these tests are about.
CONSTANT_OK = pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")


def frame(groups: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """{condition: {measure: values}} → long rows; participant i of a condition is one person."""
    rows = []
    for condition, by_measure in groups.items():
        for measure, values in by_measure.items():
            for i, value in enumerate(values):
                rows.append((f"{condition}-{i}", condition, measure, value))
    return pd.DataFrame(rows, columns=["participant", "condition", "measure", "value"])


def welch(c: np.ndarray, r: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """statsmodels' Welch interval of mean(c) − mean(r) and its two-sided p."""
    cm = CompareMeans(DescrStatsW(c), DescrStatsW(r))
    low, high = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    _, p, _ = cm.ttest_ind(usevar="unequal")
    return float(low), float(high), float(p)


def cohen_d(c: np.ndarray, r: np.ndarray) -> float:
    n1, n2 = len(c), len(r)
    s1, s2 = np.var(c, ddof=1), np.var(r, ddof=1)
    pooled = math.sqrt(((n1 - 1) * s1 + (n2 - 1) * s2) / (n1 + n2 - 2))
    return float((np.mean(c) - np.mean(r)) / pooled)


def rank_biserial_by_pairs(c: np.ndarray, r: np.ndarray) -> float:
    return float(np.sign(np.subtract.outer(c, r)).mean())


def mwu_p_normal(c: np.ndarray, r: np.ndarray) -> float:
    """Two-sided p of U: normal approximation, tie-corrected variance, continuity 0.5."""
    n1, n2 = len(c), len(r)
    u = float((np.subtract.outer(c, r) > 0).sum() + 0.5 * (np.subtract.outer(c, r) == 0).sum())
    _, counts = np.unique(np.concatenate([c, r]), return_counts=True)
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - (counts**3 - counts).sum() / (n * (n - 1)))
    z = (abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def assert_no_nan(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        for value in astuple(o):
            if isinstance(value, float):
                assert math.isfinite(value), o


def row(outcomes: list[Outcome], measure: str, condition: str) -> Outcome:
    (found,) = [o for o in outcomes if o.measure == measure and o.condition == condition]
    return found


# ---------------------------------------------------------------------------
# A planted effect, recovered


@pytest.fixture
def study() -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """3 conditions × 60 participants; 'boost' is +0.5 SD on satisfaction, 'same' is +0.

    One fixed draw (its d is 0.47): with 60 a group a +0.5 SD effect's interval excludes 0 in
    ~78% of draws and a null one covers 0 in 95%, so another seed may fail the first test;
    test_interval_coverage_and_power checks those rates over many draws.
    """
    rng = np.random.default_rng(1)
    data: dict[str, dict[str, np.ndarray]] = {}
    for condition, shift in [("control", 0.0), ("same", 0.0), ("boost", 0.5)]:
        data[condition] = {
            "satisfaction": rng.normal(5.0 + shift, 1.0, 60),
            "latency_s": rng.lognormal(0.0, 0.5, 60),
        }
    long = frame({c: {m: list(v) for m, v in ms.items()} for c, ms in data.items()})
    return long, data


def test_planted_effect_recovered_and_matches_statsmodels(
    study: tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]],
) -> None:
    long, data = study
    table = outcome_table(long, {"satisfaction": "interval", "latency_s": "interval"}, "control")
    assert_no_nan(table)
    boost, same = row(table, "satisfaction", "boost"), row(table, "satisfaction", "same")
    assert boost.diff is not None and boost.diff > 0
    assert boost.ci_low is not None and boost.ci_low > 0  # the effect's interval excludes 0
    assert boost.effect is not None and 0.2 < boost.effect < 0.9
    assert boost.p_value is not None and boost.p_value < 0.05
    assert same.ci_low is not None and same.ci_high is not None
    assert same.ci_low < 0 < same.ci_high  # the null condition's interval covers 0

    ref = data["control"]
    for o in table:
        values = data[o.condition][o.measure]
        assert o.n == 60
        assert o.mean == pytest.approx(float(np.mean(values)))
        assert o.sd == pytest.approx(float(np.std(values, ddof=1)))
        assert (o.effect_name, o.test) == ("cohen_d", "Welch t")
        if o.condition == "control":
            assert (o.diff, o.ci_low, o.ci_high, o.effect, o.p_value) == (None,) * 5
            continue
        low, high, p = welch(values, ref[o.measure])
        assert o.diff == pytest.approx(float(np.mean(values) - np.mean(ref[o.measure])))
        assert (o.ci_low, o.ci_high) == pytest.approx((low, high), rel=1e-9)
        assert o.p_value == pytest.approx(p, rel=1e-9)
        assert o.effect == pytest.approx(cohen_d(values, ref[o.measure]), rel=1e-12)


def test_interval_coverage_and_power() -> None:
    """Over 400 simulated studies: a null interval covers 0 ~95% of the time (binomial SD 1.1
    points), a +0.5 SD effect's excludes 0 ~78% (power of Welch's t at 60 a group)."""
    rng = np.random.default_rng(2)
    covered = detected = 0
    for _ in range(400):
        r = rng.normal(0, 1, 60)
        null = compare(r, rng.normal(0, 1, 60), "interval")
        effect = compare(r, rng.normal(0.5, 1, 60), "interval")
        assert null.ci_low is not None and null.ci_high is not None and effect.ci_low is not None
        covered += null.ci_low < 0 < null.ci_high
        detected += effect.ci_low > 0
    assert 0.91 <= covered / 400 <= 0.99
    assert 0.68 <= detected / 400 <= 0.88


def test_welch_not_student_with_unequal_sizes_and_spreads() -> None:
    rng = np.random.default_rng(7)
    r, c = rng.normal(0, 1, 40), rng.normal(0.8, 3, 12)
    got = compare(r, c, "interval")
    low, high, p = welch(c, r)
    assert (got.ci_low, got.ci_high, got.p_value) == pytest.approx((low, high, p), rel=1e-9)
    _, student_p, _ = CompareMeans(DescrStatsW(c), DescrStatsW(r)).ttest_ind(usevar="pooled")
    assert (
        got.p_value is not None and abs(got.p_value - student_p) > 0.01
    )  # the check above can tell the two apart


def test_confidence_level_is_used() -> None:
    rng = np.random.default_rng(3)
    r, c = rng.normal(0, 1, 25), rng.normal(0.3, 1, 30)
    got = compare(r, c, "interval", confidence=0.90)
    assert (got.ci_low, got.ci_high) == pytest.approx(welch(c, r, alpha=0.10)[:2], rel=1e-9)
    wide = compare(r, c, "interval", confidence=0.99)
    assert wide.ci_low is not None and wide.ci_high is not None
    assert got.ci_low is not None and got.ci_high is not None
    assert wide.ci_low < got.ci_low and wide.ci_high > got.ci_high
    with pytest.raises(ValueError, match="confidence"):
        compare(r, c, "interval", confidence=95)


def test_cohen_d_worked_example() -> None:
    # means 2 and 4.5; variances 1 and 5/3; pooled variance (2·1 + 3·5/3) / 5 = 1.4
    got = compare([1, 2, 3], [3, 4, 5, 6], "interval")
    assert got.diff == pytest.approx(2.5)
    assert got.effect == pytest.approx(2.5 / math.sqrt(1.4))


# ---------------------------------------------------------------------------
# Ordinal measures: Likert items with ties


def test_likert_with_ties_matches_pair_counts_and_normal_approximation() -> None:
    rng = np.random.default_rng(11)
    levels = np.arange(1, 6)
    r = rng.choice(levels, 45, p=[0.15, 0.25, 0.3, 0.2, 0.1]).astype(float)
    c = rng.choice(levels, 50, p=[0.05, 0.15, 0.25, 0.3, 0.25]).astype(float)
    long = frame({"base": {"clarity": list(r)}, "warm": {"clarity": list(c)}})
    table = outcome_table(long, {"clarity": "ordinal"}, "base")
    assert [o.condition for o in table] == ["base", "warm"]
    warm = table[1]
    assert (warm.kind, warm.effect_name, warm.test) == (
        "ordinal",
        "rank_biserial",
        "Mann-Whitney U",
    )
    expected_r = rank_biserial_by_pairs(c, r)
    assert expected_r > 0  # the condition tends higher, so r is positive
    assert warm.effect == pytest.approx(expected_r, rel=1e-12)
    assert warm.p_value == pytest.approx(mwu_p_normal(c, r), rel=1e-9)
    low, high, _ = welch(c, r)  # the interval of the mean difference is Welch's here too
    assert (warm.ci_low, warm.ci_high) == pytest.approx((low, high), rel=1e-9)
    # swapping the groups flips the sign of r and keeps p
    swapped = compare(c, r, "ordinal")
    assert swapped.effect == pytest.approx(-expected_r)
    assert swapped.p_value == pytest.approx(warm.p_value)


def test_rank_biserial_worked_example() -> None:
    # pairs (c, r): 6 with c > r, 2 ties, 1 with c < r → (6 − 1) / 9
    got = compare([1, 2, 3], [2, 3, 4], "ordinal")
    assert got.effect == pytest.approx(5 / 9)


# ---------------------------------------------------------------------------
# Small and degenerate groups: None, never NaN


def test_single_value_gives_diff_but_no_inference() -> None:
    long = frame({"ref": {"score": [1.0, 2.0, 4.0]}, "solo": {"score": [5.0]}})
    for kind in ("interval", "ordinal"):
        table = outcome_table(long, {"score": kind}, "ref")
        assert_no_nan(table)
        solo = row(table, "score", "solo")
        assert (solo.n, solo.mean, solo.sd) == (1, 5.0, None)
        assert solo.diff == pytest.approx(5.0 - 7.0 / 3.0)
        assert (solo.ci_low, solo.ci_high, solo.effect, solo.p_value) == (None,) * 4


@CONSTANT_OK
def test_constant_groups() -> None:
    long = frame(
        {
            "ref": {"latency": [2.0, 2.0, 2.0], "thumbs": [1.0] * 4, "same": [3.0] * 3},
            "alt": {"latency": [6.0, 6.0], "thumbs": [0.0] * 5, "same": [3.0] * 4},
        }
    )
    kinds: dict[str, MeasureKind] = {"latency": "interval", "thumbs": "ordinal", "same": "ordinal"}
    table = outcome_table(long, kinds, "ref")
    assert_no_nan(table)
    latency = row(table, "latency", "alt")
    assert latency.diff == pytest.approx(4.0) and latency.sd == 0.0
    assert (latency.ci_low, latency.ci_high, latency.effect, latency.p_value) == (None,) * 4
    thumbs = row(table, "thumbs", "alt")  # complete separation: r = −1 and U has a p
    assert thumbs.effect == pytest.approx(-1.0)
    assert thumbs.p_value == pytest.approx(mwu_p_normal(np.zeros(5), np.ones(4)))
    assert (thumbs.ci_low, thumbs.ci_high) == (None, None)
    same = row(table, "same", "alt")  # every value tied: no test, no difference in ranks
    assert (same.diff, same.effect, same.p_value) == (0.0, 0.0, None)


@CONSTANT_OK
def test_one_constant_group_still_has_a_welch_interval() -> None:
    r, c = np.array([3.0, 3.0, 3.0, 3.0]), np.array([2.0, 4.0, 5.0, 7.0, 6.0])
    got = compare(r, c, "interval")
    low, high, p = welch(c, r)
    assert (got.ci_low, got.ci_high, got.p_value) == pytest.approx((low, high, p), rel=1e-9)
    assert got.effect == pytest.approx(cohen_d(c, r))


def test_nan_values_dropped_per_measure() -> None:
    rng = np.random.default_rng(5)
    r, c = rng.normal(0, 1, 20), rng.normal(1, 1, 20)
    r_holed, c_holed = r.copy(), c.copy()
    r_holed[[0, 3]] = np.nan
    c_holed[7] = np.nan
    long = frame(
        {"ref": {"a": list(r_holed), "b": list(r)}, "alt": {"a": list(c_holed), "b": list(c)}}
    )
    table = outcome_table(long, {"a": "interval", "b": "interval"}, "ref")
    assert_no_nan(table)
    a, b = row(table, "a", "alt"), row(table, "b", "alt")
    assert (row(table, "a", "ref").n, a.n, b.n) == (18, 19, 20)
    low, high, p = welch(c_holed[~np.isnan(c_holed)], r_holed[~np.isnan(r_holed)])
    assert (a.ci_low, a.ci_high, a.p_value) == pytest.approx((low, high, p), rel=1e-9)
    assert (b.ci_low, b.ci_high, b.p_value) == pytest.approx(welch(c, r), rel=1e-9)


def test_condition_without_values_on_a_measure_has_no_row() -> None:
    long = frame({"ref": {"a": [1.0, 2.0]}, "alt": {"a": [np.nan, np.nan]}})
    table = outcome_table(long, {"a": "interval"}, "ref")
    assert [o.condition for o in table] == ["ref"]


# ---------------------------------------------------------------------------
# Refusals and layout


def test_missing_reference_raises() -> None:
    long = frame({"a": {"score": [1.0, 2.0]}, "b": {"score": [2.0, 3.0]}})
    with pytest.raises(ValueError, match=r"reference condition 'control' is not in the data"):
        outcome_table(long, {"score": "interval"}, "control")
    holed = frame({"control": {"score": [np.nan]}, "b": {"score": [2.0, 3.0]}})
    with pytest.raises(ValueError, match=r"no values for 'score'"):
        outcome_table(holed, {"score": "interval"}, "control")


def test_measure_without_kind_raises_naming_it() -> None:
    long = frame({"ref": {"score": [1.0, 2.0], "mystery": [3.0, 4.0]}})
    with pytest.raises(ValueError, match="mystery"):
        outcome_table(long, {"score": "interval"}, "ref")
    with pytest.raises(ValueError, match="score"):
        outcome_table(long, {"score": "nominal", "mystery": "ordinal"}, "ref")  # type: ignore[dict-item]


def test_not_between_subjects_raises() -> None:
    long = frame({"ref": {"score": [1.0, 2.0]}, "alt": {"score": [3.0, 4.0]}})
    twice = pd.concat([long, long.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row"):
        outcome_table(twice, {"score": "interval"}, "ref")
    crossed = long.copy()
    crossed.loc[len(crossed)] = ["ref-0", "alt", "other", 1.0]
    with pytest.raises(ValueError, match="more than one condition"):
        outcome_table(crossed, {"score": "interval", "other": "interval"}, "ref")


def test_row_order_measures_by_name_reference_first() -> None:
    cond = {"zz_ref": [1.0, 2.0], "beta": [2.0, 3.0], "alpha": [3.0, 5.0], "mid": [0.0, 1.0]}
    long = frame({c: {"wait": v, "ease": v} for c, v in cond.items()}).sample(
        frac=1, random_state=0
    )
    table = outcome_table(long, {"wait": "interval", "ease": "ordinal"}, "zz_ref")
    assert [(o.measure, o.condition) for o in table] == [
        ("ease", "zz_ref"),
        ("ease", "alpha"),
        ("ease", "beta"),
        ("ease", "mid"),
        ("wait", "zz_ref"),
        ("wait", "alpha"),
        ("wait", "beta"),
        ("wait", "mid"),
    ]


def test_outcome_frame_columns_and_rows() -> None:
    long = frame({"ref": {"score": [1.0, 2.0, 4.0]}, "alt": {"score": [2.0, 5.0, 6.0]}})
    table = outcome_table(long, {"score": "interval"}, "ref")
    shown = outcome_frame(table)
    columns = ["measure", "kind", "condition", "n", "mean", "sd", "diff", "ci_low", "ci_high"]
    columns += ["effect", "effect_name", "test", "p_value"]
    assert list(shown.columns) == columns
    assert shown["condition"].tolist() == ["ref", "alt"]
    assert shown["mean"].tolist() == pytest.approx([7 / 3, 13 / 3])
    assert pd.isna(shown.loc[0, "diff"]) and shown.loc[1, "diff"] == pytest.approx(2.0)
    empty = outcome_frame([])
    assert list(empty.columns) == columns and len(empty) == 0
