"""The demo's driver: generate every table, then write it in one transaction, in time order.

Generation is vectorised with numpy; rows go in through Arrow (``INSERT … SELECT`` from
registered Arrow tables), sorted by time like a real log. A PostgreSQL store gets the very rows
a DuckDB file would: each table is built by the same SQL in an in-memory DuckDB migrated like a
file (so casts and defaults are DuckDB's), then streamed into PostgreSQL with ADBC's
``adbc_ingest`` (binary COPY), every table in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from aeries.demo.arena import build_arena, implicit_preferences
from aeries.demo.calls import DAY_US, US, Timeline
from aeries.demo.catalog import MODELS, PERSONAS
from aeries.demo.chat import build_chat, build_observer
from aeries.demo.signals import build_signals
from aeries.demo.world import World, make_world
from aeries.store.db import Database, DatabaseError
from aeries.store.facts import rebuild_facts
from aeries.store.migrations import migrate
from aeries.store.profile import rebuild_profile

ARENA_SHARE = 0.16  # of exchanges (two per battle)
OBSERVER_PER_CHAT = 0.9
# Insert order: time column per table (rows go in sorted by it, like a real log).
TIME_COLUMN = {
    "users": "created_at",
    "personas": "created_at",
    "conversations": "created_at",
    "messages": "created_at",
    "exchanges": "started_at",
    "signals": "created_at",
    "events": "created_at",
    "battles": "created_at",
    "battle_sides": "position",
    "votes": "created_at",
    "preferences": "created_at",
}
# Tables without a ``synthetic`` column: their demo rows hang off demo conversations.
NO_FLAG = {"messages", "events"}


class DemoError(RuntimeError):
    """The demo cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class DemoConfig:
    """How much to generate, over which period, from which seed."""

    exchanges: int = 100_000
    seed: int = 0
    weeks: int = 12
    signals: int | None = None  # at most this many (default: the recipe, ~5 per exchange)
    end: datetime | None = None  # default: now


@dataclass
class DemoReport:
    """Rows written per table, and how long it took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def split_exchanges(n: int) -> tuple[int, int, int]:
    """Chat exchanges, arena battles and observer exchanges adding up to ``n`` exchanges."""
    battles = int(n * ARENA_SHARE / 2)
    chat = max(round((n - 2 * battles) / (1 + OBSERVER_PER_CHAT)), 1)
    return chat, battles, n - 2 * battles - chat


def generate(cfg: DemoConfig) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as column parts (numpy arrays or Arrow arrays)."""
    if cfg.exchanges < 10:
        raise DemoError("Ask for at least 10 exchanges.")
    if cfg.weeks < 1:
        raise DemoError("The period must be at least one week.")
    end = cfg.end or datetime.now(UTC)
    end_us = int(end.timestamp() * US)
    timeline = Timeline(end_us - cfg.weeks * 7 * DAY_US, end_us)
    world = make_world(np.random.default_rng(cfg.seed), timeline, cfg.exchanges)
    n_chat, n_battles, n_observer = split_exchanges(cfg.exchanges)
    chat = build_chat(world, n_chat)
    observer = build_observer(world, chat, n_observer)
    arena = build_arena(world, n_battles)
    return {
        "users": [_users(world)],
        "personas": [_personas(world)],
        "conversations": [chat.tables["conversations"]],
        "messages": [chat.tables["messages"]],
        "exchanges": [chat.tables["exchanges"], observer, arena.tables["exchanges"]],
        "signals": build_signals(world, chat, arena, cfg.signals),
        "events": [chat.tables["events"]],
        "battles": [arena.tables["battles"]],
        "battle_sides": [arena.tables["battle_sides"]],
        "votes": [arena.tables["votes"]],
        "preferences": [arena.tables["preferences"], implicit_preferences(world, chat)],
    }


def _users(world: World) -> dict[str, Any]:
    return {
        "id": world.user_ids,
        "name": pa.array(world.user_names),
        "created_at": np.full(world.n_users, world.timeline.start_us),
    }


def _personas(world: World) -> dict[str, Any]:
    n = len(PERSONAS)
    return {
        "id": world.persona_ids,
        "name": pa.array([p.name for p in PERSONAS]),
        "system_prompt": pa.array([p.system_prompt for p in PERSONAS]),
        "model": pa.array([None, None, None, MODELS[2].name, None], pa.string()),
        "temperature": np.array([p.temperature for p in PERSONAS]),
        "thinking": np.array([p.thinking for p in PERSONAS]),
        "is_default": np.arange(n) == 0,
        # The researcher's personas: offered to everyone (a private one without an owner
        # would be seen by nobody).
        "visibility": pa.array(["shared"] * n),
        "created_at": np.full(n, world.timeline.start_us),
        "updated_at": np.full(n, world.timeline.start_us),
    }


