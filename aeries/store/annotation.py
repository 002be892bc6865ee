"""Human annotation: rubrics and their versions, queues of exchanges, and raters' submissions.

Written directly, not through the writer: a rater's next item depends on what they just
submitted, so it must be read back at once. Handing out an item takes the queue's store-wide
lock (an advisory lock on the shared store), so two raters working at once, in one process or
in two, are never both given an item's last place. Every read of labels is the researcher's:
raters are handed items, never other raters' labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.ops import Insert, apply_group
from aeries.vocabulary import QueueSampling, QueueStatus, SubmissionOutcome

CLAIM_TTL = timedelta(minutes=30)  # a rater who walked away frees the item after this


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of a rubric spec's canonical JSON (key order and spacing do not count)."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RubricVersion:
    """One version of a rubric: its items as the spec dict (aeries.annotation.rubric)."""

    rubric_id: str
    name: str
    version: int
    spec: dict[str, Any]
    spec_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Queue:
    """An annotation_queues row."""

    id: str
    name: str
    rubric_id: str
    rubric_version: int
    raters_per_item: int
    sampling: QueueSampling
    filters: dict[str, Any]
    seed: int
    status: QueueStatus
    created_by: str | None
    created_at: datetime


def save_rubric(
    db: Database, name: str, spec: dict[str, Any], *, by: str | None, rubric_id: str | None = None
) -> RubricVersion:
    """Store a rubric (new when ``rubric_id`` is None), or a new version of one when the spec
    changed; an unchanged spec (same hash) keeps its version. Returns the current version."""
    digest = spec_hash(spec)
    now = utcnow()
    with db.transaction() as cur:
        if rubric_id is None:
            rubric_id = new_id()
            version = 1
            cur.execute(
                "INSERT INTO rubrics (id, name, current_version, created_by, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [rubric_id, name, version, by, now, now],
            )
        else:
            row = cur.execute(
                "SELECT r.current_version, v.spec_hash FROM rubrics r JOIN rubric_versions v "
                "ON v.rubric_id = r.id AND v.version = r.current_version WHERE r.id = ?",
                [rubric_id],
            ).fetchone()
            if row is None:
                raise KeyError(f"no rubric {rubric_id}")
            if row[1] == digest:
                cur.execute(
                    "UPDATE rubrics SET name = ?, updated_at = ? WHERE id = ?",
                    [name, now, rubric_id],
                )
                version = int(row[0])
            else:
                version = int(row[0]) + 1
                cur.execute(
                    "UPDATE rubrics SET name = ?, current_version = ?, updated_at = ? WHERE id = ?",
                    [name, version, now, rubric_id],
                )
        if not cur.execute(
            "SELECT 1 FROM rubric_versions WHERE rubric_id = ? AND version = ?",
            [rubric_id, version],
        ).fetchone():
            cur.execute(
                "INSERT INTO rubric_versions (rubric_id, version, spec, spec_hash, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [rubric_id, version, json.dumps(spec, ensure_ascii=False), digest, by, now],
            )
    found = rubric_version(db, rubric_id)
    assert found is not None
    return found


def rubric_version(
    db: Database, rubric_id: str, version: int | None = None
) -> RubricVersion | None:
    """A rubric's version (its current one when ``version`` is None)."""
    row = db.one(
        "SELECT r.id, r.name, v.version, v.spec, v.spec_hash, v.created_at FROM rubrics r "
        "JOIN rubric_versions v ON v.rubric_id = r.id "
        "AND v.version = COALESCE(CAST(? AS INTEGER), r.current_version) WHERE r.id = ?",
        [version, rubric_id],
    )
    if row is None:
        return None
    return RubricVersion(row[0], row[1], int(row[2]), json.loads(row[3]), row[4], row[5])


def list_rubrics(db: Database) -> list[RubricVersion]:
    """Every rubric not deleted, in its current version, by name."""
    ids = db.rows("SELECT id FROM rubrics WHERE NOT deleted ORDER BY name, id")
    found = [rubric_version(db, rid) for (rid,) in ids]
    return [r for r in found if r is not None]


def delete_rubric(db: Database, rubric_id: str) -> None:
    """Hide a rubric from the list (its versions stay: queues and labels refer to them)."""
    db.execute(
        "UPDATE rubrics SET deleted = true, updated_at = ? WHERE id = ?", [utcnow(), rubric_id]
    )


