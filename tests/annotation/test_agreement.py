"""Tests for aeries.annotation.agreement.

Every figure is checked against a calculation that does not share its code: Krippendorff's
published worked examples, a textbook κ, statsmodels (Fleiss' κ, Cohen's κ from a table), a
brute-force α over rater pairs written here from the definitions, and — for the bootstrap —
the libraries called on each resample's items. Then synthetic labels with known agreement
(perfect, chance, planted disagreement), interval coverage, scale order, and the automatic
rater against people.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import time
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from aeries.annotation import agreement as ag
from aeries.annotation import automatic_vs_human, consensus, question_agreement
from tests.helpers import ROOT

NAN = math.nan
LIKERT = [1, 2, 3, 4, 5]

# ---------------------------------------------------------------------------------------------
# Helpers


def long(matrix: list[list[float]] | np.ndarray) -> pd.DataFrame:
    """A raters × items reliability matrix (NaN = no label) as a long label table."""
    m = np.asarray(matrix, dtype=float)
    rows = [
        (f"u{u:02d}", f"r{r}", m[r, u])
        for r in range(m.shape[0])
        for u in range(m.shape[1])
        if not np.isnan(m[r, u])
    ]
    return pd.DataFrame(rows, columns=["item_id", "rater_id", "value"])


def from_matrix(values: np.ndarray, offset: int = 0) -> pd.DataFrame:
    """items × raters values (complete) as a long label table."""
    n, r = values.shape
    return pd.DataFrame(
        {
            "item_id": np.repeat(np.arange(n), r),
            "rater_id": np.tile([f"r{j}" for j in range(r)], n),
            "value": values.ravel() + offset if offset else values.ravel(),
        }
    )


def brute_alpha(labels: pd.DataFrame, level: str, order: list[float] | None = None) -> float:
    """Krippendorff's α from its definition, pair by pair (Krippendorff 2011, §§ A–E):
    1 − D_o / D_e, D_o the mean δ² over the ordered pairs of values within each unit (each
    unit's pairs weighted 1/(m_u − 1)), D_e the mean δ² over all ordered pairs of pairable
    values. Ordinal δ² uses the ranks of the values among all pairable values."""
    units = [g["value"].to_list() for _, g in labels.groupby("item_id") if len(g) >= 2]
    pooled = [v for u in units for v in u]
    if order is not None:
        rank = {v: i for i, v in enumerate(order)}
        units = [[rank[v] for v in u] for u in units]
        pooled = [rank[v] for v in pooled]
    n = len(pooled)
    counts = {v: pooled.count(v) for v in set(pooled)}

    def delta(a: float, b: float) -> float:
        if level == "nominal":
            return float(a != b)
        if level == "ordinal":
            lo, hi = min(a, b), max(a, b)
            between = sum(c for v, c in counts.items() if lo <= v <= hi)
            return (between - (counts[a] + counts[b]) / 2) ** 2
        if level == "ratio":
            return ((a - b) / (a + b)) ** 2 if a + b else 0.0
        return (a - b) ** 2

    d_o = sum(
        sum(delta(a, b) for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in units
    )
    d_e = sum(delta(a, b) for a, b in itertools.permutations(pooled, 2)) / (n - 1)
    return 1 - d_o / d_e


def reliable(n: int, raters: int, k: int, p: float, seed: int) -> np.ndarray:
    """items × raters labels 0..k-1: each rater gives the item's true class with probability p,
    else a uniform class. Population α = κ = p², percent agreement = p² + (1 − p²)/k."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    noise = rng.integers(0, k, (n, raters))
    return np.where(rng.random((n, raters)) < p, truth[:, None], noise)


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1–5, missing values. Published α: nominal .743, ordinal .815,
# interval .849, ratio .797.
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
K2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
# Section A: two observers, binary data, ten units. Published α = 0.095.
K2011_BINARY = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]


def small(labels: pd.DataFrame, level: ag.Level, scale: list | None = None) -> ag.Agreement:
    """question_agreement() on a textbook-sized example (fewer items than the default)."""
    return question_agreement(labels, level, scale, min_items=2, min_pair_items=2)


