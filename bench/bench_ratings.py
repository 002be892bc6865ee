"""Benchmark: Bradley–Terry with 100 bootstrap rounds on 10k and 100k votes among 10 models.

Two baselines, run in the same process, each fitting the same penalised likelihood so the
ratings must agree:

- notebook: per round ``DataFrame.sample`` with replacement, map names to columns, then a
  Newton/IRLS logistic regression on one row per battle (dense ±1 design matrix, a tie is
  a target of 0.5) — the usual notebook recipe.
- per-row: names encoded once, rows resampled by integer index, same per-row IRLS. This
  isolates what aggregation and batching buy, without the per-round pandas overhead.

Aeries aggregates to a win matrix, draws one multinomial per round over distinct battles and
fits all rounds in one batched Newton solve. BLAS is pinned to one thread (set before numpy
loads) because on a shared 2-core box threaded BLAS made the baseline timings swing 2×.

Run: ``python -m bench.bench_ratings``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from aeries import ratings

N_MODELS = 10
ROUNDS = 100
VOTES = [10_000, 100_000]
REPEATS = 3  # aeries timing: best of this many runs (baselines run once)
SCALE, BASE, INIT = 400.0, 10.0, 1000.0
SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


def make_battles(n: int, seed: int) -> pd.DataFrame:
    """Votes among 10 models 0..450 points apart; 10% ties, 20% implicit at weight 0.25."""
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i}" for i in range(N_MODELS)])
    true = np.linspace(0, 450, N_MODELS)
    a = rng.integers(0, N_MODELS, n)
    b = (a + rng.integers(1, N_MODELS, n)) % N_MODELS
    p = ratings.expected_win_prob(true[a], true[b])
    u = rng.random(n)
    winner = np.where(u < 0.1, "tie", np.where(u < p + 0.05, "a", "b"))
    weight = np.where(rng.random(n) < 0.2, 0.25, 1.0)
    return pd.DataFrame(
        {"model_a": names[a], "model_b": names[b], "winner": winner, "weight": weight}
    )


# ---------------------------------------------------------------------------
# Baselines: per-row logistic regression refit on every resample


def irls(a: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """Penalised BT ratings (centred on INIT) by Newton/IRLS on one row per battle."""
    rows = np.arange(len(a))
    x = np.zeros((len(a), n))
    x[rows, a] = 1.0
    x[rows, b] = -1.0
    theta = np.zeros(n)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        grad = x.T @ (w * (y - p)) - ratings.DEFAULT_REG * theta
        hess = x.T @ (x * (w * p * (1 - p))[:, None]) + ratings.DEFAULT_REG * np.eye(n)
        step = np.linalg.solve(hess, grad)
        theta += step
        if np.abs(step).max() < 1e-10:
            break
    r = theta * SCALE / math.log(BASE)
    return r - r.mean() + INIT


def encode(battles: pd.DataFrame) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    models = np.sort(pd.unique(pd.concat([battles["model_a"], battles["model_b"]])))
    index = {m: k for k, m in enumerate(models)}
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    y = battles["winner"].map(SCORES).to_numpy(dtype=float)
    return models, (a, b, y, battles["weight"].to_numpy(dtype=float))


def notebook_fit(battles: pd.DataFrame) -> pd.Series:
    models, arrays = encode(battles)
    return pd.Series(irls(*arrays, len(models)), index=models)


def notebook_bootstrap(battles: pd.DataFrame, rounds: int, seed: int) -> pd.DataFrame:
    """One row of ratings per round; the first two resamples are kept in ``.attrs``."""
    rng = np.random.default_rng(seed)
    fits, kept = [], []
    for _ in range(rounds):
        sample = battles.sample(frac=1.0, replace=True, random_state=rng)
        fits.append(notebook_fit(sample))
        if len(kept) < 2:
            kept.append(sample)
    out = pd.DataFrame(fits)
    out.attrs["samples"] = kept
    return out


def per_row_bootstrap(battles: pd.DataFrame, rounds: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    models, arrays = encode(battles)
    fits = []
    for _ in range(rounds):
        idx = rng.integers(0, len(battles), len(battles))
        fits.append(irls(*(x[idx] for x in arrays), len(models)))
    out = pd.DataFrame(fits, columns=models)
    out.attrs["samples"] = [battles.iloc[idx]]
    return out


# ---------------------------------------------------------------------------
# Timing and honesty checks


def time_aeries(battles: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    best, result = math.inf, pd.DataFrame()
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = ratings.bootstrap_ratings(battles, rounds=ROUNDS, seed=0)
        best = min(best, time.perf_counter() - start)
    return best, result


def check_same(battles: pd.DataFrame, ours: pd.DataFrame, fits: pd.DataFrame) -> float:
    """Assert both reach the same optimum; returns the largest interval-bound difference."""
    point = notebook_fit(battles)
    np.testing.assert_allclose(ours["rating"][point.index], point, atol=1e-6)
    for sample in fits.attrs["samples"]:
        np.testing.assert_allclose(
            ratings.bradley_terry(sample)[point.index], notebook_fit(sample), atol=1e-6
        )
    # Independent resamples: the percentile bounds agree only up to Monte Carlo noise.
    theirs = pd.DataFrame({"lower": fits.quantile(0.025), "upper": fits.quantile(0.975)})
    diff = (ours[["lower", "upper"]].loc[theirs.index] - theirs).abs().to_numpy().max()
    width = (ours["upper"] - ours["lower"]).median()
    assert diff < 0.5 * width, (diff, width)
    return float(diff)


def time_baseline(
    run: Callable[[pd.DataFrame, int, int], pd.DataFrame], battles: pd.DataFrame
) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    fits = run(battles, ROUNDS, 1)
    return time.perf_counter() - start, fits


def run_case(votes: int) -> None:
    battles = make_battles(votes, seed=votes)
    ours_s, ours = time_aeries(battles)
    print(f"BT + {ROUNDS} bootstrap rounds, {votes:,} votes, {N_MODELS} models")
    for name, run in [("notebook", notebook_bootstrap), ("per-row", per_row_bootstrap)]:
        base_s, fits = time_baseline(run, battles)
        diff = check_same(battles, ours, fits)
        print(
            f"  vs {name:8s} aeries: {ours_s:.3f} s, baseline: {base_s:.2f} s, "
            f"ratio: {base_s / ours_s:.0f}  "
            f"[ratings equal to 1e-6; 95% bounds within {diff:.1f} pts]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--votes",
        type=int,
        nargs="+",
        default=list(VOTES),
        help="vote counts to benchmark (default: %(default)s)",
    )
    args = parser.parse_args()
    print(f"numpy {np.__version__}, pandas {pd.__version__}, BLAS threads: 1")
    for votes in args.votes:
        run_case(votes)


if __name__ == "__main__":
    main()
