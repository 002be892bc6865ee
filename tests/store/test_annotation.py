"""Annotation queues in the store: rubric versions, N raters per item exactly, never the same
item twice to a rater, skips, undo, expired claims, and raters working at once (threads on one
store; tests/store/test_pg_processes.py covers processes). Runs on both engines."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from aeries.ids import new_id, utcnow
from aeries.store.annotation import (
    CLAIM_TTL,
    Queue,
    create_queue,
    get_queue,
    next_item,
    progress,
    queue_labels,
    rater_progress,
    rubric_version,
    save_rubric,
    set_queue_status,
    submit,
    undo_last,
)
from aeries.store.db import Database

SPEC = {"items": [{"key": "helpful", "kind": "likert", "prompt": "How helpful?"}]}


def _queue(db: Database, items: int, raters_per_item: int) -> Queue:
    rubric = save_rubric(db, "Helpfulness", SPEC, by="researcher")
    return create_queue(
        db,
        name="q",
        rubric=rubric,
        raters_per_item=raters_per_item,
        sampling="all",
        filters={},
        seed=0,
        items=[(f"x{i:03d}", None) for i in range(items)],
        by="researcher",
    )


def _label_all(db: Database, queue: Queue, rater: str) -> list[str]:
    """Everything ``rater`` is handed, labelled, in order."""
    got: list[str] = []
    while (item := next_item(db, queue, rater)) is not None:
        submit(db, queue, item, rater, "labelled", {"helpful": "4"})
        got.append(item)
    return got


def test_a_changed_rubric_is_a_new_version_and_the_old_one_stays(db: Database) -> None:
    first = save_rubric(db, "Helpfulness", SPEC, by="r")
    same = save_rubric(db, "Helpfulness", dict(SPEC), by="r", rubric_id=first.rubric_id)
    assert (first.version, same.version) == (1, 1)
    changed = {"items": [{"key": "helpful", "kind": "likert", "prompt": "Was it useful?"}]}
    second = save_rubric(db, "Helpfulness", changed, by="r", rubric_id=first.rubric_id)
    assert second.version == 2 and second.spec_hash != first.spec_hash
    old = rubric_version(db, first.rubric_id, 1)
    assert old is not None and old.spec == SPEC


def test_every_item_gets_exactly_n_raters_and_no_rater_sees_one_twice(db: Database) -> None:
    queue = _queue(db, items=5, raters_per_item=2)
    seen = {rater: _label_all(db, queue, rater) for rater in ("r1", "r2", "r3")}
    assert seen["r1"] == [f"x{i:03d}" for i in range(5)]  # queue order
    assert seen["r2"] == seen["r1"]
    assert seen["r3"] == []  # every item already has its two raters
    counts = Counter(row["exchange_id"] for row in queue_labels(db, queue.id))
    assert set(counts.values()) == {2} and len(counts) == 5
    done = progress(db, queue)
    assert (done.items, done.complete, done.labelled) == (5, 5, 10)
    assert rater_progress(db, queue, "r1") == (5, 0)


def test_an_item_held_is_handed_again_on_a_reload_and_holds_its_place(db: Database) -> None:
    queue = _queue(db, items=2, raters_per_item=1)
    first = next_item(db, queue, "r1")
    assert next_item(db, queue, "r1") == first  # a reload, a second tab: the same item
    assert next_item(db, queue, "r2") == "x001"  # r1's item is held: r2 gets the other
    assert next_item(db, queue, "r3") is None  # both places taken


def test_a_claim_left_too_long_frees_its_place(db: Database) -> None:
    queue = _queue(db, items=1, raters_per_item=1)
    assert next_item(db, queue, "r1") == "x000"
    assert next_item(db, queue, "r2") is None
    db.execute("UPDATE queue_claims SET claimed_at = ?", [utcnow() - CLAIM_TTL - timedelta(1)])
    assert next_item(db, queue, "r2") == "x000"
    with pytest.raises(ValueError, match="no longer yours"):
        submit(db, queue, "x000", "r1", "labelled", {"helpful": "1"})


def test_a_skip_is_not_a_label_and_is_not_handed_back(db: Database) -> None:
    queue = _queue(db, items=2, raters_per_item=1)
    assert next_item(db, queue, "r1") == "x000"
    submit(db, queue, "x000", "r1", "skipped", flagged=True, note="not in English")
    assert next_item(db, queue, "r1") == "x001"  # not x000 again
    assert next_item(db, queue, "r2") == "x000"  # still open to others
    done = progress(db, queue)
    assert (done.labelled, done.skipped, done.flagged) == (0, 1, 1)


def test_undo_takes_back_the_last_submission_and_hands_its_item_back(db: Database) -> None:
    queue = _queue(db, items=3, raters_per_item=1)
    _label_all(db, queue, "r1")
    assert undo_last(db, queue, "r1") == "x002"
    assert progress(db, queue).labelled == 2
    assert next_item(db, queue, "r1") == "x002"
    submit(db, queue, "x002", "r1", "labelled", {"helpful": "2"})
    values = {(r["exchange_id"], r["value"]) for r in queue_labels(db, queue.id)}
    assert ("x002", "2") in values and ("x002", "4") not in values  # the undone one is out
    # Kept, marked as taken back: nothing is deleted.
    assert db.one("SELECT count(*) FROM submissions WHERE retracted_at IS NOT NULL") == (1,)
    assert undo_last(db, _queue(db, items=1, raters_per_item=1), "r1") is None


def test_a_submission_needs_the_item_in_hand_and_only_once(db: Database) -> None:
    queue = _queue(db, items=2, raters_per_item=2)
    with pytest.raises(ValueError):
        submit(db, queue, "x001", "r1", "labelled", {"helpful": "3"})  # never handed out
    item = next_item(db, queue, "r1")
    assert item is not None
    submit(db, queue, item, "r1", "labelled", {"helpful": "3"})
    with pytest.raises(ValueError, match="already submitted"):
        submit(db, queue, item, "r1", "labelled", {"helpful": "5"})


def test_a_closed_queue_hands_out_nothing(db: Database) -> None:
    queue = _queue(db, items=2, raters_per_item=1)
    set_queue_status(db, queue.id, "closed")
    closed = get_queue(db, queue.id)
    assert closed is not None and next_item(db, closed, "r1") is None


def test_raters_working_at_once_never_overfill_an_item(db: Database) -> None:
    queue = _queue(db, items=30, raters_per_item=3)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def rater(name: str) -> None:
        start.wait()
        try:
            _label_all(db, queue, name)
        except BaseException as exc:  # surfaced below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(f"r{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    rows = queue_labels(db, queue.id)
    per_item = Counter(r["exchange_id"] for r in rows)
    assert len(per_item) == 30 and set(per_item.values()) == {3}
    pairs = Counter((r["exchange_id"], r["rater_id"]) for r in rows)
    assert set(pairs.values()) == {1}  # nobody labelled an item twice
    assert db.one("SELECT count(*) FROM queue_claims") == (0,)


def test_a_queue_needs_items_and_raters(db: Database) -> None:
    rubric = save_rubric(db, "R", SPEC, by=None)
    common = {"name": "q", "rubric": rubric, "sampling": "all", "filters": {}, "seed": 0}
    with pytest.raises(ValueError, match="nothing to label"):
        create_queue(db, raters_per_item=1, items=[], by=None, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        create_queue(db, raters_per_item=0, items=[(new_id(), None)], by=None, **common)  # type: ignore[arg-type]
