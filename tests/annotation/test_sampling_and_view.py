"""Which exchanges a queue draws (filters, all / random / stratified, seeded) and what a rater
is shown of one (the branch up to the answer; nothing that unblinds it)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from aeries.annotation.item_view import ShownTurn, item_view
from aeries.annotation.sampling import QueueFilters, matching_exchanges, sample_items
from aeries.store.db import Database

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _exchange(db: Database, i: int, **fields: object) -> str:
    row: dict[str, object] = {
        "id": f"e{i:03d}",
        "source": "chat",
        "model": "m-a",
        "status": "ok",
        "response_text": f"answer {i}",
        "started_at": T0 + timedelta(minutes=i),
        **fields,
    }
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO exchanges ({names}) VALUES ({marks})", list(row.values()))
    return str(row["id"])


def test_filters_pick_answers_people_saw(db: Database) -> None:
    _exchange(db, 0)
    _exchange(db, 1, model="m-b")
    _exchange(db, 2, source="observer")  # never labelled
    _exchange(db, 3, status="error", response_text=None)
    _exchange(db, 4, source="arena", study_id="s1", study_condition="warm")
    _exchange(db, 5, study_id="s1", study_condition="cold", persona_id="p1")
    _exchange(db, 6, started_at=T0 - timedelta(days=3))
    ids = lambda f: [e for e, _ in matching_exchanges(db, f)]  # noqa: E731
    assert ids(QueueFilters()) == ["e006", "e000", "e001", "e004", "e005"]
    assert ids(QueueFilters(models=("m-b",))) == ["e001"]
    assert ids(QueueFilters(study_id="s1", conditions=("warm",))) == ["e004"]
    assert ids(QueueFilters(persona_ids=("p1",))) == ["e005"]
    assert ids(QueueFilters(sources=("arena",))) == ["e004"]
    assert ids(QueueFilters(since=T0, until=T0 + timedelta(minutes=2))) == ["e000", "e001"]
    strata = dict(matching_exchanges(db, QueueFilters(study_id="s1"), "study_condition"))
    assert strata == {"e004": "warm", "e005": "cold"}


def test_samples_are_seeded_and_stratified_samples_balanced() -> None:
    candidates = [(f"e{i}", "big" if i < 90 else "small") for i in range(100)]
    everything = sample_items(candidates, "all", None, seed=1)
    assert sorted(everything) == sorted(candidates)
    assert everything == sample_items(candidates, "all", None, seed=1)  # seeded
    assert everything != sample_items(candidates, "all", None, seed=2)
    drawn = sample_items(candidates, "random", 10, seed=3)
    assert len(drawn) == len(set(drawn)) == 10
    balanced = sample_items(candidates, "stratified", 20, seed=4)
    assert Counter(s for _, s in balanced) == {"big": 10, "small": 10}
    with pytest.raises(ValueError):
        sample_items(candidates, "random", 0, seed=0)


def test_a_chat_answer_is_shown_with_its_branch_and_nothing_else(db: Database) -> None:
    def message(mid: str, parent: str | None, role: str, content: str) -> None:
        db.execute(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) "
            "VALUES (?, 'c1', ?, ?, ?, ?)",
            [mid, parent, role, content, T0],
        )

    message("m1", None, "user", "hello")
    message("m2", "m1", "assistant", "hi there")
    message("m3", "m2", "user", "tell me a joke")
    message("m4", "m3", "assistant", "first try")  # regenerated: another branch
    message("m5", "m3", "assistant", "a better joke")
    _exchange(
        db,
        1,
        conversation_id="c1",
        message_id="m5",
        response_text="a better joke",
        persona_id="secret-persona",
        study_condition="warm",
        request_messages=json.dumps([{"role": "system", "content": "You are WARM."}]),
    )
    view = item_view(db, "e001")
    assert view is not None
    assert view.turns == (
        ShownTurn("user", "hello"),
        ShownTurn("assistant", "hi there"),
        ShownTurn("user", "tell me a joke"),
        ShownTurn("assistant", "a better joke"),
    )
    shown = " ".join(t.text for t in view.turns)
    for secret in ("m-a", "secret-persona", "warm", "WARM", "first try"):
        assert secret not in shown


def test_an_arena_answer_is_shown_with_its_prompt_without_the_system_prompt(db: Database) -> None:
    sent = [
        {"role": "system", "content": "persona: pirate"},
        {"role": "user", "content": "Which tea is best?"},
    ]
    _exchange(db, 2, source="arena", request_messages=json.dumps(sent), response_text="Arr, oolong")
    view = item_view(db, "e002")
    assert view is not None
    assert view.turns == (
        ShownTurn("user", "Which tea is best?"),
        ShownTurn("assistant", "Arr, oolong"),
    )
    assert item_view(db, "nope") is None