def create_queue(
    db: Database,
    *,
    name: str,
    rubric: RubricVersion,
    raters_per_item: int,
    sampling: QueueSampling,
    filters: dict[str, Any],
    seed: int,
    items: list[tuple[str, str | None]],
    by: str | None,
) -> Queue:
    """A new open queue over ``items`` ((exchange id, stratum), in the order raters get
    them)."""
    if raters_per_item < 1:
        raise ValueError("A queue needs at least one rater per item.")
    if not items:
        raise ValueError("No exchange matches this queue's filters: nothing to label.")
    queue_id = new_id()
    now = utcnow()
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO annotation_queues (id, name, rubric_id, rubric_version, "
            "raters_per_item, sampling, filters, seed, status, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            [
                queue_id,
                name,
                rubric.rubric_id,
                rubric.version,
                raters_per_item,
                sampling,
                json.dumps(filters, sort_keys=True, default=str),
                seed,
                by,
                now,
            ],
        )
        # The writer's bulk path (Arrow on DuckDB, COPY on PostgreSQL): a queue over 100k
        # exchanges is made in a second, not row by row.
        rows = [
            Insert(
                "queue_items",
                {"queue_id": queue_id, "exchange_id": e, "position": i, "stratum": stratum},
            )
            for i, (e, stratum) in enumerate(items)
        ]
        apply_group(cur, rows, db.dialect)
    found = get_queue(db, queue_id)
    assert found is not None
    return found


_QUEUE_COLUMNS = (
    "id, name, rubric_id, rubric_version, raters_per_item, sampling, filters, seed, status, "
    "created_by, created_at"
)


def _queue(row: tuple[Any, ...]) -> Queue:
    values = list(row)
    values[6] = json.loads(values[6])
    return Queue(*values)


def get_queue(db: Database, queue_id: str) -> Queue | None:
    """The queue with this id."""
    row = db.one(f"SELECT {_QUEUE_COLUMNS} FROM annotation_queues WHERE id = ?", [queue_id])
    return _queue(row) if row else None


def list_queues(db: Database) -> list[Queue]:
    """Every queue, newest first."""
    rows = db.rows(f"SELECT {_QUEUE_COLUMNS} FROM annotation_queues ORDER BY created_at DESC, id")
    return [_queue(r) for r in rows]


def set_queue_status(db: Database, queue_id: str, status: QueueStatus) -> None:
    """Open or close a queue (a closed one hands out nothing; its labels stay)."""
    db.execute("UPDATE annotation_queues SET status = ? WHERE id = ?", [status, queue_id])


# --- handing out items ---------------------------------------------------------------------

# Other raters' live claims are counted once per held item (few), not once per queue item.
_NEXT = """
WITH held AS (
    SELECT exchange_id, count(*) AS n FROM queue_claims
    WHERE queue_id = ? AND rater_id <> ? AND claimed_at > ?
    GROUP BY exchange_id
)
SELECT qi.exchange_id FROM queue_items qi
LEFT JOIN held h ON h.exchange_id = qi.exchange_id
WHERE qi.queue_id = ?
  AND qi.labelled + COALESCE(h.n, 0) < ?
  AND NOT EXISTS (
        SELECT 1 FROM submissions s
        WHERE s.queue_id = qi.queue_id AND s.exchange_id = qi.exchange_id
          AND s.rater_id = ? AND s.retracted_at IS NULL
      )
ORDER BY qi.position
LIMIT 1
"""


def next_item(db: Database, queue: Queue, rater_id: str) -> str | None:
    """The exchange ``rater_id`` should label next in ``queue``, held for them (a claim) so
    nobody else takes its place meanwhile; None when nothing is left for them. An item they
    already hold (a reload, a second tab) is handed again. Items go in queue order to raters
    who have not submitted them, while fewer than ``raters_per_item`` have labelled or hold
    them."""
    if queue.status != "open":
        return None
    now = utcnow()
    fresh = now - CLAIM_TTL
    with db.lock(f"queue:{queue.id}"), db.transaction() as cur:
        cur.execute(
            "DELETE FROM queue_claims WHERE queue_id = ? AND claimed_at <= ?", [queue.id, fresh]
        )
        held = cur.execute(
            "SELECT exchange_id FROM queue_claims WHERE queue_id = ? AND rater_id = ? "
            "ORDER BY claimed_at LIMIT 1",
            [queue.id, rater_id],
        ).fetchone()
        if held is not None:
            return str(held[0])
        row = cur.execute(
            _NEXT, [queue.id, rater_id, fresh, queue.id, queue.raters_per_item, rater_id]
        ).fetchone()
        if row is None:
            return None
        cur.execute(
            "INSERT INTO queue_claims (queue_id, exchange_id, rater_id, claimed_at) "
            "VALUES (?, ?, ?, ?)",
            [queue.id, row[0], rater_id, now],
        )
        return str(row[0])


