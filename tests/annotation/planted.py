"""Planted data for the observer-against-people checks (the store tests and the page tests):
a queue whose human labels follow a known truth, and two observer versions on the same
exchanges — ``v1`` agreeing with that truth, ``v2`` random."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from aeries.annotation.rubric import parse_rubric_toml
from aeries.ids import new_id
from aeries.store.annotation import Queue, create_queue, next_item, save_rubric, submit
from aeries.store.db import Database

RUBRIC = """
name = "Satisfaction"

[[items]]
key = "satisfied"
prompt = "How satisfied does the user seem with the previous answer?"
kind = "likert"
labels = ["Not at all", "A little", "Somewhat", "Mostly", "Fully"]
observer = "satisfaction"

[[items]]
key = "corrects"
prompt = "Does the user correct the assistant?"
kind = "boolean"
observer = "correction"
"""
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def add_signal(
    db: Database, exchange_id: str, name: str, value: float, version: str, at: datetime = T0
) -> None:
    """One observer signal of ``version`` on an exchange."""
    db.execute(
        "INSERT INTO signals (id, exchange_id, kind, name, value_num, extractor, "
        "extractor_version, prompt_hash, created_at) VALUES (?, ?, 'observer', ?, ?, "
        "'observer', ?, ?, ?)",
        [new_id(), exchange_id, name, value, version, f"hash-{version}", at],
    )


def plant_observer_check(
    db: Database, n: int = 40, seed: int = 7, at: datetime = T0
) -> tuple[Queue, int]:
    """The queue (3 raters, labelled to the end) and its item count."""
    rubric = parse_rubric_toml(RUBRIC)
    stored = save_rubric(db, rubric.name, rubric.spec(), by="researcher")
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=n)  # each exchange's "real" satisfaction, 1-5
    corrects = rng.random(n) < 0.4
    items = [(f"x{i:02d}", None) for i in range(n)]
    queue = create_queue(
        db,
        name="check",
        rubric=stored,
        raters_per_item=3,
        sampling="all",
        filters={},
        seed=0,
        items=items,
        by="researcher",
    )
    points = dict(zip((e for e, _ in items), truth, strict=True))
    flags = dict(zip((e for e, _ in items), corrects, strict=True))
    for rater in ("r1", "r2", "r3"):
        while (item := next_item(db, queue, rater)) is not None:
            # Raters mostly agree with the truth (one point off now and then).
            noise = int(rng.choice([-1, 0, 0, 0, 1]))
            value = int(min(5, max(1, points[item] + noise)))
            labels = {"satisfied": str(value), "corrects": "true" if flags[item] else "false"}
            submit(db, queue, item, rater, "labelled", labels)
    for i, (exchange_id, _) in enumerate(items):
        add_signal(db, exchange_id, "satisfaction", (truth[i] - 1) / 4, "v1", at)  # agrees
        add_signal(db, exchange_id, "corrected", float(corrects[i]), "v1", at)
        add_signal(db, exchange_id, "satisfaction", float(rng.random()), "v2", at)  # does not
        add_signal(db, exchange_id, "corrected", float(rng.random() < 0.5), "v2", at)
    return queue, n
