"""Benchmark: agreement on a 10k-item, 5-rater queue (issue 15's target: ≤ 1 s).

Aeries: ``question_agreement`` — Krippendorff's α, the ten pairwise Cohen's κ and their mean,
percent agreement, item α for adjudication, each statistic with a 1,000-resample percentile
bootstrap over items — on a 5-point Likert question (ordinal: the costliest level, its
coincidences are resampled whole) and on a boolean one (nominal).

Two baselines, in the same process, on the same labels:

- libraries once: one ``krippendorff.alpha`` on the reliability matrix, ten scikit-learn
  ``cohen_kappa_score`` calls and the percent agreement — the point estimates alone, no
  interval: the floor any implementation pays.
- naive bootstrap: the same library calls once per resample on the resampled items, the usual
  notebook recipe. Timed on ``--naive`` resamples and scaled to 1,000 (it is linear in them).

BLAS is pinned to one thread (set before numpy loads), as in bench_ratings: on a shared 2-core
box threaded BLAS made timings swing; the figure is then also the one-core cost.

Run: ``python -m bench.bench_agreement``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import itertools
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version

import krippendorff
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import cohen_kappa_score

from aeries.annotation import automatic_vs_human, question_agreement
from bench._common import today

RESAMPLES = 1000
REPEATS = 3  # aeries and the libraries-once baseline: best of this many runs


def make_labels(n: int, raters: int, k: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Every rater on every item; each gives the item's true class with probability 0.7, else
    a uniform class (α ≈ 0.49). Also the reliability matrix (raters × items), values 1..k."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    noise = rng.integers(0, k, (n, raters))
    values = np.where(rng.random((n, raters)) < 0.7, truth[:, None], noise) + 1
    labels = pd.DataFrame(
        {
            "item_id": np.repeat([f"item-{i}" for i in range(n)], raters),
            "rater_id": np.tile([f"rater-{j}" for j in range(raters)], n),
            "value": values.ravel(),
        }
    )
    return labels, values.T.astype(float)


def libraries_once(matrix: np.ndarray, level: str, k: int) -> tuple[float, float, float]:
    """α, mean pairwise κ and percent agreement from the libraries, no interval."""
    alpha = krippendorff.alpha(
        reliability_data=matrix, value_domain=np.arange(1, k + 1), level_of_measurement=level
    )
    weights = "linear" if level == "ordinal" else None
    kappas, agree = [], []
    for a, b in itertools.combinations(range(len(matrix)), 2):
        kappas.append(
            cohen_kappa_score(matrix[a], matrix[b], labels=np.arange(1, k + 1), weights=weights)
        )
        agree.append(matrix[a] == matrix[b])
    return float(alpha), float(np.mean(kappas)), float(np.mean(agree))


def naive_bootstrap(matrix: np.ndarray, level: str, k: int, resamples: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = matrix.shape[1]
    out = np.empty((resamples, 3))
    for r in range(resamples):
        out[r] = libraries_once(matrix[:, rng.integers(0, n, n)], level, k)
    return out


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(level: str, k: int, items: int, raters: int, naive: int) -> None:
    labels, matrix = make_labels(items, raters, k, seed=1)
    scale = list(range(1, k + 1))
    question_agreement(labels.head(1000), level, scale)  # first-call imports and caches
    aeries_s = best_of(lambda: question_agreement(labels, level, scale), REPEATS)
    once_s = best_of(lambda: libraries_once(matrix, level, k), REPEATS)
    start = time.perf_counter()
    naive_bootstrap(matrix, level, k, naive)
    naive_s = (time.perf_counter() - start) * RESAMPLES / naive
    result = question_agreement(labels, level, scale)
    once = libraries_once(matrix, level, k)
    assert result.kappa is not None
    # Same point estimates as the libraries called directly (they are the libraries').
    assert np.allclose([result.alpha.value, result.kappa.value, result.percent.value], once)
    print(
        f"{level}, {items:,} items × {raters} raters, {k} values, {RESAMPLES} resamples: "
        f"α {result.alpha.value:.3f} [{result.alpha.lower:.3f}, {result.alpha.upper:.3f}], "
        f"κ {result.kappa.value:.3f}, percent {result.percent.value:.3f}, "
        f"{len(result.adjudicate):,} items for adjudication"
    )
    print(f"  aeries, everything with intervals: {aeries_s * 1000:8.1f} ms")
    print(
        f"  libraries once, no intervals:      {once_s * 1000:8.1f} ms   "
        f"aeries / that = {aeries_s / once_s:.2f}"
    )
    print(
        f"  naive bootstrap (x{RESAMPLES}, from {naive}): {naive_s * 1000:8.0f} ms   "
        f"that / aeries = {naive_s / aeries_s:.0f}×"
    )


def run_automatic(items: int, raters: int) -> None:
    labels, matrix = make_labels(items, raters, 5, seed=2)
    consensus = np.median(matrix, axis=0)  # 5 raters: a scale point
    rng = np.random.default_rng(3)
    auto = pd.DataFrame(
        {
            "item_id": np.tile([f"item-{i}" for i in range(items)], 2),
            "value": np.concatenate([consensus, rng.integers(1, 6, items)]),
            "version": ["v2"] * items + ["v1"] * items,
        }
    )
    scale = [1, 2, 3, 4, 5]
    seconds = best_of(
        lambda: automatic_vs_human(auto, labels, "ordinal", scale, by="version"), REPEATS
    )
    print(
        f"automatic vs human, ordinal, {items:,} items, 2 versions (α, κ, Spearman, "
        f"{RESAMPLES} resamples each): {seconds * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--naive", type=int, default=20, help="naive resamples actually run")
    args = parser.parse_args()
    print(
        f"{today()}: numpy {np.__version__}, pandas {pd.__version__}, scikit-learn "
        f"{sklearn.__version__}, krippendorff {version('krippendorff')}, BLAS threads: 1"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a κ undefined in some naive resample is not news
        run("ordinal", 5, args.items, args.raters, args.naive)
        run("nominal", 2, args.items, args.raters, args.naive)
    run_automatic(args.items, args.raters)


if __name__ == "__main__":
    main()
