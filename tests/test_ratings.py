"""Tests for aeries.ratings: Bradley–Terry, bootstrap intervals, Elo and battle summaries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

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


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    return synthetic(TRUE, 8000, seed=3)


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


def test_online_elo_roughly_orders(arena: pd.DataFrame) -> None:
    elo = rt.online_elo(arena)
    truth = pd.Series(TRUE)[elo.index]
    assert elo.index[0] == "m4"
    assert elo.index[-1] == "m0"
    spearman = np.corrcoef(elo.rank(), truth.rank())[0, 1]
    assert spearman >= 0.9
    assert elo.mean() == pytest.approx(1000.0)


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


def test_expected_win_prob() -> None:
    assert rt.expected_win_prob(1000, 1000) == pytest.approx(0.5)
    assert rt.expected_win_prob(1400, 1000) == pytest.approx(1 / 1.1)
    assert rt.expected_win_prob(1000, 1400) == pytest.approx(1 - 1 / 1.1)
    assert rt.expected_win_prob(1, 0, scale=1.0, base=math.e) == pytest.approx(
        1 / (1 + math.exp(-1))
    )
    many = rt.expected_win_prob(np.array([0.0, 1e6]), np.array([1e6, 0.0]))
    assert np.array_equal(many, [0.0, 1.0])


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


def test_matrices_on_hand_built_frame() -> None:
    frame = battles(
        [
            ("A", "B", "a"),
            ("A", "B", "a"),
            ("B", "A", "tie"),
            ("A", "C", "b"),
            ("C", "A", "both_bad"),
            ("B", "B", "a"),  # self-battle: dropped
        ]
    )
    rates = rt.win_rate_matrix(frame)
    assert list(rates.index) == ["A", "B", "C"]
    assert list(rates.columns) == ["A", "B", "C"]
    assert rates.loc["A", "B"] == pytest.approx(2.5 / 3)
    assert rates.loc["B", "A"] == pytest.approx(0.5 / 3)
    assert rates.loc["A", "C"] == pytest.approx(0.5 / 2)
    assert rates.loc["C", "A"] == pytest.approx(1.5 / 2)
    assert rates.isna().to_numpy().sum() == 5  # diagonal + B–C both ways
    counts = rt.battle_count_matrix(frame)
    expected = np.array([[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    assert np.array_equal(counts.to_numpy(), expected)


def test_win_rate_matrix_uses_weights() -> None:
    frame = battles([("A", "B", "a"), ("A", "B", "b")], weight=[3.0, 1.0])
    assert rt.win_rate_matrix(frame).loc["A", "B"] == pytest.approx(0.75)
    assert rt.battle_count_matrix(frame).loc["A", "B"] == 2


# ---------------------------------------------------------------------------
# Unbounded models


def test_zero_wins_is_finite_lowest_and_flagged(arena: pd.DataFrame) -> None:
    loser = battles([("loser", m, "b") for m in TRUE for _ in range(5)])
    frame = pd.concat([arena, loser], ignore_index=True)
    est = rt.bradley_terry(frame)
    assert np.isfinite(est).all()
    assert est.index[-1] == "loser"
    flags = rt.unbounded_models(frame)
    assert flags["loser"]
    assert flags.sum() == 1
    assert rt.unbounded_reasons(frame)["loser"] == "no wins"
    # The prior keeps the rest of the leaderboard where the data put it.
    base = rt.bradley_terry(arena)
    shifted = est[base.index] - est[base.index].mean()
    assert (shifted - (base - base.mean())).abs().max() < 5


def test_all_wins_is_finite_highest_and_flagged(arena: pd.DataFrame) -> None:
    winner = battles([("champ", m, "a") for m in TRUE for _ in range(5)])
    frame = pd.concat([arena, winner], ignore_index=True)
    est = rt.bradley_terry(frame)
    assert np.isfinite(est).all()
    assert est.index[0] == "champ"
    assert rt.unbounded_reasons(frame)["champ"] == "no losses"
    board = rt.leaderboard(frame, rounds=20)
    assert board.set_index("model")["unbounded"].to_dict() == {
        m: m == "champ" for m in [*TRUE, "champ"]
    }


def test_disconnected_component_is_flagged(arena: pd.DataFrame) -> None:
    island = battles([("X", "Y", "a"), ("X", "Y", "b"), ("Y", "X", "tie")])
    frame = pd.concat([arena, island], ignore_index=True)
    reasons = rt.unbounded_reasons(frame)
    assert reasons["X"] == reasons["Y"] == "outside the main comparison graph"
    assert (reasons[list(TRUE)] == "").all()
    assert np.isfinite(rt.bradley_terry(frame)).all()


def test_strongly_connected_source_is_flagged(arena: pd.DataFrame) -> None:
    """P and Q trade wins but beat everyone else: each has wins and losses, yet is unbounded."""
    top = battles([("P", "Q", "a"), ("Q", "P", "a")] + [(x, m, "a") for x in "PQ" for m in TRUE])
    frame = pd.concat([arena, top], ignore_index=True)
    flags = rt.unbounded_models(frame)
    assert flags[["P", "Q"]].all()
    assert not flags[list(TRUE)].any()


def test_two_models_one_sided_both_flagged() -> None:
    frame = battles([("A", "B", "a")] * 3)
    assert rt.unbounded_models(frame).all()
    est = rt.bradley_terry(frame)
    assert np.isfinite(est).all()
    assert est["A"] > est["B"]


# ---------------------------------------------------------------------------
# Weights and kinds


def test_weight_two_equals_duplicate() -> None:
    rows = [("A", "B", "a"), ("B", "C", "b"), ("C", "A", "a"), ("A", "B", "tie")]
    weighted = battles(rows, weight=[2.0, 1.0, 1.0, 1.0])
    duplicated = battles([rows[0], *rows])
    pd.testing.assert_series_equal(
        rt.bradley_terry(weighted), rt.bradley_terry(duplicated), check_exact=False, atol=1e-8
    )
    pd.testing.assert_frame_equal(rt.win_rate_matrix(weighted), rt.win_rate_matrix(duplicated))


def test_weight_column_can_be_ignored() -> None:
    frame = battles([("A", "B", "a"), ("A", "B", "b")], weight=[9.0, 1.0])
    est = rt.bradley_terry(frame, weight_col=None)
    assert est["A"] == pytest.approx(est["B"])


def test_implicit_rows_excluded_by_default_and_weighted_on_request() -> None:
    explicit = [("A", "B", "a"), ("B", "A", "a"), ("A", "B", "a")]
    implicit = [("B", "A", "a")] * 4
    frame = battles(
        explicit + implicit, kind=["explicit"] * len(explicit) + ["implicit"] * len(implicit)
    )
    default = rt.leaderboard(frame, rounds=20)
    only_explicit = rt.leaderboard(battles(explicit), rounds=20)
    pd.testing.assert_frame_equal(default, only_explicit)
    assert default.loc[0, "model"] == "A"
    assert default["votes"].tolist() == [3, 3]

    mixed = rt.leaderboard(frame, rounds=20, implicit_weight=0.25).set_index("model")
    weighted = battles(explicit + implicit, weight=[1.0] * 3 + [0.25] * 4)
    expected = rt.bradley_terry(weighted)
    assert mixed["rating"].to_dict() == pytest.approx(expected.to_dict())
    # Weighted: A's 2 wins vs B's 1 + 4·0.25 = 2 wins, so the implicit votes level them.
    assert mixed.loc["A", "rating"] == pytest.approx(mixed.loc["B", "rating"])
    assert mixed.loc["A", "votes"] == 7


def test_invalid_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown winner"):
        rt.bradley_terry(battles([("A", "B", "model_a")]))
    with pytest.raises(ValueError, match="non-negative"):
        rt.bradley_terry(battles([("A", "B", "a")], weight=[-1.0]))
    with pytest.raises(KeyError):
        rt.bradley_terry(pd.DataFrame({"model_a": ["A"], "model_b": ["B"]}))


# ---------------------------------------------------------------------------
# Counts: a row standing for n identical battles


def counted(frame: pd.DataFrame) -> pd.DataFrame:
    """Identical rows collapsed into one with their number in ``n``."""
    grouped = frame.groupby(list(frame.columns), as_index=False, dropna=False)
    return grouped.size().rename(columns={"size": "n"})


@pytest.fixture(scope="module")
def weighted_arena(arena: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return arena.assign(weight=rng.choice([1.0, 0.5, 2.0], len(arena)), kind="explicit")


def test_counted_rows_equal_the_rows_they_stand_for(weighted_arena: pd.DataFrame) -> None:
    rows = weighted_arena.drop(columns="kind")
    agg = counted(rows)
    assert len(agg) < len(rows) / 40 and agg["n"].sum() == len(rows)
    close = {"check_exact": False, "rtol": 0, "atol": 1e-9}
    pd.testing.assert_series_equal(rt.bradley_terry(agg), rt.bradley_terry(rows), **close)
    # Distinct battles are resampled in a canonical order, so the same seed draws the same
    # rounds whether battles come one per row or counted.
    pd.testing.assert_frame_equal(
        rt.bootstrap_ratings(agg, rounds=40, seed=4),
        rt.bootstrap_ratings(rows, rounds=40, seed=4),
        **close,
    )
    pd.testing.assert_frame_equal(rt.win_rate_matrix(agg), rt.win_rate_matrix(rows), **close)
    pd.testing.assert_frame_equal(rt.battle_count_matrix(agg), rt.battle_count_matrix(rows))
    pd.testing.assert_series_equal(rt.unbounded_reasons(agg), rt.unbounded_reasons(rows))


def test_counted_leaderboard_counts_votes(weighted_arena: pd.DataFrame) -> None:
    implicit = battles([("m0", "m4", "a")] * 30, kind=["implicit"] * 30)
    frame = pd.concat([weighted_arena, implicit], ignore_index=True)
    agg = counted(frame)
    for implicit_weight in (None, 0.5):
        board = rt.leaderboard(agg, rounds=30, implicit_weight=implicit_weight)
        expected = rt.leaderboard(frame, rounds=30, implicit_weight=implicit_weight)
        pd.testing.assert_frame_equal(board, expected, check_exact=False, rtol=0, atol=1e-9)
    assert board["votes"].sum() == 2 * len(frame)


def test_bootstrap_does_not_depend_on_row_order(weighted_arena: pd.DataFrame) -> None:
    shuffled = weighted_arena.sample(frac=1.0, random_state=2)
    pd.testing.assert_frame_equal(
        rt.bootstrap_ratings(shuffled, rounds=20, seed=1),
        rt.bootstrap_ratings(weighted_arena, rounds=20, seed=1),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )


def test_online_elo_plays_a_counted_row_as_consecutive_battles() -> None:
    frame = battles([("A", "B", "a"), ("B", "C", "tie"), ("C", "A", "a")], n=[3, 1, 2])
    expanded = frame.loc[frame.index.repeat(frame["n"])].drop(columns="n")
    pd.testing.assert_series_equal(rt.online_elo(frame), rt.online_elo(expanded))


def test_zero_counts_are_dropped_and_bad_counts_rejected() -> None:
    frame = battles([("A", "B", "a"), ("A", "B", "b"), ("C", "A", "a")], n=[2, 1, 0])
    assert list(rt.bradley_terry(frame).index) == ["A", "B"]
    assert rt.leaderboard(frame, rounds=5)["votes"].tolist() == [3, 3]
    assert rt.battle_count_matrix(frame).loc["A", "B"] == 3
    for bad in ([1, -1, 1], [1, 1.5, 1], [1, None, 1]):
        with pytest.raises(ValueError, match="whole numbers"):
            rt.bradley_terry(frame.assign(n=bad))
    with pytest.raises(ValueError, match="unknown winner"):
        rt.leaderboard(battles([("A", "B", "a"), ("A", "B", "left")], n=[5, 1]))
    assert "C" in rt.bradley_terry(frame, count_col=None).index  # the column ignored


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
# Leaderboard and bootstrap behaviour


def test_leaderboard_columns_counts_and_rank() -> None:
    frame = battles(
        [("A", "B", "a"), ("A", "B", "a"), ("B", "A", "a"), ("A", "C", "tie"), ("C", "B", "a")]
    )
    board = rt.leaderboard(frame, rounds=50)
    assert list(board.columns) == rt.LEADERBOARD_COLUMNS
    assert board["rating"].is_monotonic_decreasing
    assert board["rank"].tolist() == [1, 2, 3]
    row = board.set_index("model").loc["A"]
    assert (row["votes"], row["wins"], row["losses"], row["ties"]) == (4, 2, 1, 1)
    assert row["win_rate"] == pytest.approx(2.5 / 4)
    assert (board["lower"] <= board["rating"]).all()
    assert (board["rating"] <= board["upper"]).all()


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


# ---------------------------------------------------------------------------
# Empty input and helpers


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame(columns=["model_a", "model_b", "winner", "weight"]), pd.DataFrame()],
    ids=["typed", "bare"],
)
def test_empty_input(frame: pd.DataFrame) -> None:
    assert rt.bradley_terry(frame).empty
    assert rt.online_elo(frame).empty
    assert rt.unbounded_models(frame).empty
    boot = rt.bootstrap_ratings(frame, rounds=5)
    assert boot.empty
    assert list(boot.columns) == rt.BOOTSTRAP_COLUMNS
    board = rt.leaderboard(frame)
    assert board.empty
    assert list(board.columns) == rt.LEADERBOARD_COLUMNS
    assert rt.win_rate_matrix(frame).shape == (0, 0)
    assert rt.battle_count_matrix(frame).shape == (0, 0)


def test_only_self_battles_is_empty() -> None:
    frame = battles([("A", "A", "a"), ("B", "B", "tie")])
    assert rt.bradley_terry(frame).empty
    assert rt.leaderboard(frame).empty


def test_expand_best_of() -> None:
    rows = rt.expand_best_of(["A", "B", "C", "D"], "C")
    assert rows == [("C", "A", "a"), ("C", "B", "a"), ("C", "D", "a")]
    est = rt.bradley_terry(pd.DataFrame(rows, columns=["model_a", "model_b", "winner"]))
    assert est.index[0] == "C"
    assert rt.expand_best_of(["A"], "A") == []
    with pytest.raises(ValueError):
        rt.expand_best_of(["A", "B"], "Z")
    with pytest.raises(ValueError):
        rt.expand_best_of(["A", "A", "B"], "A")
