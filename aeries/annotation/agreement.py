"""Agreement between raters on one rubric question, and of an automatic rater with people.

Pure statistics on a long table of labels — one row per (``item_id``, ``rater_id``, ``value``)
— for one question of a rubric; no database, no Streamlit. The question's level of measurement
decides the distances: ``"nominal"`` (booleans and categories), ``"ordinal"`` (Likert items),
``"interval"`` or ``"ratio"`` (numbers). Free text has no agreement statistic.

What is computed, and by what:

- **Krippendorff's α** at the question's level, from the ``krippendorff`` package
  (``krippendorff.alpha`` on the items' value counts and the question's scale, so a category
  nobody used still counts and ordinal distances follow the scale's order).
- **Cohen's κ** for every pair of raters on the items both rated, from scikit-learn's
  ``cohen_kappa_score``: unweighted for nominal questions, linear-weighted for ordinal ones by
  default (see ``question_agreement``); their mean over pairs is Light's κ. Interval and ratio
  questions have no κ (κ treats values as categories; α is their statistic).
- **Percent agreement**: on each item, the share of its rater pairs that agree (equal values,
  or within ``tolerance``), averaged over items.
- **Intervals**: percentile bootstrap over *items*, the unit that was sampled from the
  exchanges; raters are held fixed (the question is how well these raters agree, not a
  population of raters). The point estimates come from the libraries; each bootstrap resample
  is a vector of item multiplicities, and the resampled statistics are computed from per-item
  contributions (coincidences for α, confusion entries for κ, agreeing pairs for percent
  agreement) summed with those multiplicities in one matrix product — the same sums the
  libraries form, without a library call per resample (tests check that every resample equals
  the library called on the resampled items).
- **Items for adjudication**: those whose own agreement (*item α*, defined in
  ``question_agreement``) is below a threshold.
- **Consensus** per item (``consensus``) and **the automatic rater against the consensus**
  (``automatic_vs_human``): α, κ and Spearman's or Pearson's correlation (scipy), with the same
  bootstrap.

Scales: α's point estimate comes from ``krippendorff.alpha`` whenever its working arrays
(items × values², see ``_LIBRARY_CELLS``) fit; otherwise — interval values with thousands of
distinct numbers, such as a mean consensus against a continuous observer score — from the same
coincidence sums computed per item (``_alpha_from_sums``), which tests hold equal to the library
where both run. Nominal, ordinal and ratio questions may have at most ``MAX_VALUES`` values.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import krippendorff
import numpy as np
import pandas as pd
from scipy import sparse, stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = get_args(Level)
KappaWeights = Literal["linear", "quadratic"]
LABEL_COLUMNS = ("item_id", "rater_id", "value")

DEFAULT_RESAMPLES = 1000  # enough for stable 2.5 % / 97.5 % percentiles (Efron & Tibshirani)
DEFAULT_THRESHOLD = 0.667  # Krippendorff's lowest α for tentative conclusions, used per item
MIN_ITEMS = 10
MIN_PAIR_ITEMS = 10
MAX_VALUES = 30  # nominal, ordinal and ratio: α's coincidences and κ's features grow with V²

# krippendorff.alpha builds a few items × values × values float arrays at once; above this
# many cells (~40 MB each) the same sums are formed per item here instead.
_LIBRARY_CELLS = 5_000_000
# Bootstrap multiplicities are drawn in chunks of about this many cells (~16 MB as float64).
_CHUNK_CELLS = 2_000_000
# The κ features are kept sparse when fewer than this share of their cells are filled: a pool
# of many raters, each rating a few items, co-rates most (item, pair) cells not at all.
_SPARSE_DENSITY = 0.2
# Ratio α's features hold one column per distinct value (its δ is not a difference of sums).
_MAX_VERSUS_RATIO_VALUES = 500


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Estimate:
    """A statistic and its percentile bootstrap interval (NaN where undefined)."""

    value: float
    lower: float
    upper: float

    def covers(self, x: float) -> bool:
        """Whether ``x`` lies within the interval (inclusive)."""
        return bool(self.lower <= x <= self.upper)


@dataclass(frozen=True)
class Agreement:
    """Agreement on one rubric question.

    ``items``: one row per item rated by two or more raters — ``item_id``, ``n_labels``,
    ``pair_agreement`` (share of its rater pairs that agree), ``item_alpha`` and
    ``adjudicate`` (``item_alpha`` below ``threshold``). ``pairs``: one row per pair of raters
    who rated an item in common — ``rater_a``, ``rater_b``, ``n_items``, ``percent`` (share of
    those items they agree on) and ``kappa`` (NaN below ``min_pair_items`` items, for interval
    and ratio questions, or where undefined). ``adjudicate``: the item ids below the threshold,
    lowest item α first.
    """

    level: Level
    n_items: int
    n_raters: int
    n_labels: int
    alpha: Estimate
    kappa: Estimate | None
    kappa_weights: KappaWeights | None
    percent: Estimate
    pairs: pd.DataFrame
    items: pd.DataFrame
    adjudicate: list[Hashable]
    threshold: float
    resamples: int
    confidence: float

    def summary(self) -> pd.DataFrame:
        """The three statistics as rows: ``statistic``, ``value``, ``lower``, ``upper``."""
        rows = [("alpha", self.alpha), ("kappa", self.kappa), ("percent", self.percent)]
        return pd.DataFrame(
            [
                {"statistic": name, "value": e.value, "lower": e.lower, "upper": e.upper}
                for name, e in rows
                if e is not None
            ]
        )


AUTOMATIC_COLUMNS = (
    "n_items",
    "n_no_consensus",
    "alpha",
    "alpha_lower",
    "alpha_upper",
    "kappa",
    "kappa_lower",
    "kappa_upper",
    "correlation",
    "correlation_lower",
    "correlation_upper",
    "correlation_kind",
    "note",
)


# ---------------------------------------------------------------------------------------------
# Coding the labels


@dataclass(frozen=True)
class _Coded:
    """Labels of one question as arrays.

    Row i is item ``items[i]``; its labels sit in slots ``0 .. n_labels[i]-1`` of
    ``slot_rater`` (rater codes, ascending, -1 past the end) and ``slot_value``: the value's
    position on the scale for nominal and ordinal questions, the number itself for interval
    and ratio ones (NaN past the end).
    """

    level: Level
    items: np.ndarray
    raters: np.ndarray
    slot_rater: np.ndarray
    slot_value: np.ndarray
    n_labels: np.ndarray
    scale: tuple[Hashable, ...] | None  # nominal/ordinal: the values, in the scale's order
    domain: np.ndarray  # the numbers coincidences are counted over (positions or values)

    @property
    def categorical(self) -> bool:
        return self.level != "interval"

    def subset(self, keep: np.ndarray) -> _Coded:
        width = max(1, int(self.n_labels[keep].max(initial=0)))
        return _Coded(
            self.level,
            self.items[keep],
            self.raters,
            self.slot_rater[keep, :width],
            self.slot_value[keep, :width],
            self.n_labels[keep],
            self.scale,
            self.domain,
        )

    def counts(self) -> np.ndarray:
        """(items × values) how many raters gave each value of the domain to each item."""
        n, v = len(self.items), len(self.domain)
        filled = self.slot_rater >= 0
        rows = np.broadcast_to(np.arange(n)[:, None], filled.shape)[filled]
        cols = np.searchsorted(self.domain, self.slot_value[filled])
        return np.bincount(rows * v + cols, minlength=n * v).reshape(n, v).astype(float)


def _check_level(level: str) -> Level:
    for known in LEVELS:
        if level == known:
            return known
    raise ValueError(
        f"level must be one of {', '.join(LEVELS)} (got {level!r}); "
        "free-text questions have no agreement statistic."
    )


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} need the columns {', '.join(columns)}; missing: {missing}.")


def _scale_map(
    level: Level, scale: Sequence[Hashable] | None, values: pd.Series
) -> tuple[tuple[Hashable, ...], dict[Hashable, int]]:
    """The scale as a tuple and a value → position map (nominal and ordinal)."""
    if scale is None:
        if level == "ordinal":
            raise ValueError(
                "An ordinal question needs its scale: the allowed values in order, lowest "
                "first (their order, not their sorted text, decides the distances)."
            )
        seen = list(pd.unique(values))
        # Mixed types do not sort: first-seen order then (nominal distances ignore order).
        with contextlib.suppress(TypeError):
            seen = sorted(seen)
        scale = seen
    ordered = tuple(scale)
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"The scale lists a value twice: {list(ordered)}.")
    if len(ordered) > MAX_VALUES:
        raise ValueError(
            f"A {level} question may have at most {MAX_VALUES} values; this one has "
            f"{len(ordered)}. Treat a long numeric scale as interval."
        )
    return ordered, {v: i for i, v in enumerate(ordered)}


def _shown(values: pd.Series) -> str:
    """Up to five distinct values as a researcher typed them (9, 'maybe'; not np.int64(9))."""
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:5])


def _outside(values: pd.Series, bad: pd.Series, what: str) -> ValueError:
    shown = _shown(pd.Series(pd.unique(values[bad])))
    return ValueError(f"{int(bad.sum())} {what} outside the question's scale: {shown}.")


def _code_values(
    level: Level, scale: Sequence[Hashable] | None, values: pd.Series, what: str = "labels are"
) -> tuple[np.ndarray, tuple[Hashable, ...] | None, np.ndarray]:
    """Values as numbers (positions or values), the scale, and the domain of coincidences."""
    if level in ("nominal", "ordinal"):
        ordered, position = _scale_map(level, scale, values)
        # A Python dict lookup: True == 1 and 1.0 == 1 match as they do in a set.
        coded = pd.Series([position.get(v, -1) for v in values], index=values.index)
        bad = coded < 0
        if bad.any():
            raise _outside(values, bad, what)
        return coded.to_numpy(float), ordered, np.arange(len(ordered), dtype=float)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        shown = _shown(pd.Series(pd.unique(values[bad])))
        raise ValueError(f"An {level} question takes numbers; got {shown}.")
    if scale is not None:
        allowed = pd.to_numeric(pd.Series(list(scale)), errors="coerce").astype(float)
        if not np.isfinite(allowed).all():
            raise ValueError(f"An {level} question's scale must be numbers: {list(scale)}.")
        bad = ~numbers.isin(set(allowed))
        if bad.any():
            raise _outside(values, bad, what)
    if level == "ratio" and (numbers < 0).any():
        raise ValueError("A ratio question takes values of 0 or more (it has a true zero).")
    domain = np.unique(numbers.to_numpy() if scale is None else np.append(numbers, allowed))
    return numbers.to_numpy(float), None, domain


def _code(labels: pd.DataFrame, level: Level, scale: Sequence[Hashable] | None) -> _Coded:
    _check_columns(labels, LABEL_COLUMNS, "Labels")
    frame = labels.loc[labels["value"].notna(), list(LABEL_COLUMNS)]
    twice = frame.duplicated(["item_id", "rater_id"])
    if twice.any():
        row = frame[twice].iloc[0]
        raise ValueError(
            f"Rater {row['rater_id']!r} labelled item {row['item_id']!r} more than once; pass "
            "one label per rater and item (the latest)."
        )
    values, ordered, domain = _code_values(level, scale, frame["value"])
    item_codes, items = pd.factorize(frame["item_id"], sort=False)
    rater_codes, raters = pd.factorize(frame["rater_id"], sort=False)
    order = np.lexsort((rater_codes, item_codes))
    item_codes, rater_codes, values = item_codes[order], rater_codes[order], values[order]
    n_items = len(items)
    n_labels = np.bincount(item_codes, minlength=n_items)
    starts = np.concatenate([[0], np.cumsum(n_labels)[:-1]])
    slot = np.arange(len(item_codes)) - starts[item_codes]
    width = max(1, int(n_labels.max(initial=0)))
    slot_rater = np.full((n_items, width), -1, dtype=np.int64)
    slot_value = np.full((n_items, width), np.nan)
    slot_rater[item_codes, slot] = rater_codes
    slot_value[item_codes, slot] = values
    return _Coded(
        level,
        np.asarray(items, dtype=object),
        np.asarray(raters, dtype=object),
        slot_rater,
        slot_value,
        n_labels,
        ordered,
        domain,
    )


def _pairable(coded: _Coded, min_items: int) -> _Coded:
    """The items rated by two or more raters, or a ValueError a researcher can act on."""
    if len(coded.raters) < 2:
        who = f" ({coded.raters[0]!r})" if len(coded.raters) else ""
        raise ValueError(
            f"Only one rater{who} labelled this question; agreement needs at least two raters "
            "on the same items."
        )
    pairable = coded.subset(coded.n_labels >= 2)
    if len(pairable.items) < min_items:
        raise ValueError(
            f"Agreement needs at least {min_items} items rated by two or more raters; this "
            f"question has {len(pairable.items)} (of {len(coded.items)} labelled)."
        )
    return pairable


# ---------------------------------------------------------------------------------------------
# Distances


def _delta(level: Level, domain: np.ndarray) -> np.ndarray:
    """Krippendorff's δ² between the domain's values (nominal, ratio; interval for checks)."""
    a, b = domain[:, None], domain[None, :]
    if level == "nominal":
        return (a != b).astype(float)
    if level == "ratio":
        total = a + b
        diff = np.divide(a - b, total, out=np.zeros_like(total), where=total != 0)
        return diff**2
    return (a - b) ** 2


def _midranks(n_v: np.ndarray) -> np.ndarray:
    """Each value's mean cumulative position, counting pairable values (last axis)."""
    return np.cumsum(n_v, axis=-1) - n_v / 2