def _claimed_at(cur: Any, queue_id: str, exchange_id: str, rater_id: str) -> datetime | None:
    row = cur.execute(
        "DELETE FROM queue_claims WHERE queue_id = ? AND exchange_id = ? AND rater_id = ? "
        "RETURNING claimed_at",
        [queue_id, exchange_id, rater_id],
    ).fetchone()
    return row[0] if row else None


def submit(
    db: Database,
    queue: Queue,
    exchange_id: str,
    rater_id: str,
    outcome: SubmissionOutcome,
    labels: dict[str, str | None] | None = None,
    *,
    flagged: bool = False,
    note: str | None = None,
) -> str:
    """Record what ``rater_id`` did with the item they hold: its labels (one per rubric item
    key), or a skip; flagged with a note if they said so. Refused (ValueError) for an item
    they do not hold and have not been handed, or one they already submitted."""
    submission_id = new_id()
    with db.lock(f"queue:{queue.id}"), db.transaction() as cur:
        done = cur.execute(
            "SELECT 1 FROM submissions WHERE queue_id = ? AND exchange_id = ? AND rater_id = ? "
            "AND retracted_at IS NULL",
            [queue.id, exchange_id, rater_id],
        ).fetchone()
        if done:
            raise ValueError("This item is already submitted; undo it to change its labels.")
        shown_at = _claimed_at(cur, queue.id, exchange_id, rater_id)
        if shown_at is None:
            raise ValueError("This item is no longer yours to label (it expired); take the next.")
        cur.execute(
            "INSERT INTO submissions (id, queue_id, exchange_id, rater_id, rubric_id, "
            "rubric_version, outcome, flagged, note, shown_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                submission_id,
                queue.id,
                exchange_id,
                rater_id,
                queue.rubric_id,
                queue.rubric_version,
                outcome,
                flagged,
                note,
                shown_at,
                utcnow(),
            ],
        )
        if outcome == "labelled":
            cur.executemany(
                "INSERT INTO labels (submission_id, item_key, value) VALUES (?, ?, ?)",
                [[submission_id, key, value] for key, value in (labels or {}).items()],
            )
            cur.execute(
                "UPDATE queue_items SET labelled = labelled + 1 "
                "WHERE queue_id = ? AND exchange_id = ?",
                [queue.id, exchange_id],
            )
    return submission_id


def undo_last(db: Database, queue: Queue, rater_id: str) -> str | None:
    """Take back ``rater_id``'s last submission in ``queue`` (kept, marked retracted) and hand
    its item back to them; returns its exchange id, or None if there is nothing to undo."""
    now = utcnow()
    with db.lock(f"queue:{queue.id}"), db.transaction() as cur:
        row = cur.execute(
            "SELECT id, exchange_id, outcome FROM submissions WHERE queue_id = ? "
            "AND rater_id = ? AND retracted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
            [queue.id, rater_id],
        ).fetchone()
        if row is None:
            return None
        submission_id, exchange_id, outcome = row
        cur.execute("UPDATE submissions SET retracted_at = ? WHERE id = ?", [now, submission_id])
        if outcome == "labelled":
            cur.execute(
                "UPDATE queue_items SET labelled = labelled - 1 "
                "WHERE queue_id = ? AND exchange_id = ?",
                [queue.id, exchange_id],
            )
        # The item they undid becomes the one they hold (the one they were given next is let go).
        cur.execute(
            "DELETE FROM queue_claims WHERE queue_id = ? AND rater_id = ?", [queue.id, rater_id]
        )
        cur.execute(
            "INSERT INTO queue_claims (queue_id, exchange_id, rater_id, claimed_at) "
            "VALUES (?, ?, ?, ?)",
            [queue.id, exchange_id, rater_id, now],
        )
        return str(exchange_id)