def _arrow(part: dict[str, Any]) -> pa.Table:
    """Columns to an Arrow table: ``*_at`` int64 µs become UTC timestamps, NaN becomes null."""
    columns = {}
    for name, values in part.items():
        if isinstance(values, pa.Array):
            columns[name] = values
        elif name.endswith("_at"):
            columns[name] = pa.array(np.asarray(values, dtype=np.int64), pa.timestamp("us", "UTC"))
        else:
            columns[name] = pa.array(values, from_pandas=True)
    return pa.table(columns)


def _insert(con: duckdb.DuckDBPyConnection, table: str, parts: list[dict[str, Any]]) -> int:
    """Insert the parts (aligned by column name) in time order; returns rows written."""
    names = []
    for i, part in enumerate(parts):
        name = f"demo_part_{i}"
        con.register(name, _arrow(part))
        names.append(name)
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM {n}" for n in names)
    flag = "" if table in NO_FLAG else ", true AS synthetic"
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *{flag} FROM ({union}) ORDER BY {TIME_COLUMN[table]}"
    )
    for name in names:
        con.unregister(name)
    return sum(len(next(iter(p.values()))) for p in parts)


def _ingest(db: Database, tables: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Write the tables into a PostgreSQL store in one transaction: each built in a staging
    DuckDB with the store's schema, then streamed over ADBC (binary COPY)."""
    from adbc_driver_manager import Error as AdbcError
    from adbc_driver_postgresql import dbapi

    url = getattr(db, "url", None)
    if not isinstance(url, str):
        raise DemoError(f"{db.label} is not a store the demo can write.")
    stage = Database(":memory:")
    migrate(stage)
    rows: dict[str, int] = {}
    try:
        with dbapi.connect(url) as conn, stage.cursor() as con:
            with conn.cursor() as cur:
                for table, parts in tables.items():
                    rows[table] = _insert(con, table, parts)
                    reader = con.sql(f"SELECT * FROM {table}").to_arrow_reader(100_000)
                    cur.adbc_ingest(table, reader, mode="append")
                    con.execute(f"DELETE FROM {table}")  # free the staged copy
            conn.commit()
    except AdbcError as exc:
        raise DatabaseError(f"The demo could not be written to {db.label}: {exc}") from None
    finally:
        stage.close()
    return rows


def existing_synthetic(db: Database) -> int:
    """How many demo exchanges the database already holds."""
    row = db.one("SELECT count(*) FROM exchanges WHERE synthetic")
    return int(row[0]) if row else 0


# A study whose every participant is a synthetic account is a demo study (aeries.demo.study).
_SYNTHETIC_STUDIES = """SELECT e.study_id FROM enrolments e JOIN users u ON u.id = e.user_id
    GROUP BY e.study_id HAVING bool_and(u.synthetic)"""
_STUDY_TABLES = ("answers", "enrolment_steps", "enrolments", "study_versions")


def delete_synthetic(db: Database) -> None:
    """Remove every demo row (real rows stay), demo studies included."""
    with db.transaction() as cur:
        studies = [row[0] for row in cur.execute(_SYNTHETIC_STUDIES).fetchall()]
        if studies:
            for table in _STUDY_TABLES:
                cur.execute(
                    f"DELETE FROM {table} WHERE study_id IN (SELECT unnest(?::VARCHAR[]))",
                    [studies],
                )
            cur.execute("DELETE FROM studies WHERE id IN (SELECT unnest(?::VARCHAR[]))", [studies])
        for table in NO_FLAG:
            cur.execute(
                f"DELETE FROM {table} WHERE conversation_id IN "
                "(SELECT id FROM conversations WHERE synthetic)"
            )
        for table in TIME_COLUMN.keys() - NO_FLAG:
            cur.execute(f"DELETE FROM {table} WHERE synthetic")


def write_demo(db: Database, cfg: DemoConfig, *, replace: bool = False) -> DemoReport:
    """Migrate, then write a demo dataset in one transaction."""
    started = time.perf_counter()
    migrate(db)
    already = existing_synthetic(db)
    if already and not replace:
        raise DemoError(
            f"{db.label} already holds {already:,} demo exchanges. Use --replace to regenerate "
            "them, or --db to write another file."
        )
    if already:
        delete_synthetic(db)
    tables = generate(cfg)
    report = DemoReport()
    if db.dialect == "duckdb":
        with db.transaction() as con:
            for table, parts in tables.items():
                report.rows[table] = _insert(con, table, parts)
    else:
        report.rows = _ingest(db, tables)
    rebuild_profile(db)  # so the brief (and "What Aeries knows") works on demo users
    rebuild_facts(db)  # the tables the analytics feedback section reads
    db.checkpoint()
    report.seconds = time.perf_counter() - started
    return report


def run_demo(path: str | Path, cfg: DemoConfig, *, replace: bool = False) -> DemoReport:
    """Open ``path`` (raises DatabaseLocked if another process holds it) and write the demo."""
    db = Database(path)
    try:
        return write_demo(db, cfg, replace=replace)
    finally:
        db.close()
