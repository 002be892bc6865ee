"""Tests for aeries.ratings.battles: weights, kinds, counts, validation and best-of votes,
seen through the public functions."""

from __future__ import annotations

import pandas as pd
import pytest

from aeries import ratings as rt
from tests.ratings.helpers import battles, counted

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
# Empty input and best-of votes


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
