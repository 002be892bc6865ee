"""The shared engine: a PostgreSQL database that several app processes write to at once.

Table modules write SQL once, with ``?`` placeholders, in forms DuckDB and PostgreSQL both
accept; this module turns ``?`` into ``$n`` and runs it through psycopg's server-side binding
(``RawCursor``). Connections come from a pool, each in autocommit, in UTC, with ``json``
read back as text and ``numeric`` as float, so rows look as DuckDB gives them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import psycopg
import psycopg_pool
from psycopg.types.numeric import FloatLoader
from psycopg.types.string import TextLoader

from aeries.store.db import Database, DatabaseError, Params

log = logging.getLogger(__name__)

# SQLSTATE classes that mean "the store, not the row": wait, keep the rows, retry.
# 08 connection, 53 resources (53100 disk full), 57 operator intervention (57P01: the
# backend was terminated; server shutting down), 58 system error, XX internal error.
_STORE_CLASSES = ("08", "53", "57", "58", "XX")
_STORE_STATES = ("25006",)  # read-only transaction: a standby after a failover


def is_pg_store_failure(exc: BaseException) -> bool:
    """Whether a psycopg error is the store's fault (a server down, gone, full or read-only)
    rather than the statement's (a constraint, a type, a syntax error)."""
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.InterfaceError):
        return True  # no connection could be had, or the connection is closed
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        # An OperationalError without a state is a connection refused or lost.
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in _STORE_CLASSES or state in _STORE_STATES


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


@functools.lru_cache(maxsize=4096)
def to_dollar_params(sql: str) -> str:
    """``sql`` with each ``?`` placeholder numbered ``$1``, ``$2``, … in order. A ``?`` inside a
    quoted string, a quoted identifier, a dollar-quoted body or a comment is left alone."""
    out: list[str] = []
    n = 0
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < length:
                if sql[end] == ch:
                    if end + 1 < length and sql[end + 1] == ch:  # a doubled quote
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = length if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(0), tag.end())  # a dollar-quoted body: $tag$ … $tag$
            end = length if end == -1 else end + len(tag.group(0))
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


NUL_STAND_IN = "\ufffd"  # PostgreSQL text cannot hold U+0000; the replacement character can


