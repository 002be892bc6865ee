"""The observer against people, from the store: planted human labels on a queue, and two
observer versions' signals on the same exchanges — one that agrees with the raters, one that
does not — give high and low agreement per version, and only the second is marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from aeries.annotation.observer_check import (
    observer_agreement,
    observer_values,
    to_scale,
    untrusted_versions,
)
from aeries.annotation.rubric import parse_rubric_toml
from aeries.ids import new_id
from aeries.store.annotation import create_queue, next_item, save_rubric, submit
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


def _signal(db: Database, exchange_id: str, name: str, value: float, version: str) -> None:
    db.execute(
        "INSERT INTO signals (id, exchange_id, kind, name, value_num, extractor, "
        "extractor_version, prompt_hash, created_at) VALUES (?, ?, 'observer', ?, ?, "
        "'observer', ?, ?, ?)",
        [new_id(), exchange_id, name, value, version, f"hash-{version}", T0],
    )


def test_scale_mapping() -> None:
    item = parse_rubric_toml(RUBRIC).items[0]
    assert [to_scale(item, "satisfaction", v) for v in (0.0, 0.25, 0.5, 1.0, 7.0)] == [
        "1",
        "2",
        "3",
        "5",
        "5",
    ]
    assert to_scale(item, "sentiment", -1.0) == "1" and to_scale(item, "sentiment", 0.0) == "3"


def test_an_agreeing_version_is_told_from_a_random_one(db: Database) -> None:
    rubric = parse_rubric_toml(RUBRIC)
    stored = save_rubric(db, rubric.name, rubric.spec(), by="researcher")
    rng = np.random.default_rng(7)
    n = 40
    truth = rng.integers(1, 6, size=n)  # each exchange's "real" satisfaction, 1–5
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
            submit(
                db,
                queue,
                item,
                rater,
                "labelled",
                {"satisfied": str(value), "corrects": "true" if flags[item] else "false"},
            )
    for i, (exchange_id, _) in enumerate(items):
        _signal(db, exchange_id, "satisfaction", (truth[i] - 1) / 4, "v1")  # agrees
        _signal(db, exchange_id, "corrected", float(corrects[i]), "v1")
        _signal(db, exchange_id, "satisfaction", float(rng.random()), "v2")  # does not
        _signal(db, exchange_id, "corrected", float(rng.random() < 0.5), "v2")
    checks = observer_agreement(db, queue, resamples=300)
    by = {(r.item_key, r.version): r for r in checks.itertuples(index=False)}
    assert set(by) == {(k, v) for k in ("satisfied", "corrects") for v in ("v1", "v2")}
    good, bad = by[("satisfied", "v1")], by[("satisfied", "v2")]
    assert good.n_items == n and good.alpha > 0.8 and good.correlation > 0.8
    assert abs(bad.alpha) < 0.35 and bad.alpha_upper < good.alpha_lower
    assert good.prompt_hash == "hash-v1"
    assert by[("corrects", "v1")].kappa == pytest.approx(1.0)
    assert by[("corrects", "v2")].kappa < 0.5
    assert untrusted_versions(checks) == {"satisfaction": {"v2"}, "correction": {"v2"}}


def test_preference_is_yes_when_the_version_wrote_one_and_no_when_it_observed_none(
    db: Database,
) -> None:
    item = parse_rubric_toml(
        RUBRIC.replace('"Does the user correct the assistant?"', '"A stated preference?"').replace(
            'observer = "correction"', 'observer = "preference"'
        )
    ).items[1]
    for exchange_id in ("a", "b"):
        _signal(db, exchange_id, "sentiment", 0.0, "v1")  # observed
    db.execute(
        "INSERT INTO signals (id, exchange_id, kind, name, value_text, extractor_version, "
        "prompt_hash, created_at) VALUES (?, 'a', 'observer', 'preference', 'style=short', "
        "'v1', 'hash-v1', ?)",
        [new_id(), T0 + timedelta(seconds=1)],
    )
    frame = observer_values(db, ["a", "b", "c"], item, "preference")
    assert sorted(zip(frame["item_id"], frame["value"], strict=True)) == [
        ("a", "true"),
        ("b", "false"),
    ]  # c was never observed: not counted
