"""The outcome table of a between-subjects study: for each measure and condition, the
difference from the reference condition, its interval, an effect size and a p-value.

Pure statistics on a frame of (participant, condition, measure, value) rows; no database, no
Streamlit. Why these tests:

- **Interval measures** (numeric items, latency, a participant's share of thumbs up, mean
  satisfaction) use Welch's t: chat conditions rarely have equal variances or equal group
  sizes, and Welch keeps its error rate where Student's t does not. The effect is Cohen's d
  with the pooled SD, the standardised difference readers know.
- **Ordinal measures** (Likert items) use the two-sided Mann–Whitney U, which only needs an
  order. Its effect is the rank-biserial r = 2·U_c/(n_c·n_r) − 1 = P(c > r) − P(c < r)
  (ties count half): positive when the condition tends higher, ±1 for complete separation.
- **The interval of the difference** is Welch's for both kinds, so every row states its
  difference in the measure's own unit (for an ordinal item the mean is a summary only; the
  p-value and effect are the rank-based ones).

A group with fewer than 2 values has no interval, effect or p-value (one value says nothing
about spread; the same rule for both kinds keeps a row either complete or plainly partial).
Two constant groups have no Welch interval or p (no variance: scipy would return a zero-width
interval and p = 0) and no Cohen's d; the Mann–Whitney p is undefined only when every value is
tied. Undefined is None, never NaN. Values that are NaN are dropped per measure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

MeasureKind = Literal["interval", "ordinal"]
EffectName = Literal["cohen_d", "rank_biserial"]

EFFECT_NAMES: Mapping[MeasureKind, EffectName] = {
    "interval": "cohen_d",
    "ordinal": "rank_biserial",
}
TEST_NAMES: Mapping[MeasureKind, str] = {"interval": "Welch t", "ordinal": "Mann-Whitney U"}
COLUMNS = ("participant", "condition", "measure", "value")


@dataclass(frozen=True)
class Outcome:
    """One row of the table: a condition on a measure, compared with the reference."""

    measure: str
    kind: MeasureKind
    condition: str
    n: int
    mean: float
    sd: float | None  # None when n < 2
    diff: float | None  # mean(condition) - mean(reference); None for the reference row
    ci_low: float | None  # interval of diff (Welch, for both kinds)
    ci_high: float | None
    effect: float | None  # Cohen's d for interval; rank-biserial for ordinal
    effect_name: EffectName
    test: str  # what p_value is from: "Welch t" or "Mann-Whitney U"
    p_value: float | None


class Comparison(NamedTuple):
    """A condition against the reference: diff = mean(condition) − mean(reference)."""

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    effect: float | None
    p_value: float | None


def compare(
    reference_values: ArrayLike,
    condition_values: ArrayLike,
    kind: MeasureKind,
    *,
    confidence: float = 0.95,
) -> Comparison:
    """Compare one condition's values with the reference's (NaN dropped; see the module doc)."""
    _check_kind(kind, "compare")
    _check_confidence(confidence)
    ref, cond = _clean(reference_values), _clean(condition_values)
    if ref.size == 0 or cond.size == 0:
        return Comparison(None, None, None, None, None)
    diff = float(cond.mean() - ref.mean())
    if ref.size < 2 or cond.size < 2:
        return Comparison(diff, None, None, None, None)
    ci_low = ci_high = welch_p = None
    if np.ptp(ref) > 0 or np.ptp(cond) > 0:
        welch = stats.ttest_ind(cond, ref, equal_var=False)
        ci = welch.confidence_interval(confidence_level=confidence)
        ci_low, ci_high, welch_p = _finite(ci.low), _finite(ci.high), _finite(welch.pvalue)
    if kind == "interval":
        return Comparison(diff, ci_low, ci_high, _cohen_d(ref, cond), welch_p)
    mwu = stats.mannwhitneyu(cond, ref, alternative="two-sided")
    rank_biserial = 2.0 * float(mwu.statistic) / (cond.size * ref.size) - 1.0
    all_tied = np.ptp(np.concatenate([ref, cond])) == 0
    mwu_p = None if all_tied else _finite(mwu.pvalue)
    return Comparison(diff, ci_low, ci_high, rank_biserial, mwu_p)


def outcome_table(
    measures: pd.DataFrame,
    kinds: Mapping[str, MeasureKind],
    reference: str,
    *,
    confidence: float = 0.95,
) -> list[Outcome]:
    """The outcome rows: measures by name; per measure the reference, then the others by name.

    A condition gets a row on a measure where it has at least one (non-NaN) value. Raises
    ValueError when columns are missing, the reference is absent (from the data, or from a
    measure), a measure has no kind, or a participant has two rows for a measure or rows in
    two conditions (the design is between-subjects).
    """
    _check_confidence(confidence)
    missing = [c for c in COLUMNS if c not in measures.columns]
    if missing:
        raise ValueError(f"measures lacks column(s) {missing}; expected {list(COLUMNS)}")
    conditions = set(measures["condition"])
    if reference not in conditions:
        raise ValueError(
            f"reference condition {reference!r} is not in the data "
            f"(conditions: {sorted(map(str, conditions))})"
        )
    names = sorted(set(measures["measure"]))
    unknown = [m for m in names if m not in kinds]
    if unknown:
        raise ValueError(f"no kind ('interval' or 'ordinal') given for measure(s) {unknown}")
    for name in names:
        _check_kind(kinds[name], f"measure {name!r}")
    doubled = measures.duplicated(["participant", "measure"])
    if doubled.any():
        pairs = measures.loc[doubled, ["participant", "measure"]].head(3).values.tolist()
        raise ValueError(f"more than one row per (participant, measure), e.g. {pairs}")
    per_participant = measures.groupby("participant")["condition"].nunique()
    crossed = per_participant[per_participant > 1].index.tolist()
    if crossed:
        raise ValueError(f"participant(s) in more than one condition, e.g. {crossed[:3]}")

    data = measures.assign(value=measures["value"].astype(float)).dropna(subset=["value"])
    if not np.isfinite(data["value"].to_numpy()).all():
        raise ValueError("values must be finite numbers (or NaN for missing)")
    groups = {
        (str(m), str(c)): g.to_numpy()
        for (m, c), g in data.groupby(["measure", "condition"])["value"]
    }
    rows: list[Outcome] = []
    for name in names:
        kind = kinds[name]
        ref_values = groups.get((name, reference))
        if ref_values is None:
            raise ValueError(f"reference condition {reference!r} has no values for {name!r}")
        others = sorted(c for m, c in groups if m == name and c != reference)
        rows.append(
            _row(name, kind, reference, ref_values, Comparison(None, None, None, None, None))
        )
        for condition in others:
            values = groups[(name, condition)]
            result = compare(ref_values, values, kind, confidence=confidence)
            rows.append(_row(name, kind, condition, values, result))
    return rows


def outcome_frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per Outcome, columns named as its fields (None shows as missing)."""
    return pd.DataFrame([asdict(o) for o in outcomes], columns=[f.name for f in fields(Outcome)])


def _row(
    measure: str, kind: MeasureKind, condition: str, values: np.ndarray, result: Comparison
) -> Outcome:
    return Outcome(
        measure=measure,
        kind=kind,
        condition=condition,
        n=int(values.size),
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if values.size >= 2 else None,
        diff=result.diff,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        effect=result.effect,
        effect_name=EFFECT_NAMES[kind],
        test=TEST_NAMES[kind],
        p_value=result.p_value,
    )


def _cohen_d(ref: np.ndarray, cond: np.ndarray) -> float | None:
    n_r, n_c = ref.size, cond.size
    pooled = ((n_r - 1) * ref.var(ddof=1) + (n_c - 1) * cond.var(ddof=1)) / (n_r + n_c - 2)
    if not pooled > 0:
        return None
    return _finite((cond.mean() - ref.mean()) / math.sqrt(pooled))


def _clean(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    array = array[~np.isnan(array)]
    if not np.isfinite(array).all():
        raise ValueError("values must be finite numbers (or NaN for missing)")
    return array


def _finite(x: float) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


def _check_kind(kind: object, where: str) -> None:
    if kind not in EFFECT_NAMES:
        raise ValueError(f"{where}: kind must be 'interval' or 'ordinal', not {kind!r}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