# --- what researchers read -----------------------------------------------------------------


@dataclass(frozen=True)
class QueueProgress:
    """How far a queue is: items, items with all their raters, labels given, per rater."""

    items: int
    complete: int
    labelled: int
    skipped: int
    flagged: int
    per_rater: list[tuple[str, int, int]]  # (rater id, labelled, skipped)


def progress(db: Database, queue: Queue) -> QueueProgress:
    """The queue's progress (submissions taken back do not count)."""
    totals = db.one(
        "SELECT count(*), count(*) FILTER (WHERE labelled >= ?) FROM queue_items "
        "WHERE queue_id = ?",
        [queue.raters_per_item, queue.id],
    )
    assert totals is not None
    counts = db.one(
        "SELECT count(*) FILTER (WHERE outcome = 'labelled'), "
        "count(*) FILTER (WHERE outcome = 'skipped'), count(*) FILTER (WHERE flagged) "
        "FROM submissions WHERE queue_id = ? AND retracted_at IS NULL",
        [queue.id],
    )
    assert counts is not None
    per_rater = db.rows(
        "SELECT rater_id, count(*) FILTER (WHERE outcome = 'labelled'), "
        "count(*) FILTER (WHERE outcome = 'skipped') FROM submissions "
        "WHERE queue_id = ? AND retracted_at IS NULL GROUP BY rater_id ORDER BY rater_id",
        [queue.id],
    )
    return QueueProgress(
        int(totals[0]),
        int(totals[1]),
        int(counts[0]),
        int(counts[1]),
        int(counts[2]),
        [(str(r), int(n), int(s)) for r, n, s in per_rater],
    )


def rater_progress(db: Database, queue: Queue, rater_id: str) -> tuple[int, int]:
    """(items this rater has submitted, items still open to them) in ``queue``."""
    done = db.one(
        "SELECT count(*) FROM submissions WHERE queue_id = ? AND rater_id = ? "
        "AND retracted_at IS NULL",
        [queue.id, rater_id],
    )
    left = db.one(
        "SELECT count(*) FROM queue_items qi WHERE qi.queue_id = ? AND qi.labelled < ? "
        "AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.queue_id = qi.queue_id "
        "AND s.exchange_id = qi.exchange_id AND s.rater_id = ? AND s.retracted_at IS NULL)",
        [queue.id, queue.raters_per_item, rater_id],
    )
    return int(done[0] if done else 0), int(left[0] if left else 0)


def queue_labels(db: Database, queue_id: str) -> list[dict[str, Any]]:
    """Every label of a queue not taken back: exchange, rater, item key, value, when, and the
    rubric version (a researcher's read: the analytics and the export)."""
    return db.records(
        "SELECT s.queue_id, s.exchange_id, s.rater_id, l.item_key, l.value, s.created_at, "
        "s.rubric_id, s.rubric_version, s.flagged FROM submissions s "
        "JOIN labels l ON l.submission_id = s.id "
        "WHERE s.queue_id = ? AND s.outcome = 'labelled' AND s.retracted_at IS NULL "
        "ORDER BY s.exchange_id, s.rater_id, l.item_key",
        [queue_id],
    )


def adjudicate(
    db: Database,
    queue_id: str,
    exchange_id: str,
    item_key: str,
    value: str | None,
    *,
    by: str,
    note: str | None = None,
) -> None:
    """Record (or replace) the label a researcher settled on; the raters' labels stay."""
    db.execute(
        "INSERT INTO adjudications (queue_id, exchange_id, item_key, value, adjudicator_id, "
        "note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (queue_id, exchange_id, item_key) DO UPDATE SET value = excluded.value, "
        "adjudicator_id = excluded.adjudicator_id, note = excluded.note, "
        "created_at = excluded.created_at",
        [queue_id, exchange_id, item_key, value, by, note, utcnow()],
    )


def adjudications(db: Database, queue_id: str) -> dict[tuple[str, str], str | None]:
    """(exchange id, item key) → the adjudicated value, for a queue."""
    rows = db.rows(
        "SELECT exchange_id, item_key, value FROM adjudications WHERE queue_id = ?", [queue_id]
    )
    return {(str(e), str(k)): v for e, k, v in rows}
