"""Fixtures shared by the ratings tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.ratings.helpers import TRUE, synthetic


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    return synthetic(TRUE, 8000, seed=3)


@pytest.fixture(scope="module")
def weighted_arena(arena: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return arena.assign(weight=rng.choice([1.0, 0.5, 2.0], len(arena)), kind="explicit")
