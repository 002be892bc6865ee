"""The brief: recency and repetition weighting, determinism, budget, forgetting, speed path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aeries.brief import approx_tokens, assemble_brief, build_brief
from aeries.observer import MODEL_PROVENANCE
from aeries.store.evidence import evidence, forget_item
from aeries.store.profile import ProfileItem, profile_ops, rebuild_profile
from aeries.store.signals import signal_row
from aeries.store.writer import Insert

NOW = datetime.now(UTC) - timedelta(hours=1)  # before any "now" the code takes


def add(writer, user, name, value, days_ago=0.0):
    row = signal_row(
        kind="observer",
        name=name,
        user_id=user,
        provenance=MODEL_PROVENANCE,
        value_text=value,
        conversation_id="c",
    )
    row["created_at"] = NOW - timedelta(days=days_ago)
    writer.submit(Insert("signals", row), *profile_ops(row))


def item(name, value, weight, n=1, days=0):
    return ProfileItem(name, value, weight, n, NOW - timedelta(days=days))


def test_empty_profile_gives_empty_brief():
    brief = build_brief([])
    assert brief.text == "" and brief.hash is None and brief.lines == []


def test_strongest_value_per_aspect_wins_and_weak_or_contested_ones_are_left_out():
    brief = build_brief(
        [
            item("preference", "verbosity=concise", 3.0),
            item("preference", "verbosity=detailed", 0.5),
            item("preference", "tone=casual", 0.2),  # too weak
            item("preference", "format=bullets", 1.0),
            item("preference", "format=tables", 0.9),
        ]
    )
    assert "verbosity: concise" in brief.text
    assert "tone" not in brief.text and "format" not in brief.text


def test_recency_and_repetition_weighting(store):
    db, writer = store
    for _ in range(3):
        add(writer, "u", "preference", "verbosity=detailed", days_ago=60)  # old, repeated
    add(writer, "u", "preference", "verbosity=concise", days_ago=0)  # new, once
    for _ in range(3):
        add(writer, "u", "topic", "owls", days_ago=1)
    add(writer, "u", "topic", "cats", days_ago=1)
    writer.flush()
    brief = assemble_brief(db, "u", now=NOW)
    assert "verbosity: concise" in brief.text and "detailed" not in brief.text
    assert brief.text.index("owls") < brief.text.index("cats")


def test_deterministic_for_same_signals(store):
    db, writer = store
    for value in ("b", "a", "c"):
        add(writer, "u", "topic", value)
    writer.flush()
    first = assemble_brief(db, "u", now=NOW)
    assert first.text == assemble_brief(db, "u", now=NOW).text
    assert "Interests: a, b, c." in first.text


def test_budget_drops_weakest_items_first():
    items = [item("topic", f"topic number {i}", 1.0 - i / 100) for i in range(5)]
    items += [item("preference", "verbosity=concise", 5.0)]
    items += [item("correction", "x" * 300, 1.0)]
    brief = build_brief(items, budget_tokens=60)
    assert approx_tokens(brief.text) <= 60
    assert "verbosity: concise" in brief.text


def test_brief_is_scoped_to_the_user(store):
    db, writer = store
    add(writer, "alice", "topic", "owls")
    writer.flush()
    assert assemble_brief(db, "bob", now=NOW).text == ""


def test_forgotten_item_stops_influencing_and_deletion_is_logged(store):
    db, writer = store
    add(writer, "u", "preference", "verbosity=concise")
    writer.flush()
    assert "concise" in assemble_brief(db, "u", now=NOW + timedelta(seconds=1)).text
    forget_item(writer, "u", "preference", "verbosity=concise")
    assert "concise" not in assemble_brief(db, "u").text
    event = db.rows("SELECT kind, payload->>'value' FROM events")
    assert event == [("preference_deleted", "verbosity=concise")]
    assert evidence(db, "u", "preference", "verbosity=concise").empty


def test_incremental_profile_equals_rebuild_from_signals(store):
    db, writer = store
    for days, value in [(0, "a"), (3, "a"), (10, "b"), (40, "a")]:
        add(writer, "u", "topic", value, days_ago=days)
    add(writer, "v", "correction", "fix", days_ago=2)
    add(writer, "u", "preference", "tone=casual")
    writer.flush()
    forget_item(writer, "u", "preference", "tone=casual")
    query = "SELECT user_id, name, value, score, n FROM profile_stats ORDER BY user_id, name, value"
    incremental = db.rows(query)
    rebuild_profile(db)
    rebuilt = db.rows(query)
    assert [r[:3] + r[4:] for r in incremental] == [r[:3] + r[4:] for r in rebuilt]
    assert [r[3] for r in incremental] == pytest.approx([r[3] for r in rebuilt], rel=1e-9)
    assert ("u", "preference", "tone=casual", 0.0, 0) in rebuilt


def test_evidence_lists_signals_behind_a_line(store):
    db, writer = store
    add(writer, "u", "topic", "owls", days_ago=1)
    add(writer, "u", "topic", "owls", days_ago=0)
    writer.flush()
    frame = evidence(db, "u", "topic", "owls")
    assert len(frame) == 2
    assert set(frame["extractor"]) == {"observer v1"}