# ---------------------------------------------------------------------------------------------
# Published answers


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_2011_worked_example(level: ag.Level) -> None:
    scale = LIKERT if level in ("nominal", "ordinal") else None
    result = small(long(K2011), level, scale)
    assert round(result.alpha.value, 3) == K2011_ALPHA[level]
    # 11 units have two or more values (unit 12 has one); 41 values, n = 40 pairable (as in
    # the paper's coincidence matrix).
    assert (result.n_items, result.n_raters) == (11, 4)
    assert result.n_labels == 40


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_from_item_sums_matches_the_published_example(
    level: ag.Level, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-item path (used where the library's arrays would not fit) gives the same α.
    monkeypatch.setattr(ag, "_LIBRARY_CELLS", 0)
    scale = LIKERT if level in ("nominal", "ordinal") else None
    assert round(small(long(K2011), level, scale).alpha.value, 3) == K2011_ALPHA[level]


def test_krippendorff_2011_binary_example() -> None:
    result = small(long(K2011_BINARY), "nominal", [0, 1])
    assert round(result.alpha.value, 3) == 0.095
    # Cohen's κ on the same two observers: p_o = .6, p_e = .8·.6 + .2·.4 = .56 → κ = .0909.
    assert result.kappa is not None
    assert result.kappa.value == pytest.approx((0.6 - 0.56) / (1 - 0.56))
    assert result.percent.value == pytest.approx(0.6)


def test_cohen_kappa_textbook_example() -> None:
    # 50 grant proposals, two readers (the standard textbook table, e.g. Wikipedia's "Cohen's
    # kappa"): both yes 20, both no 15, A yes / B no 5, A no / B yes 10. p_o = .7, p_e = .5,
    # κ = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    labels = pd.DataFrame(
        {
            "item_id": list(range(50)) * 2,
            "rater_id": ["A"] * 50 + ["B"] * 50,
            "value": a + b,
        }
    )
    result = question_agreement(labels, "nominal", ["yes", "no"])
    assert result.kappa is not None
    assert result.kappa.value == pytest.approx(0.4)
    assert result.pairs["kappa"].to_list() == pytest.approx([0.4])
    assert result.percent.value == pytest.approx(0.7)
    assert result.kappa.lower < 0.4 < result.kappa.upper


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_matches_statsmodels(weights: ag.KappaWeights) -> None:
    values = reliable(400, 2, 5, 0.6, seed=4)
    result = question_agreement(from_matrix(values, 1), "ordinal", LIKERT, kappa_weights=weights)
    table = np.zeros((5, 5))
    np.add.at(table, (values[:, 0], values[:, 1]), 1)
    expected = cohens_kappa(table, wt=weights).kappa
    assert result.kappa is not None
    assert result.kappa.value == pytest.approx(expected, abs=1e-12)
    assert result.kappa_weights == weights


def test_nominal_alpha_matches_fleiss_kappa_from_statsmodels() -> None:
    # With every rater on every item, nominal α = 1 − (1 − κ_Fleiss)·(n − 1)/n, n the number
    # of values (Fleiss' expected agreement has no small-sample correction; α's has).
    values = reliable(300, 4, 3, 0.5, seed=5)
    result = question_agreement(from_matrix(values), "nominal", [0, 1, 2])
    table = np.stack([(values == k).sum(axis=1) for k in range(3)], axis=1)
    n = values.size
    expected = 1 - (1 - fleiss_kappa(table)) * (n - 1) / n
    assert result.alpha.value == pytest.approx(expected, abs=1e-12)


def missing_labels(seed: int, level: str) -> pd.DataFrame:
    """40 items, 5 raters, about a third of the labels missing."""
    values = reliable(40, 5, 4, 0.6, seed).astype(float)
    if level in ("interval", "ratio"):
        values = values * 1.5 + np.random.default_rng(seed).integers(0, 2, values.shape)
    values[np.random.default_rng(seed + 1).random(values.shape) < 0.35] = np.nan
    return long(values.T)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("library_cells", [ag._LIBRARY_CELLS, 0])
def test_alpha_matches_the_definition_pair_by_pair(
    level: ag.Level, library_cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ag, "_LIBRARY_CELLS", library_cells)
    labels = missing_labels(6, level)
    order = [0.0, 1.0, 2.0, 3.0]
    scale = order if level in ("nominal", "ordinal") else None
    result = question_agreement(labels, level, scale)
    expected = brute_alpha(labels, level, order if level == "ordinal" else None)
    assert result.alpha.value == pytest.approx(expected, abs=1e-10)


def test_continuous_interval_values_use_item_sums() -> None:
    # 400 items × 3 raters of continuous values: 1,200 distinct values, far past what the
    # library's items × values² arrays hold; α must still equal the definition.
    rng = np.random.default_rng(7)
    truth = rng.normal(size=400)
    values = truth[:, None] + rng.normal(scale=0.5, size=(400, 3))
    labels = from_matrix(values)
    assert len(labels) * len(labels) ** 2 > ag._LIBRARY_CELLS
    result = question_agreement(labels, "interval")
    assert result.alpha.value == pytest.approx(brute_alpha(labels, "interval"), abs=1e-10)
    assert result.alpha.value == pytest.approx(1 / 1.25, abs=0.05)  # σ_t² / (σ_t² + σ_e²)
    assert result.kappa is None


def test_percent_agreement_and_pair_table_by_hand() -> None:
    # Item a: 3 raters agree (3 of 3 pairs); item b: 2 of 3 agree (1 of 3 pairs); item c:
    # two raters disagree (0 of 1). Percent = (1 + 1/3 + 0) / 3.
    labels = pd.DataFrame(
        {
            "item_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 2,
            "rater_id": ["x", "y", "z", "x", "y", "z", "x", "y"],
            "value": [1, 1, 1, 1, 1, 2, 2, 3],
        }
    )
    result = small(labels, "nominal", [1, 2, 3])
    assert result.percent.value == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert result.items["pair_agreement"].to_list() == pytest.approx([1, 1 / 3, 0])
    pairs = result.pairs.set_index(["rater_a", "rater_b"])
    assert pairs.loc[("x", "y"), "n_items"] == 3
    assert pairs.loc[("x", "y"), "percent"] == pytest.approx(2 / 3)
    assert pairs.loc[("x", "z"), "percent"] == pytest.approx(1 / 2)
    assert pairs.loc[("y", "z"), "percent"] == pytest.approx(1 / 2)


def test_tolerance_counts_near_labels_as_agreeing() -> None:
    labels = from_matrix(np.array([[1, 2], [3, 3], [1, 5]] * 5))
    assert small(labels, "ordinal", LIKERT).percent.value == pytest.approx(1 / 3)
    within = question_agreement(labels, "ordinal", LIKERT, tolerance=1, min_items=2)
    assert within.percent.value == pytest.approx(2 / 3)


def test_item_alpha_averages_to_alpha() -> None:
    # α is the label-weighted mean of item α, at every level: the items listed for
    # adjudication are exactly those that pull α down.
    for level in ("nominal", "ordinal", "interval", "ratio"):
        labels = missing_labels(8, level)
        scale = [0.0, 1.0, 2.0, 3.0] if level in ("nominal", "ordinal") else None
        result = question_agreement(labels, level, scale, resamples=0)
        items = result.items
        weighted = (items["item_alpha"] * items["n_labels"]).sum() / items["n_labels"].sum()
        assert weighted == pytest.approx(result.alpha.value, abs=1e-12), level


# ---------------------------------------------------------------------------------------------
# The bootstrap: every resample equals the libraries on the resampled items


def replay(n: int, resamples: int, seed: int) -> np.ndarray:
    """The multiplicities the bootstrap drew from a generator of ``seed``."""
    return np.vstack(list(ag._multiplicities(n, resamples, np.random.default_rng(seed))))


@pytest.mark.parametrize(
    ("level", "raters", "per_item"),
    [
        ("nominal", 4, 4),  # every rater on every item: κ features dense
        ("ordinal", 4, 4),
        ("ordinal", 12, 3),  # a pool of 12, three per item: κ features sparse
        ("interval", 5, 3),
        ("ratio", 5, 3),
    ],
)
def test_bootstrap_resamples_equal_the_libraries(
    level: ag.Level, raters: int, per_item: int
) -> None:
    rng = np.random.default_rng(9)
    n = 240
    values = reliable(n, raters, 4, 0.6, seed=9).astype(float)
    if level in ("interval", "ratio"):
        values = values + 0.5 * rng.integers(0, 3, values.shape)
    keep = np.argsort(rng.random((n, raters)), axis=1) < per_item
    values[~keep] = np.nan
    labels = long(values.T)
    scale = [0.0, 1.0, 2.0, 3.0] if level in ("nominal", "ordinal") else None
    q = ag._prepare(labels, level, scale, "quadratic", 0.0, ag.MIN_ITEMS, 5)
    if level == "ordinal" and raters == 12:
        assert isinstance(q.blocks[2], sparse.csr_array)
    elif level in ("nominal", "ordinal"):
        assert isinstance(q.blocks[2], np.ndarray)
    reps = ag._bootstrap(q, 50, np.random.default_rng(123))
    weights = replay(len(q.coded.items), 50, 123)
    coded = q.coded
    counts = coded.counts()
    for b in range(0, 50, 7):
        w = weights[b].astype(int)
        resampled = np.repeat(counts, w, axis=0)
        expected_alpha = krippendorff.alpha(
            value_counts=resampled, value_domain=coded.domain, level_of_measurement=level
        )
        assert reps["alpha"][b] == pytest.approx(expected_alpha, abs=1e-10)
        agree = np.abs(q.pairs.va - q.pairs.vb) == 0
        item_share = np.bincount(q.pairs.item, weights=agree) / np.bincount(q.pairs.item)
        assert reps["percent"][b] == pytest.approx(np.average(item_share, weights=w), abs=1e-12)
        if level in ("nominal", "ordinal"):
            kappas = []
            for p in q.kept_pairs:
                row = q.pair_table.iloc[p]
                ra = np.flatnonzero(coded.raters == row["rater_a"])[0]
                rb = np.flatnonzero(coded.raters == row["rater_b"])[0]
                on = (q.pairs.a == ra) & (q.pairs.b == rb)
                sw = w[q.pairs.item[on]]
                if sw.sum() == 0:
                    continue
                with warnings.catch_warnings():
                    # a pair whose resampled items all carry one value: κ undefined (NaN)
                    warnings.simplefilter("ignore", UndefinedMetricWarning)
                    kappa = cohen_kappa_score(
                        q.pairs.va[on].astype(int),
                        q.pairs.vb[on].astype(int),
                        labels=np.arange(4),
                        weights=q.kappa_weights,
                        sample_weight=sw,
                    )
                kappas.append(kappa)
            assert reps["kappa"][b] == pytest.approx(np.nanmean(kappas), abs=1e-10)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_automatic_bootstrap_resamples_equal_the_libraries(level: ag.Level) -> None:
    rng = np.random.default_rng(10)
    n = 200
    if level == "interval":
        # On a quarter-point grid, so the library's items × values² arrays stay small.
        y = np.round(rng.normal(size=n) * 4) / 4
        x = y + np.round(rng.normal(scale=0.7, size=n) * 4) / 4
        v = None
    else:
        y = rng.integers(0, 5, n).astype(float)
        if level == "ordinal":
            y = y + 0.5 * (rng.random(n) < 0.2) * (y < 4)  # some medians between points
        x = np.clip(np.round(y + rng.normal(scale=0.8, size=n)), 0, 4)
        v = 5
    vs = ag._versus(level, x, y, v, "linear")
    reps = ag._versus_bootstrap(vs, 40, np.random.default_rng(77))
    weights = replay(n, 40, 77)
    gx, gy = vs.coded.slot_value[:, 0], vs.coded.slot_value[:, 1]
    for b in range(0, 40, 6):
        w = weights[b].astype(int)
        rx, ry = np.repeat(gx, w), np.repeat(gy, w)
        expected = krippendorff.alpha(
            reliability_data=np.vstack([rx, ry]),
            value_domain=vs.coded.domain,
            level_of_measurement=level,
        )
        assert reps["alpha"][b] == pytest.approx(expected, abs=1e-10)
        if level != "interval":
            k = cohen_kappa_score(
                rx.astype(int),
                ry.astype(int),
                labels=np.arange(len(vs.coded.domain)),
                weights="linear" if level == "ordinal" else None,
            )
            assert reps["kappa"][b] == pytest.approx(k, abs=1e-10)
        if level == "ordinal":
            assert reps["correlation"][b] == pytest.approx(
                stats.spearmanr(rx, ry).statistic, abs=1e-10
            )
        if level == "interval":
            assert reps["correlation"][b] == pytest.approx(
                stats.pearsonr(rx, ry).statistic, abs=1e-10
            )


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_intervals_are_the_percentiles_of_the_resamples(confidence: float) -> None:
    # Coverage over 200 replications cannot tell a 95% interval from a 99% one; this can.
    labels = from_matrix(reliable(150, 3, 4, 0.6, seed=29))
    scale = [0, 1, 2, 3]
    result = question_agreement(
        labels, "nominal", scale, resamples=400, confidence=confidence, rng=rng_of(8)
    )
    q = ag._prepare(labels, "nominal", scale, "linear", 0.0, ag.MIN_ITEMS, ag.MIN_PAIR_ITEMS)
    reps = ag._bootstrap(q, 400, rng_of(8))
    tail = (1 - confidence) / 2
    for name in ("alpha", "kappa", "percent"):
        estimate = getattr(result, name)
        lower, upper = np.quantile(reps[name], [tail, 1 - tail])
        assert (estimate.lower, estimate.upper) == pytest.approx((lower, upper), abs=1e-12)


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_intervals_are_reproducible_from_the_generator() -> None:
    labels = from_matrix(reliable(200, 3, 4, 0.6, seed=11))
    scale = [0, 1, 2, 3]
    a = question_agreement(labels, "nominal", scale, rng=np.random.default_rng(5))
    b = question_agreement(labels, "nominal", scale, rng=np.random.default_rng(5))
    c = question_agreement(labels, "nominal", scale, rng=np.random.default_rng(6))
    assert a.alpha == b.alpha and a.kappa == b.kappa and a.percent == b.percent
    assert a.alpha.lower != c.alpha.lower
    assert (
        question_agreement(labels, "nominal", scale).alpha
        == question_agreement(labels, "nominal", scale).alpha
    )  # the default generator is seeded
    point = question_agreement(labels, "nominal", scale, resamples=0)
    assert point.alpha.value == a.alpha.value and math.isnan(point.alpha.lower)


# ---------------------------------------------------------------------------------------------
# Synthetic labels with known agreement

LEVEL_SCALES: list[tuple[ag.Level, list | None]] = [
    ("nominal", [0, 1, 2, 3, 4]),
    ("ordinal", [0, 1, 2, 3, 4]),
    ("interval", None),
    ("ratio", None),
]


@pytest.mark.parametrize(("level", "scale"), LEVEL_SCALES)
def test_perfect_agreement(level: ag.Level, scale: list | None) -> None:
    truth = np.random.default_rng(12).integers(0, 5, 300)
    result = question_agreement(from_matrix(np.repeat(truth[:, None], 4, axis=1)), level, scale)
    assert result.alpha == ag.Estimate(1.0, 1.0, 1.0)
    assert result.percent == ag.Estimate(1.0, 1.0, 1.0)
    if level in ("nominal", "ordinal"):
        assert result.kappa == ag.Estimate(1.0, 1.0, 1.0)
        assert (result.pairs["kappa"] == 1.0).all()
    assert result.adjudicate == []
    assert (result.items["item_alpha"] == 1.0).all()


@pytest.mark.parametrize(("level", "scale"), LEVEL_SCALES)
def test_chance_agreement(level: ag.Level, scale: list | None) -> None:
    # Raters independent and uniform over 5 values: α and κ ≈ 0 (their SE here is ~0.01),
    # percent agreement ≈ 1/5, and the intervals cover 0.
    values = np.random.default_rng(13).integers(0, 5, (3000, 4))
    result = question_agreement(from_matrix(values, 1 if level == "ratio" else 0), level, scale)
    assert abs(result.alpha.value) < 0.03
    assert result.alpha.covers(0.0)
    if result.kappa is not None:
        assert abs(result.kappa.value) < 0.03
        assert result.kappa.covers(0.0)
    assert result.percent.value == pytest.approx(0.2, abs=0.015)


@pytest.mark.parametrize(("level", "scale"), LEVEL_SCALES)
@pytest.mark.parametrize("planted", [0.1, 0.3, 0.6])
def test_planted_disagreement(level: ag.Level, scale: list | None, planted: float) -> None:
    # Perfect agreement, then a share of items relabelled by every rater independently from
    # the same uniform marginals: those items disagree as much as chance and the rest not at
    # all, so α ≈ 1 − share (D_o ≈ share · D_e), at every level.
    rng = np.random.default_rng(14)
    n, k = 2000, 5
    truth = rng.integers(0, k, n)
    values = np.repeat(truth[:, None], 5, axis=1)
    hit = rng.random(n) < planted
    values[hit] = rng.integers(0, k, (int(hit.sum()), 5))
    result = question_agreement(from_matrix(values, 1 if level == "ratio" else 0), level, scale)
    assert result.alpha.value == pytest.approx(1 - planted, abs=0.04)
    assert result.alpha.covers(1 - planted) or abs(result.alpha.value - (1 - planted)) < 0.02
    listed = set(result.adjudicate)
    disagreeing = {i for i in np.flatnonzero(hit) if len(set(values[i])) > 1}
    assert listed <= disagreeing  # only planted items, and never a unanimous one
    if level == "nominal":
        # 5 raters, 5 categories: even a 4-to-1 item has item α ≈ 1 − 0.4/0.8 = 0.5 < 0.667.
        assert listed == disagreeing
    else:
        assert len(listed) >= 0.8 * len(disagreeing)
    worst = result.items.set_index("item_id").loc[result.adjudicate, "item_alpha"]
    assert worst.is_monotonic_increasing


def test_more_disagreement_lowers_alpha_monotonically() -> None:
    alphas = []
    for planted in (0.0, 0.2, 0.4, 0.6, 0.8):
        rng = np.random.default_rng(15)
        truth = rng.integers(0, 5, 1000)
        values = np.repeat(truth[:, None], 3, axis=1)
        hit = rng.random(1000) < planted
        values[hit] = rng.integers(0, 5, (int(hit.sum()), 3))
        alphas.append(question_agreement(from_matrix(values), "ordinal", [0, 1, 2, 3, 4]))
    values_ = [a.alpha.value for a in alphas]
    assert values_ == sorted(values_, reverse=True)
    assert [a.percent.value for a in alphas] == sorted(
        [a.percent.value for a in alphas], reverse=True
    )


# ---------------------------------------------------------------------------------------------
# Interval coverage


def test_intervals_cover_the_population_value_at_the_nominal_rate() -> None:
    # 200 replications of a process with known population values: 120 items, 3 raters, 4
    # classes, each rater right with p = 0.7 else uniform — α = κ = p² = 0.49 and percent
    # agreement = p² + (1 − p²)/4. Coverage counts are Binomial(200, c): at c = 0.95 the
    # chance of falling outside [176, 198] is 0.05%, at c = 0.93 (percentile intervals are
    # often slightly narrow) 0.7%, while an interval covering 85% fails 94% of the time and
    # one too wide (covering 99.9%) fails 98% of the time. The seeds are fixed, so the test
    # is deterministic; the bounds are what make it a sound check rather than a lucky one.
    p, k = 0.7, 4
    truth = {"alpha": p * p, "kappa": p * p, "percent": p * p + (1 - p * p) / k}
    covered = dict.fromkeys(truth, 0)
    start = time.perf_counter()
    for rep in range(200):
        labels = from_matrix(reliable(120, 3, k, p, seed=1000 + rep))
        result = question_agreement(
            labels, "nominal", [0, 1, 2, 3], resamples=500, rng=np.random.default_rng(rep)
        )
        for name, value in truth.items():
            covered[name] += getattr(result, name).covers(value)
    assert time.perf_counter() - start < 20
    for name, count in covered.items():
        assert 176 <= count <= 198, (name, count)


def test_interval_level_coverage() -> None:
    # Interval: item truth ~ N(0, 1), each rater adds N(0, 0.75²) noise; population
    # α = 1 / (1 + 0.75²) = 0.64. Bounds as above.
    alpha = 1 / (1 + 0.75**2)
    covered = 0
    for rep in range(200):
        rng = np.random.default_rng(2000 + rep)
        values = rng.normal(size=(100, 1)) + rng.normal(scale=0.75, size=(100, 3))
        result = question_agreement(
            from_matrix(values), "interval", resamples=500, rng=np.random.default_rng(rep)
        )
        covered += result.alpha.covers(alpha)
    assert 176 <= covered <= 198, covered


# ---------------------------------------------------------------------------------------------
# Scale order


def test_the_scales_order_decides_ordinal_distances() -> None:
    # Raters disagree only between neighbours on the scale low < mid < high. Sorted as text
    # ("high" < "low" < "mid") those neighbours would be the far ends.
    scale = ["low", "mid", "high"]
    rng = np.random.default_rng(16)
    truth = rng.integers(0, 3, 300)
    values = np.repeat(truth[:, None], 3, axis=1)
    nudge = rng.random((300, 3)) < 0.25
    values = np.clip(values + nudge * np.where(truth[:, None] == 2, -1, 1), 0, 2)
    words = np.array(scale, dtype=object)[values]
    labels = from_matrix(words)
    right = question_agreement(labels, "ordinal", scale, resamples=0)
    wrong = question_agreement(labels, "ordinal", sorted(scale), resamples=0)
    numeric = question_agreement(from_matrix(values), "ordinal", [0, 1, 2], resamples=0)
    assert right.alpha.value == pytest.approx(numeric.alpha.value, abs=1e-12)
    assert right.kappa is not None and numeric.kappa is not None and wrong.kappa is not None
    assert right.kappa.value == pytest.approx(numeric.kappa.value, abs=1e-12)
    assert right.alpha.value > wrong.alpha.value + 0.1
    assert right.kappa.value > wrong.kappa.value + 0.1
    # Nominal α ignores order entirely.
    assert question_agreement(labels, "nominal", scale, resamples=0).alpha.value == (
        pytest.approx(question_agreement(labels, "nominal", sorted(scale), resamples=0).alpha.value)
    )


def test_a_ten_point_likert_item_stored_as_text_keeps_its_order() -> None:
    # Rubric values are stored as text ("1" … "10"); sorted as text "10" would sit between
    # "1" and "2". Given the scale in order, α and κ equal those of the numbers.
    values = np.clip(reliable(300, 3, 10, 0.5, seed=28), 0, 9) + 1
    text = from_matrix(values.astype(str).astype(object))
    scale = [str(i) for i in range(1, 11)]
    as_text = question_agreement(text, "ordinal", scale, resamples=0)
    as_numbers = question_agreement(from_matrix(values), "ordinal", list(range(1, 11)))
    assert as_text.alpha.value == pytest.approx(as_numbers.alpha.value, abs=1e-12)
    assert as_text.kappa is not None and as_numbers.kappa is not None
    assert as_text.kappa.value == pytest.approx(as_numbers.kappa.value, abs=1e-12)
    shuffled = question_agreement(text, "ordinal", sorted(scale), resamples=0)
    assert abs(shuffled.alpha.value - as_text.alpha.value) > 0.01


def test_a_category_nobody_used_still_counts_for_kappa_labels() -> None:
    # With the scale given, an unused value is part of the κ label set and the ordinal
    # distances (it sits between used values but holds no labels, so α is unchanged).
    values = reliable(200, 2, 3, 0.6, seed=17) * 2  # uses 0, 2, 4 of 0..4
    full = question_agreement(from_matrix(values), "ordinal", [0, 1, 2, 3, 4], resamples=0)
    sparse_scale = question_agreement(from_matrix(values), "ordinal", [0, 2, 4], resamples=0)
    assert full.alpha.value == pytest.approx(sparse_scale.alpha.value, abs=1e-12)
    assert full.kappa is not None and sparse_scale.kappa is not None
    # Linear κ: gaps are twice as long on the full scale, in the same ratio for observed and
    # expected disagreement, so κ is unchanged too — but only because labels=0..4 was used.
    assert full.kappa.value == pytest.approx(sparse_scale.kappa.value, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Consensus


def test_consensus_rules() -> None:
    labels = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "b", "c"],
            "rater_id": ["x", "y", "z", "x", "y", "x"],
            "value": ["yes", "yes", "no", "yes", "no", "no"],
        }
    )
    nominal = consensus(labels, "nominal", ["no", "yes"]).set_index("item_id")
    assert nominal.loc["a", "consensus"] == "yes" and not nominal.loc["a", "tie"]
    assert nominal.loc["b", "consensus"] is None and nominal.loc["b", "tie"]
    assert nominal.loc["c", "consensus"] == "no" and nominal.loc["c", "n_labels"] == 1

    likert = labels.assign(value=[2, 4, 5, 3, 4, 1])
    ordinal = consensus(likert, "ordinal", LIKERT).set_index("item_id")
    assert ordinal.loc["a", "consensus"] == 4 and ordinal.loc["a", "position"] == 3
    assert ordinal.loc["b", "consensus"] is None and ordinal.loc["b", "position"] == 2.5
    interval = consensus(likert, "interval").set_index("item_id")
    assert interval.loc["a", "consensus"] == pytest.approx(11 / 3)

    adjudicated = consensus(labels, "nominal", ["no", "yes"], adjudicated={"b": "no"})
    row = adjudicated.set_index("item_id").loc["b"]
    assert row["consensus"] == "no" and row["adjudicated"] and not row["tie"]
    with pytest.raises(ValueError, match="adjudicated labels are outside"):
        consensus(labels, "nominal", ["no", "yes"], adjudicated={"b": "maybe"})


