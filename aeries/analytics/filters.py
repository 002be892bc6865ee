"""The filters every analytics section shares, the time buckets, and what the filters offer.

Every query runs on ``db.analytics(tables)``: the DuckDB file itself, or for a PostgreSQL store
the process's DuckDB replica of the tables it names (aeries.store.replica), so the SQL here is
DuckDB's on both. Queries filter on ``started_at`` first (rows are appended in time order, so
DuckDB skips whole row groups outside the range) and use the typed columns, never JSON. Time
buckets are computed on integer epoch microseconds and turned into timestamps only after
grouping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from aeries.store.db import Database
from aeries.vocabulary import ACTIVITY_SOURCES

BUCKETS: dict[str, int] = {"hour": 3600, "day": 86_400, "week": 7 * 86_400}
# Weeks start on Monday: 1970-01-01 was a Thursday, so shift by four days.
_WEEK_OFFSET_S = 4 * 86_400
SOURCES = ACTIVITY_SOURCES  # what the source filter offers
NO_PERSONA = ""  # the persona filter value for exchanges made without a persona
MAX_BUCKETS = 2_000  # more than this is too many points to draw


class FilterError(ValueError):
    """Filters that cannot be applied; the message says what to change."""


@dataclass(frozen=True)
class Filters:
    """What every analytics section looks at. ``start`` inclusive, ``end`` exclusive (UTC).

    Empty tuples mean "all". ``personas`` holds persona ids (NO_PERSONA for none); ``users``
    holds user ids (a non-researcher's filters always hold only their own id).
    """

    start: datetime
    end: datetime
    models: tuple[str, ...] = ()
    personas: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    brief: bool | None = None
    bucket: str = field(default="")

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise FilterError("Times must carry a time zone (UTC).")
        if self.end < self.start:
            raise FilterError(
                f"The time range is inverted: it starts {self.start:%Y-%m-%d %H:%M} "
                f"but ends {self.end:%Y-%m-%d %H:%M}. Pick an end after the start."
            )
        if self.end == self.start:
            raise FilterError("The time range is empty: pick an end after the start.")
        bad = set(self.sources) - set(SOURCES)
        if bad:
            raise FilterError(f"Unknown source {sorted(bad)[0]!r}: use chat, arena or observer.")
        if not self.bucket:
            object.__setattr__(self, "bucket", choose_bucket(self.start, self.end))
        if self.bucket not in BUCKETS:
            raise FilterError(f"Unknown time bucket {self.bucket!r}: use hour, day or week.")

    @property
    def bucket_seconds(self) -> int:
        """Width of one time bucket."""
        return BUCKETS[self.bucket]

    def bucket_count(self) -> int:
        """How many buckets the range spans."""
        return int((self.end - self.start).total_seconds() // self.bucket_seconds) + 1


def choose_bucket(start: datetime, end: datetime) -> str:
    """Hour up to two days, day up to ~three months, else week."""
    span = end - start
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=92):
        return "day"
    return "week"


def bucket_key(column: str, bucket: str) -> str:
    """SQL: the integer bucket number of a TIMESTAMPTZ column (cheap to group by)."""
    width = BUCKETS[bucket] * 1_000_000
    if bucket == "week":
        offset = _WEEK_OFFSET_S * 1_000_000
        return f"((epoch_us({column}) - {offset}) // {width})"
    return f"(epoch_us({column}) // {width})"


def bucket_time(key: str, bucket: str) -> str:
    """SQL: the bucket number back to the TIMESTAMPTZ the bucket starts at."""
    offset = _WEEK_OFFSET_S if bucket == "week" else 0
    return f"make_timestamptz({key} * {BUCKETS[bucket] * 1_000_000} + {offset * 1_000_000})"


def bucket_start(ts: datetime, bucket: str) -> datetime:
    """The start of the bucket holding ``ts`` (same rule as the SQL)."""
    offset = _WEEK_OFFSET_S if bucket == "week" else 0
    seconds = int(ts.timestamp()) - offset
    width = BUCKETS[bucket]
    return datetime.fromtimestamp(seconds // width * width + offset, UTC)


def frame(db: Database, sql: str, params: list) -> pd.DataFrame:
    """A query's result as a DataFrame, through Arrow (2-3× faster than ``.df()`` for strings)."""
    with db.cursor() as cur:
        return cur.sql(sql, params=params).to_arrow_table().to_pandas()


def _in(column: str, values: tuple[str, ...], params: list) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def exchange_where(f: Filters, alias: str = "e", *, time: bool = True) -> tuple[str, list]:
    """SQL conditions (joined by AND) and their parameters for exchanges matching ``f``."""
    params: list = []
    clauses: list[str] = []
    if time:
        clauses.append(f"{alias}.started_at >= ? AND {alias}.started_at < ?")
        params += [f.start, f.end]
    if f.models:
        clauses.append(_in(f"{alias}.model", f.models, params))
    if f.sources:
        clauses.append(_in(f"{alias}.source", f.sources, params))
    if f.users:
        clauses.append(_in(f"{alias}.user_id", f.users, params))
    if f.personas:
        named = tuple(p for p in f.personas if p != NO_PERSONA)
        parts = [_in(f"{alias}.persona_id", named, params)] if named else []
        if NO_PERSONA in f.personas:
            parts.append(f"{alias}.persona_id IS NULL")
        clauses.append("(" + " OR ".join(parts) + ")")
    if f.brief is not None:
        clauses.append(f"{alias}.brief_enabled = ?")
        params.append(f.brief)
    return " AND ".join(clauses) or "true", params


# ---------------------------------------------------------------------------
# Filter options


COUNTED_TABLES = ("exchanges", "signals", "preferences", "votes")


def has_rows(db: Database, table: str) -> bool:
    """Whether ``table`` (one of COUNTED_TABLES) holds any row at all. Asked of the store
    itself: EXISTS stops at the first row on either engine, and the PostgreSQL replica keeps
    neither votes nor the signals outside studies."""
    if table not in COUNTED_TABLES:
        raise ValueError(f"not a counted table: {table!r}")
    return db.one(f"SELECT EXISTS (SELECT 1 FROM {table})") == (True,)


def data_range(db: Database) -> tuple[datetime, datetime] | None:
    """First and last exchange time, or None for an empty log."""
    row = db.analytics("exchanges").one("SELECT min(started_at), max(started_at) FROM exchanges")
    if row is None or row[0] is None:
        return None
    return row[0].astimezone(UTC), row[1].astimezone(UTC)


def model_options(db: Database, users: tuple[str, ...] = ()) -> list[str]:
    """Models that appear in the log (of these users, if given), sorted."""
    params: list = []
    where = _in("user_id", users, params) if users else "true"
    rows = db.analytics("exchanges").rows(
        f"SELECT DISTINCT model FROM exchanges WHERE {where} ORDER BY model", params
    )
    return [r[0] for r in rows]


def persona_options(db: Database) -> dict[str, str]:
    """Persona id → name (deleted personas included: old exchanges still point at them)."""
    rows = db.analytics("personas").rows(
        "SELECT id, name, deleted FROM personas ORDER BY is_default DESC, name, id"
    )
    return {pid: name + (" (deleted)" if deleted else "") for pid, name, deleted in rows}


def user_options(db: Database) -> dict[str, str]:
    """User id → name."""
    return dict(db.analytics("users").rows("SELECT id, name FROM users ORDER BY name"))
