"""Tests for aeries.ratings.scale: the logistic rating scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aeries import ratings as rt


def test_expected_win_prob() -> None:
    assert rt.expected_win_prob(1000, 1000) == pytest.approx(0.5)
    assert rt.expected_win_prob(1400, 1000) == pytest.approx(1 / 1.1)
    assert rt.expected_win_prob(1000, 1400) == pytest.approx(1 - 1 / 1.1)
    assert rt.expected_win_prob(1, 0, scale=1.0, base=math.e) == pytest.approx(
        1 / (1 + math.exp(-1))
    )
    many = rt.expected_win_prob(np.array([0.0, 1e6]), np.array([1e6, 0.0]))
    assert np.array_equal(many, [0.0, 1.0])
