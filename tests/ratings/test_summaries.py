"""Tests for aeries.ratings.summaries: matrices, unbounded models and the leaderboard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aeries import ratings as rt
from tests.ratings.helpers import TRUE, battles, counted

# ---------------------------------------------------------------------------
# Matrices


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
# Leaderboard


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


def test_counted_leaderboard_counts_votes(weighted_arena: pd.DataFrame) -> None:
    implicit = battles([("m0", "m4", "a")] * 30, kind=["implicit"] * 30)
    frame = pd.concat([weighted_arena, implicit], ignore_index=True)
    agg = counted(frame)
    for implicit_weight in (None, 0.5):
        board = rt.leaderboard(agg, rounds=30, implicit_weight=implicit_weight)
        expected = rt.leaderboard(frame, rounds=30, implicit_weight=implicit_weight)
        pd.testing.assert_frame_equal(board, expected, check_exact=False, rtol=0, atol=1e-9)
    assert board["votes"].sum() == 2 * len(frame)