def _without_nul(value: Any) -> Any:
    """``value`` with every U+0000 in its strings (also inside lists) replaced, so a row with
    one is kept rather than refused. The DuckDB engine stores U+0000 as it is."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_STAND_IN) if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _params(params: Sequence[Any] | None) -> list[Any] | None:
    return [_without_nul(v) for v in params] if params else None


DOWN_RETRY_S = 2.0  # after a connection could not be had, how long later to try again


def describe_url(url: str) -> str:
    """host:port/database of a URL, without user or password (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path or '/'}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from a lock's name."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresCursor:
    """A cursor on one pooled connection, held until the ``with`` block ends; speaks the
    subset of DuckDB's cursor API that the store uses (``execute`` returns the cursor)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool) -> None:
        self._pool = pool
        self._conn: psycopg.Connection[Any] | None = pool.getconn()
        self._cur: psycopg.RawCursor[Any] = psycopg.RawCursor(self._conn)

    def execute(self, sql: str, params: Params = None) -> PostgresCursor:
        if isinstance(params, dict):
            raise TypeError("the PostgreSQL store takes positional ? parameters only")
        self._cur.execute(to_dollar_params(sql), _params(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> PostgresCursor:
        self._cur.executemany(to_dollar_params(sql), [_params(row) or [] for row in rows])
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cur.fetchall() if self._cur.description else []

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cur.fetchone() if self._cur.description else None

    @property
    def description(self) -> list[Any] | None:
        return self._cur.description

    def df(self) -> pd.DataFrame:
        names = [d.name for d in self._cur.description or []]
        return pd.DataFrame(self.fetchall(), columns=names)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows with one ``COPY … FROM STDIN`` (the bulk path of the writer)."""
        names = ", ".join(columns)
        with self._cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_params(row) or [])

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            self._cur.close()
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            # A block left a transaction open (an error mid-way): never hand it to the next.
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        self._pool.putconn(conn)

    def __enter__(self) -> PostgresCursor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Make a new pooled connection read and write rows as the DuckDB engine does."""
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("numeric", FloatLoader)
    conn.execute("SET TimeZone TO 'UTC'")


class PostgresDatabase(Database):
    """A PostgreSQL database reached through a connection pool."""

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        local_base: Path | None = None,
        connect_timeout_s: float = 10.0,
        pool_timeout_s: float = 3.0,
        max_connections: int = 24,
        outcome_wait_s: float = 30.0,
    ) -> None:
        self.url = url
        self.outcome_wait_s = outcome_wait_s
        name = (urlsplit(url).path or "/").strip("/") or "postgres"
        # Spill and key files need a local folder: per database, next to the default DuckDB.
        self.path = local_base or Path("data") / f"postgres-{name}"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._closed = False
        self._down_until = 0.0
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=2,
            max_size=max_connections,
            timeout=pool_timeout_s,
            kwargs={"autocommit": True, "application_name": "aeries"},
            configure=_configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            open=False,
            name="aeries",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except psycopg_pool.PoolTimeout:
            reason = self._why_unreachable()
            self._pool.close()
            raise DatabaseError(
                f"The PostgreSQL store at {self.label} is not reachable: {reason}. Start the "
                "server (or check AERIES_DB's host, port, user and password), then reload."
            ) from None

    def _why_unreachable(self) -> str:
        try:
            with psycopg.connect(self.url, connect_timeout=3):
                return "the server answers, but the pool could not connect in time"
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    @property
    def label(self) -> str:
        return f"postgresql://{describe_url(self.url)}"

    @property
    def on_disk(self) -> bool:
        return True

    def cursor(self) -> PostgresCursor:
        if self._closed:
            raise DatabaseError("The database connection is closed.")
        # While the server is known to be away, fail at once instead of every page read
        # waiting the pool's whole timeout; one caller at a time (the writer's retries, the
        # next page) tries again after DOWN_RETRY_S.
        if time.monotonic() < self._down_until:
            raise DatabaseError(f"The PostgreSQL store at {self.label} is not reachable.")
        try:
            return PostgresCursor(self._pool)
        except psycopg_pool.PoolTimeout:
            self._down_until = time.monotonic() + DOWN_RETRY_S
            raise

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        # This process's threads queue on a lock of their own, so only one of them holds a
        # pooled connection in pg_advisory_lock; other processes queue in PostgreSQL. The
        # server frees the advisory lock by itself if this connection dies.
        with self._locks_guard:
            local = self._locks.setdefault(key, threading.Lock())
        with local, self.cursor() as cur:
            number = advisory_key(key)
            cur.execute("SELECT pg_advisory_lock(?)", [number])
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    cur.execute("SELECT pg_advisory_unlock(?)", [number])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PostgresCursor]:
        with self.cursor() as cur:
            cur.execute("BEGIN")
            try:
                yield cur
            except BaseException:
                # A lost connection cannot roll back; PostgreSQL drops its transaction anyway.
                with contextlib.suppress(psycopg.Error):
                    cur.execute("ROLLBACK")
                raise
            # The transaction's id, so that a COMMIT whose answer is lost (the connection
            # drops mid-way) can be looked up instead of guessed: a retry of a batch that did
            # land would write its rows twice (log tables have no key to stop that).
            row = cur.execute("SELECT pg_current_xact_id()::text").fetchone()
            xid = str(row[0]) if row else None
            try:
                cur.execute("COMMIT")
            except psycopg.Error as exc:
                if xid is None or not is_pg_store_failure(exc) or not self._landed(xid):
                    raise
                log.warning("The connection dropped during COMMIT; transaction %s landed", xid)

    def _landed(self, xid: str) -> bool:
        """Whether transaction ``xid`` committed, asked on a new connection, for up to
        ``outcome_wait_s`` while the server is away. False if it did not, or if no answer
        came (then a retry may repeat it: said in the log)."""
        deadline = time.monotonic() + self.outcome_wait_s
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as conn:
                    found = conn.execute("SELECT pg_xact_status(%s::xid8)", [xid]).fetchone()
                status = found[0] if found else None
                if status != "in progress":
                    return status == "committed"
            except psycopg.Error:
                pass
            if time.monotonic() >= deadline:
                log.error(
                    "Cannot learn whether transaction %s committed; retrying it may write its "
                    "rows twice",
                    xid,
                )
                return False
            time.sleep(0.2)

    def checkpoint(self) -> None:
        """Nothing to do: a commit is durable in PostgreSQL's WAL (and CHECKPOINT needs
        superuser rights)."""

    def reopen(self, busy_wait_s: float = 5.0) -> None:
        """Drop broken connections; the pool reconnects in the background."""
        if self._closed:
            raise DatabaseError("The database connection is closed.")
        self._pool.check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    @property
    def closed(self) -> bool:
        return self._closed


ENGINE = PostgresDatabase  # what Database(target) instantiates for this engine's targets
