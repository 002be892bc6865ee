"""The observer checked against people: for each rubric item that asks raters for a quantity
the observer extracts, the observer's value on the same exchanges against the raters'
consensus, per observer version and prompt hash (`agreement.automatic_vs_human`).

The observer writes its signals about an exchange on that exchange (docs/schema.md): its
``satisfaction`` (0–1) and ``sentiment`` (−1–1) are put on the item's Likert scale and rounded
to a point; ``corrected`` (0/1) answers a yes/no item; ``preference`` is "yes" when that version
wrote any stated preference for the exchange and "no" when it observed the exchange without
one. An exchange a version never observed is not counted for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aeries.annotation.agreement import automatic_vs_human
from aeries.annotation.rubric import Rubric, RubricItem, from_spec
from aeries.store.annotation import Queue, queue_labels, rubric_version
from aeries.store.db import Database
from aeries.vocabulary import ObservedQuantity

# The signal each quantity is read from.
SIGNAL_NAMES: dict[ObservedQuantity, str] = {
    "satisfaction": "satisfaction",
    "sentiment": "sentiment",
    "correction": "corrected",
    "preference": "preference",
}
# The observer's own range for the numeric ones, mapped linearly onto the Likert points.
RANGES: dict[ObservedQuantity, tuple[float, float]] = {
    "satisfaction": (0.0, 1.0),
    "sentiment": (-1.0, 1.0),
}
DEFAULT_TRUST = 0.667  # α below this: the version's signals are marked as not checked out
RESULT_COLUMNS = [
    "item_key",
    "quantity",
    "version",
    "prompt_hash",
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
]


def to_scale(item: RubricItem, quantity: ObservedQuantity, value: float) -> str:
    """An observer value as a value of ``item`` (a Likert point, or true/false)."""
    if quantity in RANGES:
        low, high = RANGES[quantity]
        points = len(item.labels)
        share = (min(max(value, low), high) - low) / (high - low)
        return str(math.floor(1 + share * (points - 1) + 0.5))  # halves up, not to even
    return "true" if value >= 0.5 else "false"


def observer_values(
    db: Database, exchange_ids: Iterable[str], item: RubricItem, quantity: ObservedQuantity
) -> pd.DataFrame:
    """item_id (exchange), value on the item's scale, version, prompt_hash: one row per
    exchange and observer version that observed it."""
    ids = sorted(set(exchange_ids))
    columns = ["item_id", "value", "version", "prompt_hash"]
    if not ids:
        return pd.DataFrame(columns=columns)
    rows = db.rows(
        "SELECT exchange_id, name, value_num, COALESCE(extractor_version, ''), "
        "COALESCE(prompt_hash, '') FROM signals "
        "WHERE kind = 'observer' AND exchange_id = ANY(?::VARCHAR[]) "
        "ORDER BY exchange_id, created_at, id",
        [ids],
    )
    name = SIGNAL_NAMES[quantity]
    observed: set[tuple[str, str, str]] = set()
    found: dict[tuple[str, str, str], str] = {}
    for exchange_id, signal, number, version, prompt in rows:
        key = (str(exchange_id), str(version), str(prompt))
        observed.add(key)
        if signal != name:
            continue
        if quantity == "preference":
            found[key] = "true"
        elif number is not None and np.isfinite(number):
            found[key] = to_scale(item, quantity, float(number))  # the latest one wins
    if quantity == "preference":
        for key in observed:
            found.setdefault(key, "false")
    return pd.DataFrame(
        [(e, v, version, prompt) for (e, version, prompt), v in sorted(found.items())],
        columns=columns,
    )


@dataclass(frozen=True)
class CheckedItem:
    """A rubric item asking for an observer quantity, and the queue it was labelled in."""

    queue: Queue
    rubric: Rubric
    item: RubricItem
    quantity: ObservedQuantity


def checked_items(db: Database, queue: Queue) -> list[CheckedItem]:
    """The items of the queue's rubric version that ask for an observer quantity."""
    version = rubric_version(db, queue.rubric_id, queue.rubric_version)
    if version is None:
        return []
    rubric = from_spec(version.spec)
    return [
        CheckedItem(queue, rubric, item, item.observer)
        for item in rubric.items
        if item.observer is not None and item.level is not None
    ]


def observer_agreement(
    db: Database, queue: Queue, *, resamples: int = 1000, min_items: int = 10
) -> pd.DataFrame:
    """One row per checked item and observer version (``RESULT_COLUMNS``): α, κ and the
    correlation of the observer with the raters' consensus, each with its 95% interval."""
    labels = pd.DataFrame(queue_labels(db, queue.id))
    frames: list[pd.DataFrame] = []
    for checked in checked_items(db, queue):
        item = checked.item
        mine = (
            labels.loc[labels["item_key"] == item.key, ["exchange_id", "rater_id", "value"]]
            if not labels.empty
            else pd.DataFrame(columns=["exchange_id", "rater_id", "value"])
        )
        mine = mine.rename(columns={"exchange_id": "item_id"}).dropna(subset=["value"])
        automatic = observer_values(db, mine["item_id"], item, checked.quantity)
        if mine.empty or automatic.empty:
            continue
        level = item.level
        assert level is not None
        result = automatic_vs_human(
            automatic,
            mine,
            level,
            item.values,
            by=["version", "prompt_hash"],
            min_items=min_items,
            resamples=resamples,
        )
        result.insert(0, "quantity", checked.quantity)
        result.insert(0, "item_key", item.key)
        frames.append(result)
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    joined = pd.concat(frames, ignore_index=True)
    for column in RESULT_COLUMNS:
        if column not in joined:
            joined[column] = np.nan
    return joined[RESULT_COLUMNS]


def untrusted_versions(
    checks: pd.DataFrame, threshold: float = DEFAULT_TRUST
) -> dict[ObservedQuantity, set[str]]:
    """Per quantity, the observer versions whose agreement with people is below
    ``threshold`` (α) in any check: charts of their signals say so. A version never checked,
    or checked on too few items for an α, is not listed (nothing is known of it)."""
    marked: dict[ObservedQuantity, set[str]] = {}
    for row in checks.itertuples(index=False):
        alpha = row.alpha
        if alpha is not None and np.isfinite(alpha) and alpha < threshold:
            marked.setdefault(row.quantity, set()).add(str(row.version))
    return marked


def all_checks(db: Database, queues: Iterable[Queue], *, resamples: int = 1000) -> pd.DataFrame:
    """``observer_agreement`` of every queue that asks for an observer quantity, with the
    queue's id and name in front."""
    frames = []
    for queue in queues:
        checks = observer_agreement(db, queue, resamples=resamples)
        if not checks.empty:
            checks.insert(0, "queue", queue.name)
            checks.insert(0, "queue_id", queue.id)
            frames.append(checks)
    if not frames:
        return pd.DataFrame(columns=["queue_id", "queue", *RESULT_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def observer_versions(db: Database, since: object, until: object) -> dict[str, int]:
    """Observer version → how many of its signals fall in [since, until)."""
    rows = db.rows(
        "SELECT COALESCE(extractor_version, ''), count(*) FROM signals "
        "WHERE kind = 'observer' AND created_at >= ? AND created_at < ? "
        "GROUP BY COALESCE(extractor_version, '') ORDER BY 1",
        [since, until],
    )
    return {str(version): int(n) for version, n in rows}