def test_boolean_questions_are_nominal() -> None:
    truth = np.random.default_rng(18).random(100) < 0.5
    values = np.repeat(truth[:, None], 3, axis=1)
    values[:20, 0] = ~values[:20, 0]
    result = question_agreement(from_matrix(values.astype(object)), "nominal", [False, True])
    assert 0 < result.alpha.value < 1
    assert set(result.adjudicate) == set(range(20))
    assert consensus(from_matrix(values.astype(object)), "nominal")["consensus"].iloc[0] in (
        True,
        False,
    )


# ---------------------------------------------------------------------------------------------
# The automatic rater against people


def human_panel(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Five raters on a 1–5 Likert item, each right 70% of the time; and the item's truth."""
    values = reliable(n, 5, 5, 0.7, seed)
    rng = np.random.default_rng(seed)
    truth = np.median(values, axis=1).astype(int)  # 5 labels: the median is a scale point
    del rng
    return from_matrix(values, 1), truth + 1


def test_automatic_rater_equal_to_consensus_agrees_perfectly() -> None:
    labels, median = human_panel(500, 19)
    auto = pd.DataFrame({"item_id": np.arange(500), "value": median})
    row = automatic_vs_human(auto, labels, "ordinal", LIKERT).iloc[0]
    assert row["n_items"] == 500 and row["n_no_consensus"] == 0
    assert row["alpha"] == pytest.approx(1.0)
    assert row["kappa"] == pytest.approx(1.0)
    assert row["correlation"] == pytest.approx(1.0)
    assert row["correlation_kind"] == "spearman"
    assert row["alpha_lower"] == pytest.approx(1.0)


def test_random_automatic_rater_agrees_at_chance() -> None:
    labels, _ = human_panel(2000, 20)
    auto = pd.DataFrame(
        {"item_id": np.arange(2000), "value": np.random.default_rng(21).integers(1, 6, 2000)}
    )
    row = automatic_vs_human(auto, labels, "ordinal", LIKERT).iloc[0]
    for name in ("alpha", "kappa", "correlation"):
        assert abs(row[name]) < 0.06, name
        assert row[f"{name}_lower"] <= 0 <= row[f"{name}_upper"], name


def test_versions_are_told_apart() -> None:
    # Two observer versions on the same items: v2 agrees with the consensus (off by one step
    # on 15% of items), v1 is noise. Each gets its own row; their intervals do not overlap.
    labels, median = human_panel(800, 22)
    rng = np.random.default_rng(23)
    good = np.clip(median + (rng.random(800) < 0.15) * rng.choice([-1, 1], 800), 1, 5)
    bad = rng.integers(1, 6, 800)
    auto = pd.concat(
        [
            pd.DataFrame({"item_id": np.arange(800), "value": bad, "version": "v1"}),
            pd.DataFrame({"item_id": np.arange(800), "value": good, "version": "v2"}),
        ]
    )
    table = automatic_vs_human(auto, labels, "ordinal", LIKERT, by="version").set_index("version")
    assert list(table.index) == ["v1", "v2"]
    for name in ("alpha", "kappa", "correlation"):
        assert table.loc["v2", name] > 0.85
        assert abs(table.loc["v1", name]) < 0.1
        assert table.loc["v1", f"{name}_upper"] < table.loc["v2", f"{name}_lower"]


def test_automatic_rater_on_an_interval_question() -> None:
    # Humans rate 0–10; the automatic score is continuous. Pearson's r and interval α.
    rng = np.random.default_rng(24)
    truth = rng.uniform(0, 10, 600)
    human = np.clip(np.round(truth[:, None] + rng.normal(scale=1, size=(600, 3))), 0, 10)
    labels = from_matrix(human)
    mean = human.mean(axis=1)
    auto = pd.DataFrame(
        {
            "item_id": np.tile(np.arange(600), 2),
            "value": np.concatenate([mean, np.clip(truth + rng.normal(size=600), 0, 10)]),
            "version": ["same"] * 600 + ["noisy"] * 600,
        }
    )
    table = automatic_vs_human(auto, labels, "interval", list(range(11)), by="version").set_index(
        "version"
    )
    assert table.loc["same", "alpha"] == pytest.approx(1.0)
    assert table.loc["same", "correlation"] == pytest.approx(1.0)
    assert table.loc["same", "correlation_kind"] == "pearson"
    assert math.isnan(table.loc["same", "kappa"])
    noisy = table.loc["noisy"]
    assert 0.8 < noisy["correlation"] < 0.99
    expected_r = stats.pearsonr(mean, auto["value"].to_numpy()[600:]).statistic
    assert noisy["correlation"] == pytest.approx(expected_r)
    assert noisy["correlation_lower"] < noisy["correlation"] < noisy["correlation_upper"]


def test_nominal_automatic_rater_and_ties() -> None:
    # Two raters per item: a disagreement is a tie (no consensus) and the item is left out.
    labels = from_matrix(np.array([["yes", "yes"], ["no", "no"], ["yes", "no"]] * 10, object))
    auto = pd.DataFrame({"item_id": np.arange(30), "value": ["yes", "no", "no"] * 10})
    row = automatic_vs_human(auto, labels, "nominal", ["yes", "no"]).iloc[0]
    assert (row["n_items"], row["n_no_consensus"]) == (20, 10)
    assert row["kappa"] == pytest.approx(1.0) and row["alpha"] == pytest.approx(1.0)
    assert row["correlation_kind"] is None
    adjudicated = {i: "yes" for i in range(2, 30, 3)}
    row = automatic_vs_human(auto, labels, "nominal", ["yes", "no"], adjudicated=adjudicated)
    assert row.iloc[0]["n_items"] == 30 and row.iloc[0]["kappa"] < 1


def test_a_small_group_gets_a_note_not_an_error() -> None:
    labels, median = human_panel(100, 25)
    auto = pd.DataFrame(
        {
            "item_id": [*range(100), 0, 1, 2],
            "value": list(median) + list(median[:3]),
            "version": ["big"] * 100 + ["tiny"] * 3,
        }
    )
    table = automatic_vs_human(auto, labels, "ordinal", LIKERT, by="version").set_index("version")
    assert table.loc["big", "note"] is None
    assert "too few items: 3" in table.loc["tiny", "note"]
    assert math.isnan(table.loc["tiny", "alpha"])
    with pytest.raises(ValueError, match="too few items: 3"):
        automatic_vs_human(auto[auto["version"] == "tiny"], labels, "ordinal", LIKERT)


# ---------------------------------------------------------------------------------------------
# Errors a researcher can act on


def test_errors() -> None:
    labels = from_matrix(reliable(30, 3, 5, 0.6, seed=26), 1)
    with pytest.raises(ValueError, match="at least 10 items rated by two or more raters"):
        question_agreement(labels[labels["item_id"] < 5], "ordinal", LIKERT)
    with pytest.raises(ValueError, match=r"\d+ labels are outside the question's scale: 9\.$"):
        question_agreement(labels.replace({"value": {5: 9}}).head(90), "ordinal", [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"Only one rater \('r0'\)"):
        question_agreement(labels[labels["rater_id"] == "r0"], "ordinal", LIKERT)
    with pytest.raises(ValueError, match="needs its scale"):
        question_agreement(labels, "ordinal")
    with pytest.raises(ValueError, match="free-text questions have no agreement"):
        question_agreement(labels, "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more than once"):
        question_agreement(pd.concat([labels, labels.head(1)]), "ordinal", LIKERT)
    with pytest.raises(ValueError, match="nominal values are either equal or not"):
        question_agreement(labels, "nominal", LIKERT, tolerance=1)
    with pytest.raises(ValueError, match="takes numbers"):
        question_agreement(labels.assign(value="x"), "interval")
    with pytest.raises(ValueError, match="need the columns"):
        question_agreement(labels.rename(columns={"rater_id": "rater"}), "nominal")
    with pytest.raises(ValueError, match="lists a value twice"):
        question_agreement(labels, "ordinal", [1, 2, 2, 3, 4, 5])
    auto = pd.DataFrame({"item_id": range(30), "value": 6})
    with pytest.raises(ValueError, match="automatic values are outside the question's scale"):
        automatic_vs_human(auto, labels, "ordinal", LIKERT)


def test_no_variation_leaves_alpha_undefined() -> None:
    labels = from_matrix(np.full((20, 3), 3))
    result = question_agreement(labels, "ordinal", LIKERT)
    assert math.isnan(result.alpha.value) and math.isnan(result.alpha.lower)
    assert result.percent.value == 1.0
    assert result.adjudicate == []


# ---------------------------------------------------------------------------------------------
# Size


def test_ten_thousand_items_five_raters_within_a_second() -> None:
    # The target, with margin for a shared machine (the bench measures it properly).
    labels = from_matrix(reliable(10_000, 5, 5, 0.7, seed=27), 1)
    question_agreement(labels.head(500), "ordinal", LIKERT)  # first-call imports
    start = time.perf_counter()
    result = question_agreement(labels, "ordinal", LIKERT)
    assert time.perf_counter() - start < 2.0
    assert result.n_items == 10_000 and len(result.pairs) == 10


def test_the_bench_runs_on_a_small_queue() -> None:
    # The bench asserts its point estimates equal the libraries called directly.
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_agreement", "--items", "300", "--naive", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "naive bootstrap" in done.stdout and "automatic vs human" in done.stdout
