"""Helpers shared by the benchmarks: percentiles, a ratio line, and a date stamp."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, linear interpolation."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(name: str, values: list[float], unit: str = "ms") -> str:
    """'name: p50 X, p99 Y, mean Z (n=N)'."""
    return (
        f"{name}: p50 {pct(values, 0.5):.3f} {unit}, p99 {pct(values, 0.99):.3f} {unit}, "
        f"mean {statistics.fmean(values):.3f} {unit} (n={len(values)})"
    )


def today() -> str:
    """UTC date for the figures."""
    return datetime.now(UTC).date().isoformat()