def _ordinal_delta(n_v: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal δ²: (Σ_{g=c..k} n_g − (n_c + n_k)/2)², i.e. the squared
    difference of the two values' midranks — which is what makes it depend on the marginals."""
    m = _midranks(n_v)
    return (m[..., :, None] - m[..., None, :]) ** 2


def _kappa_weights(level: Level, v: int, weights: KappaWeights) -> np.ndarray:
    """scikit-learn's κ weight matrix over label positions."""
    i = np.arange(v)
    if level == "nominal":
        return 1.0 - np.eye(v)
    d = np.abs(i[:, None] - i[None, :]).astype(float)
    return d if weights == "linear" else d**2


# ---------------------------------------------------------------------------------------------
# Per-item contributions (the bootstrap's features) and the statistics from their sums


def _alpha_features(coded: _Coded) -> np.ndarray:
    """Each item's contribution to α's sums (rows: pairable items).

    nominal, ratio: [Σ_ck o_uck δ_ck, n_u1 … n_uV] — δ is fixed, so the observed disagreement
    is one number per item; the counts give the marginals (expected disagreement).
    ordinal: the item's coincidences o_u flattened (V² columns): δ depends on the marginals,
    which change with every resample.
    interval: [m_u, Σ z, Σ z², Σ_{i≠j}(z_i − z_j)²/(m_u − 1)] with z the values centred on
    their mean (α is shift-invariant; centring keeps the sums well conditioned).
    """
    m = coded.n_labels.astype(float)
    if coded.level == "interval":
        z = coded.slot_value - np.nanmean(coded.slot_value)
        s1, s2 = np.nansum(z, axis=1), np.nansum(z**2, axis=1)
        d = (2 * m * s2 - 2 * s1**2) / (m - 1)
        return np.column_stack([m, s1, s2, d])
    c = coded.counts()
    if coded.level == "ordinal":
        v = c.shape[1]
        o = c[:, :, None] * c[:, None, :]
        o[:, np.arange(v), np.arange(v)] -= c
        return (o / (m - 1)[:, None, None]).reshape(len(c), v * v)
    delta = _delta(coded.level, coded.domain)
    d = np.einsum("nv,vw,nw->n", c, delta, c) / (m - 1)
    return np.column_stack([d, c])


def _alpha_from_sums(level: Level, domain: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """α from summed item contributions (rows: resamples), as krippendorff.alpha forms it:
    1 − Σ o·δ / Σ e·δ with e_ck = (n_c n_k − [c = k] n_c)/(n − 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if level == "interval":
            n, t1, t2, observed = sums.T
            expected = (2 * n * t2 - 2 * t1**2) / (n - 1)
        elif level == "ordinal":
            v = len(domain)
            o = sums.reshape(-1, v, v)
            n_v = o.sum(axis=1)
            delta = _ordinal_delta(n_v)
            observed = (o * delta).sum(axis=(1, 2))
            expected = np.einsum("bv,bvw,bw->b", n_v, delta, n_v) / (n_v.sum(axis=1) - 1)
        else:
            observed, n_v = sums[:, 0], sums[:, 1:]
            delta = _delta(level, domain)
            expected = np.einsum("bv,vw,bw->b", n_v, delta, n_v) / (n_v.sum(axis=1) - 1)
        alpha = 1 - observed / expected
    return np.where(expected > 0, alpha, np.nan)


def _library_alpha(coded: _Coded) -> float:
    """α's point estimate: krippendorff.alpha where its arrays fit, else the same sums."""
    v = len(coded.domain)
    if v < 2:
        return math.nan  # one value only: no variation, α undefined
    if len(coded.items) * v * v <= _LIBRARY_CELLS:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = float(
                krippendorff.alpha(
                    value_counts=coded.counts(),
                    value_domain=coded.domain,
                    level_of_measurement=coded.level,
                )
            )
        return value if math.isfinite(value) else math.nan
    features = _alpha_features(coded)
    return float(_alpha_from_sums(coded.level, coded.domain, features.sum(axis=0)[None])[0])


@dataclass(frozen=True)
class _Pairs:
    """Every (item, rater pair) that co-rated: item row, rater codes a < b, their values."""

    item: np.ndarray
    a: np.ndarray
    b: np.ndarray
    va: np.ndarray
    vb: np.ndarray


def _corated(coded: _Coded) -> _Pairs:
    width = coded.slot_rater.shape[1]
    parts: list[tuple[np.ndarray, ...]] = []
    for s in range(width):
        for t in range(s + 1, width):
            both = coded.slot_rater[:, t] >= 0  # slots fill from 0, so slot s is filled too
            rows = np.flatnonzero(both)
            parts.append(
                (
                    rows,
                    coded.slot_rater[rows, s],
                    coded.slot_rater[rows, t],
                    coded.slot_value[rows, s],
                    coded.slot_value[rows, t],
                )
            )
    if not parts:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return _Pairs(empty_i, empty_i, empty_i, empty_f, empty_f)
    cols = [np.concatenate(p) for p in zip(*parts, strict=True)]
    return _Pairs(cols[0], cols[1], cols[2], cols[3], cols[4])


def _kappa_features(
    pairs: _Pairs, keep: np.ndarray, pair_index: np.ndarray, n_items: int, w: np.ndarray
) -> np.ndarray | sparse.csr_array:
    """For each kept rater pair, on each item both rated: [weighted disagreement, one-hot of
    a's value (V), one-hot of b's value (V), 1] — the confusion matrix's diagonal-free sum and
    margins, all scikit-learn's κ needs. Columns: pair-major, 2V + 2 per pair."""
    v = len(w)
    width = 2 * v + 2
    rows = pairs.item[keep]
    base = pair_index[keep] * width
    ia, ib = pairs.va[keep].astype(np.int64), pairs.vb[keep].astype(np.int64)
    r = np.concatenate([rows, rows, rows, rows])
    c = np.concatenate([base, base + 1 + ia, base + 1 + v + ib, base + 2 * v + 1])
    data = np.concatenate([w[ia, ib], np.ones(3 * len(rows))])
    n_cols = (int(pair_index.max(initial=-1)) + 1) * width
    matrix = sparse.csr_array((data, (r, c)), shape=(n_items, n_cols))
    if matrix.nnz >= _SPARSE_DENSITY * max(1, n_items * n_cols):
        return matrix.toarray()
    return matrix


def _kappa_from_sums(sums: np.ndarray, w: np.ndarray) -> np.ndarray:
    """κ per resample and pair from summed κ features: 1 − Σ w·C / Σ w·E, E = margins / n."""
    v = len(w)
    s = sums.reshape(len(sums), -1, 2 * v + 2)
    observed, ra, rb, n = s[..., 0], s[..., 1 : 1 + v], s[..., 1 + v : 1 + 2 * v], s[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.einsum("bpv,vw,bpw->bp", ra, w, rb) / n
        kappa = 1 - observed / expected
    return np.where(expected > 0, kappa, np.nan)


def _sklearn_kappa(a: np.ndarray, b: np.ndarray, v: int, weights: KappaWeights | None) -> float:
    with warnings.catch_warnings():
        # Undefined κ (both raters constant on the same value): NaN, as documented.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        value = cohen_kappa_score(
            a.astype(np.int64), b.astype(np.int64), labels=np.arange(v), weights=weights
        )
    return float(value)


# ---------------------------------------------------------------------------------------------
# Bootstrap


def _multiplicities(n: int, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chunks of bootstrap resamples of n items, each row how often each item was drawn."""
    rows = max(1, _CHUNK_CELLS // max(1, n))
    for start in range(0, resamples, rows):
        k = min(rows, resamples - start)
        draws = rng.integers(0, n, size=(k, n))
        draws += (np.arange(k) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=k * n).reshape(k, n).astype(float)


def _resampled_sums(
    blocks: Sequence[np.ndarray | sparse.csr_array],
    n: int,
    resamples: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Each feature block summed over items with every resample's multiplicities."""
    out = [np.empty((resamples, b.shape[1])) for b in blocks]
    start = 0
    for w in _multiplicities(n, resamples, rng):
        stop = start + len(w)
        for block, o in zip(blocks, out, strict=True):
            if isinstance(block, np.ndarray):
                o[start:stop] = w @ block
            else:
                o[start:stop] = (block.T @ w.T).T
        start = stop
    return out


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    # Fewer than half the resamples defined: an interval from the rest would be selective.
    if len(finite) == 0 or len(finite) < len(replicates) / 2:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)


def _estimate(value: float, replicates: np.ndarray | None, confidence: float) -> Estimate:
    if replicates is None or not math.isfinite(value):
        return Estimate(value, math.nan, math.nan)
    return Estimate(value, *_interval(replicates, confidence))


def _check_bootstrap(resamples: int, confidence: float) -> None:
    if resamples < 0:
        raise ValueError(f"resamples must be 0 (no intervals) or more, not {resamples}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence}.")


# ---------------------------------------------------------------------------------------------
# Agreement on one question


@dataclass(frozen=True)
class _Question:
    """Everything ``question_agreement`` computes before the bootstrap, kept for the tests."""

    coded: _Coded
    pairs: _Pairs
    pair_table: pd.DataFrame
    kept_pairs: np.ndarray  # row numbers of pair_table that enter the mean κ
    item_agree: np.ndarray  # per item: share of its rater pairs that agree
    kappa_w: np.ndarray | None
    kappa_weights: KappaWeights | None
    blocks: list[np.ndarray | sparse.csr_array]  # alpha, percent[, kappa]


def _prepare(
    labels: pd.DataFrame,
    level: Level,
    scale: Sequence[Hashable] | None,
    kappa_weights: KappaWeights,
    tolerance: float,
    min_items: int,
    min_pair_items: int,
) -> _Question:
    level = _check_level(level)
    if kappa_weights not in get_args(KappaWeights):
        raise ValueError(f"kappa_weights must be 'linear' or 'quadratic', not {kappa_weights!r}.")
    if tolerance < 0 or (level == "nominal" and tolerance != 0):
        raise ValueError(
            "tolerance is a distance on the scale (0 or more), and nominal values are either "
            f"equal or not: got {tolerance} for a {level} question."
        )
    coded = _pairable(_code(labels, level, scale), min_items)
    if level == "ratio" and len(coded.domain) > MAX_VALUES:
        raise ValueError(
            f"A ratio question may have at most {MAX_VALUES} distinct values; this one has "
            f"{len(coded.domain)}. Treat it as interval, or round it to a scale."
        )
    pairs = _corated(coded)
    agree = np.abs(pairs.va - pairs.vb) <= tolerance
    n = len(coded.items)
    item_agree = np.bincount(pairs.item, weights=agree, minlength=n) / np.bincount(
        pairs.item, minlength=n
    )

    n_r = len(coded.raters)
    key = pairs.a * n_r + pairs.b
    keys, pair_of, n_common = np.unique(key, return_inverse=True, return_counts=True)
    agreeing = np.bincount(pair_of, weights=agree, minlength=len(keys))
    table = pd.DataFrame(
        {
            "rater_a": coded.raters[keys // n_r],
            "rater_b": coded.raters[keys % n_r],
            "n_items": n_common,
            "percent": agreeing / n_common,
            "kappa": math.nan,
        }
    )
    blocks: list[np.ndarray | sparse.csr_array] = [
        _alpha_features(coded),
        np.column_stack([item_agree, np.ones(n)]),
    ]
    kept = np.zeros(0, dtype=np.int64)
    kappa_w: np.ndarray | None = None
    weights: KappaWeights | None = None
    if level in ("nominal", "ordinal"):
        assert coded.scale is not None
        v = len(coded.scale)
        weights = kappa_weights if level == "ordinal" else None
        kappa_w = _kappa_weights(level, v, kappa_weights)
        kappas = np.full(len(keys), math.nan)
        for p in np.flatnonzero(n_common >= min_pair_items):
            on = pair_of == p
            kappas[p] = _sklearn_kappa(pairs.va[on], pairs.vb[on], v, weights)
        table["kappa"] = kappas
        kept = np.flatnonzero(np.isfinite(kappas))
        index = np.full(len(keys), -1)
        index[kept] = np.arange(len(kept))
        use = index[pair_of] >= 0
        blocks.append(_kappa_features(pairs, use, index[pair_of], n, kappa_w))
    return _Question(coded, pairs, table, kept, item_agree, kappa_w, weights, blocks)


def _item_alpha(coded: _Coded) -> np.ndarray:
    """1 − D_u / D_e per item: D_u the mean δ² over the item's ordered rater pairs, D_e the δ²
    expected between two pairable values of the whole question. α is the mean of item α
    weighted by each item's number of labels (Σ_u m_u α_u / Σ_u m_u), so the items listed for
    adjudication are those that pull α down."""
    m = coded.n_labels.astype(float)
    features = _alpha_features(coded)
    if coded.level == "interval":
        n, t1, t2, _ = features.sum(axis=0)
        expected = (2 * n * t2 - 2 * t1**2) / (n * (n - 1))
        within = features[:, 3] / m
    else:
        c = coded.counts()
        n_v = c.sum(axis=0)
        n = n_v.sum()
        if coded.level == "ordinal":
            delta = _ordinal_delta(n_v)
        else:
            delta = _delta(coded.level, coded.domain)
        expected = float(n_v @ delta @ n_v) / (n * (n - 1))
        within = np.einsum("nv,vw,nw->n", c, delta, c) / (m * (m - 1))
    if expected <= 0:
        return np.full(len(m), math.nan)  # no variation anywhere: nothing to agree on
    return 1 - within / expected


def question_agreement(
    labels: pd.DataFrame,
    level: Level,
    scale: Sequence[Hashable] | None = None,
    *,
    kappa_weights: KappaWeights = "linear",
    tolerance: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    min_items: int = MIN_ITEMS,
    min_pair_items: int = MIN_PAIR_ITEMS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> Agreement:
    """Agreement among raters on one rubric question.

    ``labels``: one row per label, columns ``item_id``, ``rater_id``, ``value`` (a missing
    value is no label; a rater may label an item once). ``level``: ``"nominal"`` for booleans
    and categories, ``"ordinal"`` for Likert items, ``"interval"`` or ``"ratio"`` for numbers.
    ``scale``: the allowed values — required for ordinal questions, in order, lowest first;
    for nominal ones all categories (a category nobody used still counts; default: the values
    seen); for interval and ratio ones optional, the allowed numbers. A value outside the scale
    is an error.

    Only items rated by two or more raters count (``n_items``); fewer than ``min_items`` of
    them, or a single rater, is an error.

    - ``alpha``: Krippendorff's α at ``level`` (``krippendorff.alpha``).
    - ``kappa``: the mean over rater pairs of Cohen's κ (Light's κ), each pair on the items
      both rated, pairs with fewer than ``min_pair_items`` such items left out. Unweighted for
      nominal questions; for ordinal ones ``kappa_weights`` — ``"linear"`` by default: a
      disagreement counts in proportion to the number of scale steps between the labels, which
      asks the least of an ordinal scale; ``"quadratic"`` penalises large gaps more and equals
      an intraclass correlation, i.e. treats the scale as interval. None for interval and
      ratio questions.
    - ``percent``: on each item, the share of its rater pairs whose values are equal (or at
      most ``tolerance`` apart: scale steps for ordinal questions, the value's unit for
      numbers), averaged over items.
    - Intervals: ``confidence`` percentile bootstrap over items — the unit sampled from the
      exchanges — with ``resamples`` resamples drawn from ``rng`` (default: a generator seeded
      0, so a page shows the same interval on every run); raters are held fixed. Every
      statistic of a resample is computed on the same resampled items. ``resamples=0`` gives
      point estimates only.
    - Adjudication: *item α* = 1 − (the mean δ² between the item's raters) / (the δ² expected
      between two values drawn at random from the whole question), with Krippendorff's δ² of
      the level: 1 when the raters agree, 0 when they disagree as much as chance, negative when
      more. α is the label-weighted mean of item α. Items with item α below ``threshold`` are
      listed in ``adjudicate``, lowest first.

    α or κ is NaN where undefined (every label the same value: no variation to agree on).
    """
    _check_bootstrap(resamples, confidence)
    q = _prepare(labels, level, scale, kappa_weights, tolerance, min_items, min_pair_items)
    coded = q.coded
    n = len(coded.items)
    alpha_value = _library_alpha(coded)
    kept_kappa = q.pair_table["kappa"].to_numpy()[q.kept_pairs]
    kappa_value = float(kept_kappa.mean()) if len(kept_kappa) else math.nan
    percent_value = float(q.item_agree.mean())

    reps = _bootstrap(q, resamples, rng if rng is not None else np.random.default_rng(0))
    alpha = _estimate(alpha_value, reps.get("alpha"), confidence)
    percent = _estimate(percent_value, reps.get("percent"), confidence)
    kappa = _estimate(kappa_value, reps.get("kappa"), confidence) if q.kappa_w is not None else None

    item_alpha = _item_alpha(coded)
    items = pd.DataFrame(
        {
            "item_id": coded.items,
            "n_labels": coded.n_labels,
            "pair_agreement": q.item_agree,
            "item_alpha": item_alpha,
            "adjudicate": item_alpha < threshold,
        }
    )
    flagged = items[items["adjudicate"]].sort_values("item_alpha", kind="stable")
    return Agreement(
        level=coded.level,
        n_items=n,
        n_raters=len(np.unique(coded.slot_rater[coded.slot_rater >= 0])),
        n_labels=int(coded.n_labels.sum()),
        alpha=alpha,
        kappa=kappa,
        kappa_weights=q.kappa_weights,
        percent=percent,
        pairs=q.pair_table,
        items=items,
        adjudicate=list(flagged["item_id"]),
        threshold=threshold,
        resamples=resamples,
        confidence=confidence,
    )


def _bootstrap(q: _Question, resamples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Resampled α, percent agreement and mean κ (one value per resample each)."""
    if resamples == 0:
        return {}
    coded = q.coded
    sums = _resampled_sums(q.blocks, len(coded.items), resamples, rng)
    out = {
        "alpha": _alpha_from_sums(coded.level, coded.domain, sums[0]),
        "percent": sums[1][:, 0] / sums[1][:, 1],
    }
    if q.kappa_w is not None and len(q.kept_pairs):
        per_pair = _kappa_from_sums(sums[2], q.kappa_w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no pair defined
            out["kappa"] = np.nanmean(per_pair, axis=1)
    elif q.kappa_w is not None:
        out["kappa"] = np.full(resamples, math.nan)
    return out


# ---------------------------------------------------------------------------------------------
# Consensus


def _consensus_positions(coded: _Coded) -> tuple[np.ndarray, np.ndarray]:
    """Each item's consensus as a number on the coded scale, and whether it is a tie."""
    values = coded.slot_value
    if coded.level == "nominal":
        c = coded.counts()
        top = c.max(axis=1, keepdims=True)
        tie = (c == top).sum(axis=1) > 1
        return np.where(tie, np.nan, c.argmax(axis=1).astype(float)), tie
    if coded.level == "ordinal":
        # The median position; between two scale points when the two middle labels differ
        # (kept as the half step: rounding it either way would bias the consensus).
        return np.nanmedian(values, axis=1), np.zeros(len(values), dtype=bool)
    return np.nanmean(values, axis=1), np.zeros(len(values), dtype=bool)


def consensus(
    labels: pd.DataFrame,
    level: Level,
    scale: Sequence[Hashable] | None = None,
    *,
    adjudicated: Mapping[Hashable, Hashable] | None = None,
) -> pd.DataFrame:
    """The raters' consensus per item: one row per labelled item.

    nominal: the majority value; a tie for the most labels has no consensus (``consensus``
    None, ``tie`` True) — breaking it by the scale's order or by chance would invent a label.
    ordinal: the median; with an even number of labels whose two middle ones differ it lies
    half-way between two scale points: ``position`` is then a half step and ``consensus``
    None. interval and ratio: the mean. ``position``: the consensus as a number (the value's
    position on the scale, 0-based, for nominal and ordinal questions; the number itself
    otherwise).

    ``adjudicated``: item id → the adjudicated value, which replaces the consensus of that item
    (``adjudicated`` True); the raw labels are not changed.
    """
    return _consensus_of(_code(labels, _check_level(level), scale), adjudicated)


def _consensus_of(coded: _Coded, adjudicated: Mapping[Hashable, Hashable] | None) -> pd.DataFrame:
    position, tie = _consensus_positions(coded)
    frame = pd.DataFrame(
        {
            "item_id": coded.items,
            "n_labels": coded.n_labels,
            "position": position,
            "tie": tie,
            "adjudicated": False,
        }
    )
    if adjudicated:
        ids = pd.Series(list(adjudicated.keys()), dtype=object)
        raw = pd.Series(list(adjudicated.values()), dtype=object)
        numbers, _, _ = _code_values(coded.level, coded.scale, raw, "adjudicated labels are")
        known = ids.isin(set(coded.items)).to_numpy()
        extra = pd.DataFrame(
            {
                "item_id": ids[~known].to_numpy(),
                "n_labels": 0,
                "position": numbers[~known],
                "tie": False,
                "adjudicated": False,
            }
        )
        if len(extra):
            frame = pd.concat([frame, extra], ignore_index=True)
        row = pd.Series(frame.index, index=frame["item_id"])
        hit = row[ids.to_numpy()].to_numpy()
        frame.loc[hit, "position"] = numbers
        frame.loc[hit, "tie"] = False
        frame.loc[hit, "adjudicated"] = True
    # object dtype: a label stays the scale's value (True, "mid", 3), None where there is none
    frame["consensus"] = pd.Series(
        _consensus_values(coded, frame["position"].to_numpy(float)), index=frame.index, dtype=object
    )
    return frame[["item_id", "n_labels", "consensus", "position", "tie", "adjudicated"]]


def _consensus_values(coded: _Coded, position: np.ndarray) -> list[Hashable | None]:
    if coded.scale is None:
        return [None if math.isnan(p) else float(p) for p in position]
    return [
        coded.scale[int(p)] if math.isfinite(p) and float(p).is_integer() else None
        for p in position
    ]


# ---------------------------------------------------------------------------------------------
# An automatic rater against the human consensus


@dataclass(frozen=True)
class _Versus:
    """One group's automatic values (x) and consensus (y), coded on a shared grid."""

    coded: _Coded  # two "raters": 0 the automatic rater, 1 the consensus
    kappa_w: np.ndarray | None
    kappa_weights: KappaWeights | None
    correlation_kind: Literal["spearman", "pearson"] | None
    blocks: list[np.ndarray | sparse.csr_array]  # alpha[, kappa][, correlation]


def _versus(
    level: Level, x: np.ndarray, y: np.ndarray, v: int | None, kappa_weights: KappaWeights
) -> _Versus:
    """``x``, ``y``: automatic value and consensus per item (positions, or numbers)."""
    if level == "ordinal":
        assert v is not None
        # A median can fall half-way between two scale points: count on the half-step grid.
        # Unused grid points change neither ordinal α (no pairable values there) nor weighted
        # κ (its weights only scale by 2 or 4, which cancels).
        x, y, domain = 2 * x, 2 * y, np.arange(2 * v - 1, dtype=float)
    elif level == "nominal":
        assert v is not None
        domain = np.arange(v, dtype=float)
    else:
        domain = np.unique(np.concatenate([x, y]))
        if level == "ratio" and len(domain) > _MAX_VERSUS_RATIO_VALUES:
            raise ValueError(
                f"Ratio-level α between the automatic rater and the consensus takes at most "
                f"{_MAX_VERSUS_RATIO_VALUES} distinct values (here {len(domain)}: its expected "
                "disagreement is over every pair of values); compare them as interval."
            )
    n = len(x)
    coded = _Coded(
        level,
        np.arange(n, dtype=object),
        np.array(["automatic", "consensus"], dtype=object),
        np.tile(np.array([0, 1]), (n, 1)),
        np.column_stack([x, y]),
        np.full(n, 2),
        None,
        domain,
    )
    blocks: list[np.ndarray | sparse.csr_array] = [_alpha_features(coded)]
    kappa_w: np.ndarray | None = None
    weights: KappaWeights | None = None
    kind: Literal["spearman", "pearson"] | None = None
    if level in ("nominal", "ordinal"):
        weights = kappa_weights if level == "ordinal" else None
        kappa_w = _kappa_weights(level, len(domain), kappa_weights)
        pairs = _corated(coded)
        all_rows = np.ones(n, dtype=bool)
        block = _kappa_features(pairs, all_rows, np.zeros(n, np.int64), n, kappa_w)
        blocks.append(block.toarray() if isinstance(block, sparse.csr_array) else block)
    if level == "ordinal":
        kind = "spearman"
        g = len(domain)
        joint = np.zeros((n, g * g))
        joint[np.arange(n), x.astype(np.int64) * g + y.astype(np.int64)] = 1.0
        blocks.append(joint)
    elif level in ("interval", "ratio"):
        kind = "pearson"
        zx, zy = x - x.mean(), y - y.mean()
        blocks.append(np.column_stack([np.ones(n), zx, zy, zx * zx, zy * zy, zx * zy]))
    return _Versus(coded, kappa_w, weights, kind, blocks)


def _spearman_from_sums(sums: np.ndarray, g: int) -> np.ndarray:
    """Spearman's ρ per resample from the joint counts of (x, y) on a g-point grid: Pearson's r
    of the midranks, which is what scipy.stats.spearmanr computes."""
    joint = sums.reshape(len(sums), g, g)
    px, py = joint.sum(axis=2), joint.sum(axis=1)
    n = px.sum(axis=1, keepdims=True)
    rx, ry = _midranks(px), _midranks(py)
    rx = rx - (px * rx).sum(axis=1, keepdims=True) / n
    ry = ry - (py * ry).sum(axis=1, keepdims=True) / n
    cov = np.einsum("bi,bij,bj->b", rx, joint, ry)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cov / np.sqrt((px * rx**2).sum(axis=1) * (py * ry**2).sum(axis=1))
    return np.where(np.isfinite(rho), rho, np.nan)


def _pearson_from_sums(sums: np.ndarray) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (sxy - sx * sy / n) / np.sqrt((sxx - sx**2 / n) * (syy - sy**2 / n))
    return np.where(np.isfinite(r), r, np.nan)


def _versus_bootstrap(
    vs: _Versus, resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    if resamples == 0:
        return {}
    coded = vs.coded
    sums = _resampled_sums(vs.blocks, len(coded.items), resamples, rng)
    out = {"alpha": _alpha_from_sums(coded.level, coded.domain, sums[0])}
    rest = sums[1:]
    if vs.kappa_w is not None:
        out["kappa"] = _kappa_from_sums(rest[0], vs.kappa_w)[:, 0]
        rest = rest[1:]
    if vs.correlation_kind == "spearman":
        out["correlation"] = _spearman_from_sums(rest[0], len(coded.domain))
    elif vs.correlation_kind == "pearson":
        out["correlation"] = _pearson_from_sums(rest[0])
    return out


def _correlation(kind: str | None, x: np.ndarray, y: np.ndarray) -> float:
    if kind is None or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan  # a constant rater: no correlation to speak of
    result = stats.spearmanr(x, y) if kind == "spearman" else stats.pearsonr(x, y)
    return float(result.statistic)


def _versus_row(
    vs: _Versus, resamples: int, confidence: float, rng: np.random.Generator
) -> dict[str, object]:
    coded = vs.coded
    x, y = coded.slot_value[:, 0], coded.slot_value[:, 1]
    reps = _versus_bootstrap(vs, resamples, rng)
    alpha = _estimate(_library_alpha(coded), reps.get("alpha"), confidence)
    row: dict[str, object] = {
        "alpha": alpha.value,
        "alpha_lower": alpha.lower,
        "alpha_upper": alpha.upper,
        "kappa": math.nan,
        "kappa_lower": math.nan,
        "kappa_upper": math.nan,
        "correlation": math.nan,
        "correlation_lower": math.nan,
        "correlation_upper": math.nan,
        "correlation_kind": vs.correlation_kind,
    }
    if vs.kappa_w is not None:
        kappa = _sklearn_kappa(x, y, len(coded.domain), vs.kappa_weights)
        e = _estimate(kappa, reps.get("kappa"), confidence)
        row.update(kappa=e.value, kappa_lower=e.lower, kappa_upper=e.upper)
    if vs.correlation_kind is not None:
        e = _estimate(_correlation(vs.correlation_kind, x, y), reps.get("correlation"), confidence)
        row.update(correlation=e.value, correlation_lower=e.lower, correlation_upper=e.upper)
    return row


def automatic_vs_human(
    automatic: pd.DataFrame,
    labels: pd.DataFrame,
    level: Level,
    scale: Sequence[Hashable] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    adjudicated: Mapping[Hashable, Hashable] | None = None,
    kappa_weights: KappaWeights = "linear",
    min_labels: int = 1,
    min_items: int = MIN_ITEMS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Agreement of an automatic rater (the observer) with the human consensus, per group.

    ``automatic``: columns ``item_id``, ``value`` and the ``by`` columns (e.g. ``version``,
    ``prompt_hash``): one value per item and group, on the question's scale — map the
    observer's number onto it first (e.g. satisfaction 0–1 to a 1–5 Likert item), and for an
    ordinal question round it to a scale point. ``labels``: the human labels as for
    ``question_agreement``. The consensus is ``consensus``'s (majority, median or mean;
    ``adjudicated`` values replace it) over items with at least ``min_labels`` human labels;
    items without one (a nominal tie) are left out and counted in ``n_no_consensus``.

    One row per group (sorted by the ``by`` columns), with ``n_items`` compared and:

    - ``alpha``: Krippendorff's α between the two "raters", automatic and consensus, at the
      question's level (for ordinal questions on the half-step grid a median can take);
    - ``kappa``: Cohen's κ, nominal and ordinal questions (weighted by ``kappa_weights``);
    - ``correlation``: Spearman's ρ for ordinal questions, Pearson's r for interval and ratio
      ones (``correlation_kind``), from scipy;

    each with a ``confidence`` percentile bootstrap interval over items (``resamples`` from
    ``rng``, default seeded 0; groups drawn in row order). A group with fewer than
    ``min_items`` items gets NaN statistics and a ``note``; without ``by`` that is an error.
    """
    level = _check_level(level)
    _check_bootstrap(resamples, confidence)
    if kappa_weights not in get_args(KappaWeights):
        raise ValueError(f"kappa_weights must be 'linear' or 'quadratic', not {kappa_weights!r}.")
    keys = [by] if isinstance(by, str) else list(by or [])
    _check_columns(automatic, ["item_id", "value", *keys], "Automatic values")
    auto = automatic.loc[automatic["value"].notna(), ["item_id", "value", *keys]]
    twice = auto.duplicated(["item_id", *keys])
    if twice.any():
        first = auto[twice].iloc[0]
        raise ValueError(
            f"The automatic rater has more than one value for item {first['item_id']!r}"
            + (f" in group {tuple(first[keys])}" if keys else "")
            + "; pass one value per item (and group)."
        )
    coded = _code(labels, level, scale)
    human = _consensus_of(coded, adjudicated)
    human = human[human["n_labels"].ge(min_labels) | human["adjudicated"]]
    what = "automatic values are"
    if level in ("nominal", "ordinal"):
        coded_x, _, _ = _code_values(level, coded.scale, auto["value"], what)
    else:
        # A continuous score is fine on an interval or ratio question: within the scale's
        # range, not necessarily one of its points.
        coded_x, _, _ = _code_values(level, None, auto["value"], what)
        if scale is not None:
            low, high = float(min(coded.domain)), float(max(coded.domain))
            bad = pd.Series((coded_x < low) | (coded_x > high), index=auto.index)
            if bad.any():
                raise _outside(auto["value"], bad, what)
    auto = auto.assign(_x=coded_x)
    merged = auto.merge(human[["item_id", "position"]], on="item_id", how="inner")
    v = len(coded.scale) if coded.scale is not None else None
    rng = rng if rng is not None else np.random.default_rng(0)
    groups = merged.groupby(keys, sort=True, dropna=False) if keys else [((), merged)]
    rows = []
    for key, group in groups:
        name = key if isinstance(key, tuple) else (key,)
        usable = group[group["position"].notna()]
        row: dict[str, object] = dict(zip(keys, name, strict=True))
        row.update(n_items=len(usable), n_no_consensus=int(group["position"].isna().sum()))
        if len(usable) < min_items:
            note = (
                f"too few items: {len(usable)} with both an automatic value and a human "
                f"consensus (at least {min_items} needed)"
            )
            if not keys:
                raise ValueError(f"Agreement with the automatic rater: {note}.")
            row.update({c: math.nan for c in AUTOMATIC_COLUMNS[2:]}, correlation_kind=None)
            row["note"] = note
        else:
            vs = _versus(
                level,
                usable["_x"].to_numpy(float),
                usable["position"].to_numpy(float),
                v,
                kappa_weights,
            )
            row.update(_versus_row(vs, resamples, confidence, rng), note=None)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*keys, *AUTOMATIC_COLUMNS])
    for text in ("correlation_kind", "note"):
        # object, not pandas' string dtype: "none" stays None, not NaN
        frame[text] = pd.Series([r[text] for r in rows], index=frame.index, dtype=object)
    return frame
