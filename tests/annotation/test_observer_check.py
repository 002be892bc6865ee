"""The observer against people, from the store: planted human labels on a queue, and two
observer versions' signals on the same exchanges — one that agrees with the raters, one that
does not — give high and low agreement per version, and only the second is marked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aeries.annotation.observer_check import (
    observer_agreement,
    observer_values,
    to_scale,
    untrusted_versions,
)
from aeries.annotation.rubric import parse_rubric_toml
from aeries.ids import new_id
from aeries.store.db import Database
from tests.annotation.planted import RUBRIC, T0, add_signal, plant_observer_check


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
    queue, n = plant_observer_check(db)
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
        add_signal(db, exchange_id, "sentiment", 0.0, "v1")  # observed
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
