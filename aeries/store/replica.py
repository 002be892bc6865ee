"""The analytics replica: for a PostgreSQL store, a DuckDB copy (one per process) of the tables
the analytics read, so their DuckDB SQL runs unchanged and as fast as on a DuckDB file.

``db.analytics(*tables)`` returns the DuckDB database to run an analytics query on: the store
itself for a DuckDB file, this replica for PostgreSQL (``replica_of(db).reader(tables)``). Rows
come over ADBC (``adbc_driver_postgresql``) as Arrow, whose types DuckDB takes exactly
(TIMESTAMPTZ, DOUBLE, INTEGER, JSON, VARCHAR[]), so a query gives the same frame on both.

**Refresh.** A table is loaded in full the first time a reader needs it. After that, a read
looks at the store's current snapshot (one cheap query on the store's pool): if no transaction
has committed since the tables it names were brought up to date, they are exact as they are;
otherwise it refreshes them, but a table is refreshed again only once ``COST_FACTOR`` times its
last refresh's duration has passed (and ``REFRESH_S``), so a process spends at most a sixth of
its time refreshing and the queries of one page run share one refresh (every few seconds at a
million exchanges, at once on a small store, never per query). A refresh that takes less than
``BACKGROUND_S`` runs before the read, so a process reads its own writes on a small store; a
longer one (0.6–0.8 s at a million exchanges) runs on a thread of its own while reads go on
with the replica as it is, so the page does not wait for it.

Each refresh reads in one REPEATABLE READ, READ ONLY transaction, so the replica moves from one
committed state of the store to a later one and never holds a row another transaction has not
committed. Change tracking needs no schema change: PostgreSQL stamps every row version with the
transaction that wrote it (the ``xmin`` system column). After a refresh whose snapshot had
``pg_snapshot_xmin`` = w (every transaction before w had ended), every row version written since
has xmin >= w, including rows of transactions that were still open then, so the next refresh
takes the rows whose xmin lies in [w, the new snapshot's xmax). xmin has no index, so each
table costs a sequential scan that counts it and its rows in that window, and a second one that
fetches those rows when there are any (both in parallel; docs/shared-store.md §5 has the cost).

- Tables with a primary key: the fetched rows replace the replica rows with the same key
  (an update, an upsert, a row re-inserted by a rebuild).
- Tables without one (exchanges, signals, learned_notes, preferences: logs): the replica keeps
  each row's xmin in ``_pg_xmin``, drops its rows in the window and inserts the fetched ones.
- Every table, after that: the replica must hold as many rows as the store. Every row the store
  holds outside the window was already in the replica unchanged, so equal counts mean equal
  contents; a difference means rows were deleted or updated in place of a log (a rebuild,
  ``delete_synthetic``) and the table is reloaded in full, in the same snapshot. So is a table
  whose window holds more than ``RELOAD_SHARE`` of it (a rebuild rewrote it).

**What is left out.** Heavy text the analytics never read (``EXCLUDED``): the request, answer
and reasoning of exchanges, personas' system prompts, battles' prompts. The replica's
``signals`` holds only the rows of studies (the only replica reader of signals is the study
report; the analytics page reads ``answer_scores`` and ``learned_notes`` instead). Drill-down
details, exports and study bundles read PostgreSQL directly, filtered, with
``pg_snapshot``/``read_arrow`` below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from aeries.store.db import Database, DatabaseError, Params

if TYPE_CHECKING:
    from adbc_driver_manager import dbapi as adbc_dbapi

log = logging.getLogger(__name__)

REFRESH_S = 0.0  # the least time between two refreshes of a table (besides COST_FACTOR)
COST_FACTOR = 5.0  # …and at least this many times the table's last refresh took
BACKGROUND_S = 0.25  # a refresh expected to take longer runs in the background
RELOAD_SHARE = 0.25  # a window holding more of a table than this: reload it instead
XMIN = "_pg_xmin"  # the replica column keeping a log row's xmin
BATCH_ROWS = 100_000
_XID_SPACE = 1 << 32  # xmin is a 32-bit transaction id; xid8 adds the epoch above it

# Table → columns left out of the replica: text the analytics never read.
EXCLUDED: dict[str, tuple[str, ...]] = {
    "exchanges": ("request_messages", "response_text", "reasoning_text", "params", "error"),
    "personas": ("system_prompt",),
    "battles": ("prompt",),
}
# Table → the rows kept (a WHERE condition); every other table is kept whole.
ROWS: dict[str, str] = {"signals": "study_id IS NOT NULL"}
# Every table an analytics reader may name; the analytics page uses the first six.
TABLES = (
    "exchanges",
    "answer_scores",
    "learned_notes",
    "preferences",
    "users",
    "personas",
    "battles",
    "enrolments",
    "enrolment_steps",
    "answers",
    "signals",
)


# ---------------------------------------------------------------------------
# Reading PostgreSQL over ADBC


def _connect(url: str) -> adbc_dbapi.Connection:
    from adbc_driver_postgresql import dbapi

    # Autocommit, so the BEGIN below is the transaction's own (with autocommit off the driver
    # opens a READ COMMITTED transaction first, and a second BEGIN would only warn).
    return dbapi.connect(url, autocommit=True)


def _store_url(db: Database | str) -> str:
    if isinstance(db, str):
        return db
    url = getattr(db, "url", None)
    if db.dialect != "postgres" or not isinstance(url, str):
        raise ValueError("not a PostgreSQL store")
    if db.closed:
        raise DatabaseError("The database connection is closed.")
    return url


def _adbc_error(exc: Exception, label: str) -> DatabaseError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseError(f"The PostgreSQL store {label} could not be read: {first}")


class Snapshot:
    """Queries on one REPEATABLE READ, READ ONLY transaction of a PostgreSQL store, over ADBC:
    every query sees the same committed state. ``?`` placeholders, as in the rest of the store.
    ``relation`` and ``arrow`` give the result as DuckDB would (its type names, JSON as text,
    its time zone), through a small in-memory DuckDB of the snapshot's own."""

    def __init__(self, cursor: adbc_dbapi.Cursor, label: str) -> None:
        self._cur = cursor
        self.label = label  # the store, as messages name it (no password)
        self._own_duck: duckdb.DuckDBPyConnection | None = None
        self._n = 0

    @property
    def _duck(self) -> duckdb.DuckDBPyConnection:
        # Made on first use: a refresh reads ADBC batches only, and a connection costs 20 ms.
        if self._own_duck is None:
            self._own_duck = duckdb.connect()
        return self._own_duck

    def batches(self, sql: str, params: Params = None) -> pa.RecordBatchReader:
        """The result as a stream of Arrow batches, in ADBC's types."""
        from aeries.store.postgres import to_dollar_params

        if isinstance(params, dict):
            raise TypeError("the PostgreSQL store takes positional ? parameters only")
        if params:
            self._cur.execute(to_dollar_params(sql), parameters=tuple(params))
        else:
            self._cur.execute(to_dollar_params(sql))
        reader: pa.RecordBatchReader = self._cur.fetch_record_batch()
        return reader

    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows (a SET LOCAL)."""
        self._cur.execute(sql)

    def relation(self, sql: str, params: Params = None) -> duckdb.DuckDBPyRelation:
        """The result as a DuckDB relation (``.columns``, ``.types``, ``.to_arrow_table()``)."""
        table = self.batches(sql, params).read_all()
        self._n += 1
        name = f"snapshot_{self._n}"
        self._duck.register(name, table)
        return self._duck.sql(f"SELECT * FROM {name}")

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """The result as an Arrow table, typed as DuckDB gives it."""
        return self.relation(sql, params).to_arrow_table()

    def stream(self, sql: str, params: Params = None) -> pa.RecordBatchReader:
        """The result as Arrow batches typed as DuckDB gives them, without holding it all."""
        self._n += 1
        name = f"snapshot_{self._n}"
        self._duck.register(name, self.batches(sql, params))
        reader: pa.RecordBatchReader = self._duck.sql(f"SELECT * FROM {name}").to_arrow_reader(
            BATCH_ROWS
        )
        return reader

    def close(self) -> None:
        if self._own_duck is not None:
            self._own_duck.close()


def _label(store: Database | str) -> str:
    from aeries.store.postgres import describe_url

    if isinstance(store, Database):
        return store.label
    return f"postgresql://{describe_url(store)}"


@contextlib.contextmanager
def _transaction(conn: adbc_dbapi.Connection, label: str) -> Iterator[Snapshot]:
    """A `Snapshot` on an open ADBC connection; ADBC errors become DatabaseError."""
    from adbc_driver_manager import Error as AdbcError

    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = Snapshot(cur, label)
            try:
                yield snapshot
            finally:
                snapshot.close()
                with contextlib.suppress(AdbcError):
                    cur.execute("ROLLBACK")  # read only: nothing to keep
    except AdbcError as exc:
        raise _adbc_error(exc, label) from None


def _open(url: str, label: str) -> adbc_dbapi.Connection:
    from adbc_driver_manager import Error as AdbcError

    try:
        return _connect(url)
    except AdbcError as exc:
        raise _adbc_error(exc, label) from None


@contextlib.contextmanager
def pg_snapshot(store: Database | str) -> Iterator[Snapshot]:
    """A `Snapshot` of the PostgreSQL store (a Database or its URL) for the block, on a
    connection of its own (an ADBC connection takes about 75 ms to open: the replica keeps one
    open instead)."""
    from adbc_driver_manager import Error as AdbcError

    url, label = _store_url(store), _label(store)
    conn = _open(url, label)
    try:
        with _transaction(conn, label) as snapshot:
            yield snapshot
    finally:
        with contextlib.suppress(AdbcError):
            conn.close()


def read_arrow(db: Database, sql: str, params: Params = None) -> pa.Table:
    """A portable query's result as Arrow, read from the store itself: DuckDB's own cursor, or
    PostgreSQL over ADBC typed as DuckDB would give it (for reads the replica cannot serve:
    heavy text, exports)."""
    if db.dialect == "duckdb":
        with db.cursor() as cur:
            table: pa.Table = cur.sql(sql, params=params).to_arrow_table()
            return table
    with pg_snapshot(db) as snap:
        return snap.arrow(sql, params)


# ---------------------------------------------------------------------------
# The replica


@dataclass
class TableState:
    """What the replica knows of one table."""

    columns: tuple[str, ...]  # the store's columns kept, in the store's order
    key: tuple[str, ...]  # its primary key; () for a log (then _pg_xmin is kept)
    watermark: int  # pg_snapshot_xmin of the snapshot it was last brought up to
    snapshot: str  # that snapshot (xmin:xmax:in-progress xids): equal means nothing committed
    refreshed_at: float  # time.monotonic() when it was last known up to date
    cost: float  # seconds its last refresh took
    rows: int


@dataclass
class TableRefresh:
    """What one refresh did to one table."""

    how: str  # "full" (first load or reload), "incremental" or "unchanged"
    rows: int  # rows fetched
    seconds: float
    reason: str = ""  # why a table was reloaded


@dataclass
class Refresh:
    """One refresh: per table what it did, and how long the whole took."""

    tables: dict[str, TableRefresh] = field(default_factory=dict)
    seconds: float = 0.0


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _window(column: str, low: int, span: int) -> str:
    """SQL: whether the 32-bit xid in ``column`` lies in [low, low + span) modulo 2^32 (xids
    wrap around; ``span`` < 2^31, as PostgreSQL's own xid comparisons assume)."""
    return f"((({column}) - {low % _XID_SPACE} + {_XID_SPACE}) % {_XID_SPACE}) < {span}"


class AnalyticsReplica:
    """The DuckDB replica of one PostgreSQL store, for this process (see the module doc).

    ``path`` None keeps it in memory; a folder keeps it in a temporary DuckDB file there
    (compressed: a fifth of the memory at a million exchanges, see REPLICA_DIR)."""

    def __init__(
        self,
        store: Database,
        *,
        path: str | Path | None = None,
        refresh_s: float | None = None,
        memory_limit: str | None = None,
    ) -> None:
        if store.dialect != "postgres":
            raise ValueError("the analytics replica mirrors a PostgreSQL store")
        self._store = weakref.ref(store)
        self.label = store.label
        self.refresh_s = REFRESH_S if refresh_s is None else refresh_s
        self._folder: Path | None = None
        if path is None:
            self.db = Database(":memory:")
        else:
            self._folder = Path(tempfile.mkdtemp(prefix="aeries-replica-", dir=path))
            self.db = Database(self._folder / "replica.duckdb")
        if memory_limit:
            self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.tables: dict[str, TableState] = {}
        self.last: Refresh | None = None
        self._lock = threading.Lock()  # one refresh at a time (and its ADBC connection)
        self._state = threading.Lock()  # self.tables, the decisions, the background thread
        self._conn: adbc_dbapi.Connection | None = None  # kept open between refreshes
        self._background: threading.Thread | None = None
        self._failed: BaseException | None = None  # the last background refresh's error

    # -- reading -------------------------------------------------------------------------

    def reader(self, tables: Iterable[str] = ()) -> Database:
        """The replica's DuckDB, with ``tables`` (all of TABLES if none) loaded, and brought up
        to date if they are due (see the module doc)."""
        wanted = tuple(dict.fromkeys(tables)) or TABLES
        unknown = [t for t in wanted if t not in TABLES]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a replicated table ({', '.join(TABLES)})")
        with self._state:
            due = [t for t in wanted if self._due(t, time.monotonic())]
            loaded = all(t in self.tables for t in wanted)
            if not due or (loaded and self._refreshing()):
                return self.db  # up to date, or a refresh is under way: read what is here
        if loaded:
            current = self._current_snapshot()
            with self._state:
                if all(self.tables[t].snapshot == current for t in due):
                    now = time.monotonic()
                    for t in due:  # nothing has committed since: exact as they are
                        self.tables[t].refreshed_at = now
                    return self.db
                expected = sum(self.tables[t].cost for t in wanted)
                if expected >= BACKGROUND_S and self._failed is None:
                    self._start_background(wanted)
                    return self.db
        with self._lock:
            with self._state:  # another thread may have refreshed them meanwhile
                if not any(self._due(t, time.monotonic()) for t in wanted):
                    return self.db
            self._refresh(wanted)  # all of them, so the query sees one state of the store
        return self.db

    def _refreshing(self) -> bool:
        return self._background is not None and self._background.is_alive()

    def _start_background(self, tables: Sequence[str]) -> None:
        thread = threading.Thread(
            target=self._refresh_in_background,
            args=(tuple(tables),),
            name="aeries-replica-refresh",
            daemon=True,  # a refresh left at exit is only a read
        )
        self._background = thread
        thread.start()

    def _refresh_in_background(self, tables: Sequence[str]) -> None:
        try:
            with self._lock:
                self._refresh(tables)
        except Exception as exc:  # the next read refreshes in the foreground and raises
            log.warning("The analytics replica could not refresh: %s", exc)
            with self._state:
                self._failed = exc

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background refresh to end (tests, close)."""
        thread = self._background
        if thread is not None:
            thread.join(timeout)

    def _due(self, table: str, now: float) -> bool:
        state = self.tables.get(table)
        if state is None:
            return True
        return now - state.refreshed_at >= max(self.refresh_s, COST_FACTOR * state.cost)

    def _current_snapshot(self) -> str:
        row = self._live_store().one("SELECT pg_current_snapshot()::text")
        return str(row[0]) if row else ""

    def _live_store(self) -> Database:
        store = self._store()
        if store is None or store.closed:
            raise DatabaseError("The database connection is closed.")
        return store

    def refresh(self, tables: Iterable[str] = ()) -> Refresh:
        """Bring ``tables`` (every table loaded so far, if none) up to date now."""
        wanted = tuple(dict.fromkeys(tables)) or tuple(self.tables) or TABLES
        with self._lock:
            return self._refresh(wanted)

    def close(self) -> None:
        """Drop the replica (and its temporary file)."""
        self.wait(60)
        with self._lock:
            self._drop_connection()
            self.db.close()
            self.tables.clear()
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)

    # -- refreshing ----------------------------------------------------------------------

    def _refresh(self, tables: Sequence[str]) -> Refresh:
        store = self._live_store()
        started = time.perf_counter()
        reused = self._conn is not None
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = _open(_store_url(store), self.label)
            try:
                return self._refresh_on(self._conn, tables, started)
            except DatabaseError:
                # The kept connection may have broken in between (a server restart, a
                # terminated backend): try once more on a new one.
                self._drop_connection()
                if not reused or attempt == 2:
                    raise
            except BaseException:
                self._drop_connection()
                raise
        raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        from adbc_driver_manager import Error as AdbcError

        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(AdbcError):
                conn.close()

    def _refresh_on(
        self, conn: adbc_dbapi.Connection, tables: Sequence[str], started: float
    ) -> Refresh:
        report = Refresh()
        states: dict[str, TableState] = {}
        with self._state:
            known = {t: self.tables.get(t) for t in tables}
        with _transaction(conn, self.label) as snap, self.db.cursor() as duck:
            row = snap.batches(
                "SELECT pg_snapshot_xmin(s)::text::bigint AS low, "
                "pg_snapshot_xmax(s)::text::bigint AS high, s::text AS snapshot "
                "FROM pg_current_snapshot() s"
            ).read_all()
            low, high = row.column("low")[0].as_py(), row.column("high")[0].as_py()
            seen = row.column("snapshot")[0].as_py()
            # The planner expects a third of a table in the window and so scans it alone;
            # the window is small, so let it scan in parallel (half the time at 1M rows).
            snap.execute("SET LOCAL parallel_tuple_cost = 0.0001")
            duck.execute("BEGIN TRANSACTION")
            try:
                for table in tables:
                    t0 = time.perf_counter()
                    state, done = self._sync(snap, duck, table, known[table], high)
                    done.seconds = time.perf_counter() - t0
                    states[table] = dataclasses.replace(
                        state, watermark=low, snapshot=seen, cost=done.seconds
                    )
                    report.tables[table] = done
            except BaseException:
                duck.execute("ROLLBACK")
                raise
            duck.execute("COMMIT")
        with self._state:
            now = time.monotonic()
            for state in states.values():
                state.refreshed_at = now
            self.tables.update(states)  # only once both sides are done: a failure changes nothing
            self._failed = None
        report.seconds = time.perf_counter() - started
        self.last = report
        return report

    def _sync(
        self,
        snap: Snapshot,
        duck: duckdb.DuckDBPyConnection,
        table: str,
        state: TableState | None,
        high: int,
    ) -> tuple[TableState, TableRefresh]:
        if state is None:
            return self._load(snap, duck, table, "first load")
        span = high - state.watermark
        if span >= _XID_SPACE // 2:
            return self._load(snap, duck, table, "two billion transactions since the last")
        rows = ROWS.get(table, "true")
        window = _window("xmin::text::bigint", state.watermark, span)
        counts = snap.batches(
            f"""SELECT count(*) AS total, count(*) FILTER (WHERE {window}) AS fresh
                FROM {_ident(table)} WHERE {rows}"""
        ).read_all()
        total = counts.column("total")[0].as_py()
        fresh = counts.column("fresh")[0].as_py()
        if fresh > RELOAD_SHARE * max(total, 1) and fresh > 1000:
            return self._load(snap, duck, table, f"{fresh:,} of {total:,} rows changed")
        changed = None
        if fresh:
            changed = snap.batches(
                f"SELECT {self._select(state)} FROM {_ident(table)} WHERE {rows} AND {window}"
            ).read_all()
        name = _ident(table)
        if changed is not None:
            duck.register("replica_changed", changed)
        if state.key and changed is not None:
            match = " AND ".join(f"t.{_ident(k)} = c.{_ident(k)}" for k in state.key)
            duck.execute(f"DELETE FROM {name} t USING replica_changed c WHERE {match}")
        elif not state.key:
            duck.execute(f"DELETE FROM {name} WHERE {_window(XMIN, state.watermark, span)}")
        if changed is not None:
            duck.execute(f"INSERT INTO {name} SELECT * FROM replica_changed")
            duck.unregister("replica_changed")
        kept = _count(duck, name)
        if kept != total:
            # Rows left the store (deleted, or a log row updated): only a reload finds which.
            return self._load(snap, duck, table, f"{kept:,} held, {total:,} in the store")
        how = "incremental" if fresh else "unchanged"
        kept_state = dataclasses.replace(state, rows=total)
        return kept_state, TableRefresh(how, fresh, 0.0)

    def _select(self, state: TableState) -> str:
        columns = ", ".join(_ident(c) for c in state.columns)
        return columns if state.key else f"{columns}, xmin::text::bigint AS {XMIN}"

    def _load(
        self, snap: Snapshot, duck: duckdb.DuckDBPyConnection, table: str, reason: str
    ) -> tuple[TableState, TableRefresh]:
        """Copy the table in full (in the snapshot's state) into the replica."""
        columns, key = _layout(snap, table)
        state = TableState(columns, key, 0, "", 0.0, 0.0, 0)
        reader = snap.batches(
            f"SELECT {self._select(state)} FROM {_ident(table)} WHERE {ROWS.get(table, 'true')}"
        )
        duck.register("replica_load", reader)
        duck.execute(f"CREATE OR REPLACE TABLE {_ident(table)} AS SELECT * FROM replica_load")
        duck.unregister("replica_load")
        state.rows = _count(duck, _ident(table))
        return state, TableRefresh("full", state.rows, 0.0, reason)


def _count(duck: duckdb.DuckDBPyConnection, table: str) -> int:
    # fetchall, not fetchone: DuckDB keeps a result open until it is read to the end, and the
    # cursor takes no other work (register) until then.
    rows = duck.execute(f"SELECT count(*) FROM {table}").fetchall()
    return int(rows[0][0])


def _layout(snap: Snapshot, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The table's columns (without the excluded ones) and primary key, from the catalog."""
    columns = snap.batches(
        """SELECT column_name::text AS name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = ?
           ORDER BY ordinal_position""",
        [table],
    ).read_all()
    names = [c for c in columns.column("name").to_pylist() if c not in EXCLUDED.get(table, ())]
    if not names:
        raise DatabaseError(f"The PostgreSQL store has no table {table}: is it migrated?")
    key = snap.batches(
        """SELECT a.attname::text AS name
           FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = to_regclass(?) AND i.indisprimary
           ORDER BY array_position(i.indkey, a.attnum)""",
        [_ident(table)],
    ).read_all()
    return tuple(names), tuple(key.column("name").to_pylist())


# One replica per store object (so per process: each process opens its store once).
_REPLICAS: weakref.WeakKeyDictionary[Database, AnalyticsReplica] = weakref.WeakKeyDictionary()
_REPLICAS_GUARD = threading.Lock()
# Where each process keeps its replica: a temporary DuckDB file in this folder (None: in memory).
# A file, because at a million exchanges it holds 160 MB against 750 MB in memory (DuckDB
# compresses what it writes, not what it keeps in memory), loads as fast and queries as fast or
# faster (bench/bench_replica.py; docs/shared-store.md §5). MEMORY_LIMIT caps its buffer pool.
REPLICA_DIR: str | None = tempfile.gettempdir()
MEMORY_LIMIT = "512MB"


def replica_of(store: Database) -> AnalyticsReplica:
    """The process's replica of ``store``, made on first use (closed with the store object)."""
    with _REPLICAS_GUARD:
        replica = _REPLICAS.get(store)
        if replica is None:
            limit = MEMORY_LIMIT if REPLICA_DIR is not None else None
            replica = AnalyticsReplica(store, path=REPLICA_DIR, memory_limit=limit)
            _REPLICAS[store] = replica
            weakref.finalize(store, replica.close)
        return replica


def analytics_reader(store: Database, tables: Iterable[str]) -> Database:
    """What ``Database.analytics`` returns for a PostgreSQL store."""
    return replica_of(store).reader(tables)


__all__ = [
    "EXCLUDED",
    "REFRESH_S",
    "ROWS",
    "TABLES",
    "AnalyticsReplica",
    "Refresh",
    "Snapshot",
    "TableRefresh",
    "TableState",
    "analytics_reader",
    "pg_snapshot",
    "read_arrow",
    "replica_of",
]
