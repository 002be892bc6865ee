"""profile_stats: the recency-weighted aggregates the brief is built from.

Each observer signal that feeds the brief (a preference, a topic, a correction) adds
``weight · exp((t − EPOCH) / TAU)`` to its row's score, in the same write batch as the signal.
Deleting a learned item resets its row; signals older than the reset no longer count.
``rebuild_profile`` recomputes the table from signals and events (used after bulk imports, and
by tests to prove the incremental table equals a recomputation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aeries.store.db import Database
from aeries.store.writer import Execute, Op

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
TAU_S = 14 * 86400.0  # recency: a signal two weeks old counts 1/e as much as a new one
PROFILE_NAMES = ("preference", "topic", "correction")

_UPSERT = """INSERT INTO profile_stats (user_id, name, value, score, n, first_at, last_at)
VALUES (?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (user_id, name, value) DO UPDATE SET
    score = profile_stats.score + excluded.score,
    n = profile_stats.n + 1,
    first_at = least(profile_stats.first_at, excluded.first_at),
    last_at = greatest(profile_stats.last_at, excluded.last_at)"""


def growth(at: datetime, weight: float = 1.0) -> float:
    """The score a signal at ``at`` with ``weight`` adds."""
    return weight * math.exp((at - EPOCH).total_seconds() / TAU_S)


def decay(at: datetime) -> float:
    """Factor turning a score into the decayed weight at time ``at``."""
    return math.exp(-(at - EPOCH).total_seconds() / TAU_S)


def profile_ops(row: dict[str, Any]) -> list[Op]:
    """Upserts keeping profile_stats in step with a new signal row (none if it does not count)."""
    if row.get("kind") != "observer" or row.get("name") not in PROFILE_NAMES:
        return []
    value = row.get("value_text")
    if not value or not row.get("user_id"):
        return []
    at = row["created_at"]
    return [Execute(_UPSERT, [row["user_id"], row["name"], value, growth(at), at, at])]


@dataclass(frozen=True)
class ProfileItem:
    """One learned item with its decayed weight now."""

    name: str
    value: str
    weight: float
    n: int
    last_at: datetime


def load_profile(db: Database, user_id: str, now: datetime) -> list[ProfileItem]:
    """The user's learned items with weight > 0, strongest first (ties by name, value)."""
    rows = db.rows(
        """SELECT name, value, score, n, last_at FROM profile_stats
           WHERE user_id = ? AND n > 0 ORDER BY name, value""",
        [user_id],
    )
    factor = decay(now)
    items = [
        ProfileItem(name, value, score * factor, n, last) for name, value, score, n, last in rows
    ]
    return sorted(items, key=lambda i: (-i.weight, i.name, i.value))


def reset_item_ops(user_id: str, name: str, value: str, at: datetime) -> list[Op]:
    """Forget an item: its row is zeroed, so only signals after ``at`` can bring it back."""
    return [
        Execute(
            """UPDATE profile_stats SET score = 0, n = 0, reset_at = ?
               WHERE user_id = ? AND name = ? AND value = ?""",
            [at, user_id, name, value],
        )
    ]


def rebuild_profile(db: Database) -> None:
    """Recompute profile_stats from signals, honouring deletions (events 'preference_deleted')."""
    names = list(PROFILE_NAMES)
    # Written to run unchanged on DuckDB and PostgreSQL: extract(epoch …) is a double on DuckDB
    # but numeric on PostgreSQL, so it is cast, keeping exp() and the sum in floating point as
    # growth() is; a reset's columns are the group's keys, so max() of its one value stands for
    # any_value; the names go in as a typed array (an untyped unnest(?) is ambiguous to PG).
    with db.transaction() as cur:
        cur.execute("DELETE FROM profile_stats")
        cur.execute(
            """INSERT INTO profile_stats (user_id, name, value, score, n, first_at, last_at,
                                          reset_at)
            WITH resets AS (
                SELECT user_id, payload->>'name' AS name, payload->>'value' AS value,
                       max(created_at) AS reset_at
                FROM events WHERE kind = 'preference_deleted'
                GROUP BY user_id, payload->>'name', payload->>'value'
            )
            SELECT s.user_id, s.name, s.value_text,
                   coalesce(sum(exp((CAST(extract(epoch FROM s.created_at) AS DOUBLE PRECISION)
                                     - CAST(extract(epoch FROM ?::TIMESTAMPTZ) AS DOUBLE PRECISION))
                                    / ?))
                       FILTER (WHERE r.reset_at IS NULL OR s.created_at > r.reset_at), 0),
                   count(*) FILTER (WHERE r.reset_at IS NULL OR s.created_at > r.reset_at),
                   min(s.created_at), max(s.created_at), max(r.reset_at)
            FROM signals s
            LEFT JOIN resets r
              ON r.user_id = s.user_id AND r.name = s.name AND r.value = s.value_text
            WHERE s.kind = 'observer' AND s.name = ANY(?::VARCHAR[])
              AND s.value_text IS NOT NULL AND s.user_id IS NOT NULL
            GROUP BY s.user_id, s.name, s.value_text""",
            [EPOCH, TAU_S, names],
        )
