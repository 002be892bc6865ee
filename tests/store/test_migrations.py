"""Migrations: each applied once and recorded, in one transaction each; every released version
upgrades in place to the newest without losing rows; a database Aeries did not make (or a newer
Aeries made) is refused; migration 5's frozen backfill agrees with ``rebuild_facts``."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from aeries.ids import new_id, utcnow
from aeries.store import migrations as mig
from aeries.store.db import Database, store_errors
from aeries.store.facts import rebuild_facts
from tests.store.helpers import schema_columns, schema_keys

T0 = utcnow().replace(microsecond=0) - timedelta(days=1)


def test_migrations_apply_once_and_are_recorded(db):
    assert mig.migrate(db) == []
    versions = mig.applied_versions(db)
    assert versions == [m.version for m in mig.MIGRATIONS]


def test_old_database_upgrades_in_place_without_losing_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    old = Database(path)
    assert mig.migrate(old, mig.MIGRATIONS[:1]) == [1]
    uid = new_id()
    old.execute("INSERT INTO users (id, name, created_at) VALUES (?, 'ada', ?)", [uid, utcnow()])
    old.execute(
        "INSERT INTO exchanges (id, source, model, status, started_at) VALUES (?, ?, ?, ?, ?)",
        [new_id(), "chat", "m", "ok", utcnow()],
    )
    old.close()
    upgraded = Database(path)
    applied = mig.migrate(upgraded)
    assert applied == [m.version for m in mig.MIGRATIONS[1:]]
    assert upgraded.one("SELECT id FROM users WHERE name = 'ada'") == (uid,)
    assert upgraded.one("SELECT count(*) FROM exchanges") == (1,)
    upgraded.close()


def test_failed_migration_rolls_back_and_is_not_recorded(db):
    broken = mig.Migration(999, "broken", ("CREATE TABLE fine (x INT)", "NOT SQL"))
    with pytest.raises(store_errors()):
        mig.migrate(db, [*mig.migrations_for(db), broken])
    assert 999 not in mig.applied_versions(db)
    assert db.one("SELECT count(*) FROM information_schema.tables WHERE table_name='fine'") == (0,)


def test_a_foreign_duckdb_file_is_refused_untouched(tmp_path):
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE users (handle VARCHAR, karma INT)")
    con.execute("INSERT INTO users VALUES ('x', 1)")
    con.close()
    db = Database(path)
    with pytest.raises(mig.NotAeriesDatabase, match="not made by Aeries"):
        mig.migrate(db)
    assert db.rows("SELECT * FROM users") == [("x", 1)]  # nothing added or changed
    assert db.one("SELECT count(*) FROM information_schema.tables") == (1,)
    db.close()


def test_a_newer_aeries_database_is_refused(db):
    db.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with pytest.raises(mig.NotAeriesDatabase, match="newer Aeries"):
        mig.migrate(db)


def test_one_module_per_migration_named_by_its_version() -> None:
    modules = sorted(
        info.name
        for info in pkgutil.iter_modules(mig.__path__)
        if re.fullmatch(r"m\d{3}_\w+", info.name)
    )
    listed = [importlib.import_module(f"{mig.__name__}.{name}").MIGRATION for name in modules]
    assert tuple(listed) == mig.MIGRATIONS  # every module listed, in order, none twice
    assert [int(name[1:4]) for name in modules] == [m.version for m in mig.MIGRATIONS]
    assert [m.version for m in mig.MIGRATIONS] == list(range(1, len(mig.MIGRATIONS) + 1))


def _sample(table: str, column: str, kind: str) -> Any:
    """A value of the column's type that says where it came from."""
    values: dict[str, Any] = {
        "VARCHAR": f"{table}.{column}",
        "INTEGER": 7,
        "DOUBLE": 0.25,
        "BOOLEAN": True,
        "TIMESTAMP WITH TIME ZONE": T0,
        "JSON": json.dumps({"from": f"{table}.{column}"}),
        "VARCHAR[]": [f"{table}.{column}", "second"],
    }
    return values[kind]


def _fill_every_table(db: Database) -> dict[str, tuple[list[str], tuple[Any, ...]]]:
    """One row in every table but the ledger, every column set; the columns and the row."""
    seeded = {}
    for table, columns in schema_columns(db).items():
        if table == "schema_migrations":
            continue
        names = [name for name, _, _, _ in columns]
        row = tuple(_sample(table, name, kind) for name, kind, _, _ in columns)
        marks = ", ".join("?" for _ in names)
        db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", list(row))
        seeded[table] = (names, row)
    return seeded


@pytest.mark.parametrize("version", [m.version for m in mig.MIGRATIONS[:-1]])
def test_every_released_version_upgrades_to_the_newest_keeping_its_rows(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / f"v{version}.duckdb"
    old = Database(path)
    assert mig.migrate(old, mig.MIGRATIONS[:version]) == list(range(1, version + 1))
    seeded = _fill_every_table(old)
    old.close()

    upgraded = Database(path)
    applied = mig.migrate(upgraded)
    assert applied == [m.version for m in mig.MIGRATIONS if m.version > version]
    for table, (names, row) in seeded.items():
        assert upgraded.rows(f"SELECT {', '.join(names)} FROM {table}") == [row], table
    assert mig.applied_versions(upgraded) == [m.version for m in mig.MIGRATIONS]
    fresh = Database(tmp_path / "fresh.duckdb")
    mig.migrate(fresh)
    assert schema_columns(upgraded) == schema_columns(fresh)  # same as a new database
    assert schema_keys(upgraded) == schema_keys(fresh)
    fresh.close()
    upgraded.close()


SCORES = """SELECT exchange_id, user_id, started_at, model, source, persona_id, brief_enabled,
                   thumb, thumb_at, satisfaction_sum, satisfaction_n, sentiment_sum, sentiment_n
            FROM answer_scores ORDER BY exchange_id"""
NOTES = """SELECT signal_id, created_at, user_id, exchange_id, model, source, persona_id,
                  brief_enabled, name, value FROM learned_notes ORDER BY signal_id"""
TTFTS = "SELECT id, ttft_a_ms, ttft_b_ms FROM preferences ORDER BY id"


def _log_before_migration_5(db: Database) -> None:
    """A log written at version 4 with every case the backfill tells apart."""
    x, y, z, gone = new_id(), new_id(), new_id(), new_id()
    for eid, user, persona, brief, ttft, minutes in (
        (x, "u1", "p1", True, 120.0, 0),
        (y, "u2", None, False, 340.0, 1),
        (z, None, None, None, None, 2),
    ):
        db.execute(
            """INSERT INTO exchanges (id, user_id, source, model, persona_id, brief_enabled,
                   status, started_at, ttft_ms) VALUES (?, ?, 'chat', 'm', ?, ?, 'ok', ?, ?)""",
            [eid, user, persona, brief, T0 + timedelta(minutes=minutes), ttft],
        )
    signals: list[tuple[str | None, str, str, float | None, str | None, int]] = [
        # a changed mind, written out of order: the latest thumb wins
        (x, "feedback", "thumbs", 0.0, None, 10),
        (x, "feedback", "thumbs", 1.0, None, 30),
        (x, "feedback", "thumbs", 0.0, None, 20),
        (x, "observer", "satisfaction", 0.5, None, 5),
        (x, "observer", "satisfaction", 0.75, None, 6),  # observed twice
        (x, "observer", "sentiment", -0.5, None, 5),
        (y, "observer", "sentiment", 0.25, None, 7),
        (y, "feedback", "thumbs", None, None, 8),  # no value: not a score
        (y, "feedback", "comment", None, "nice", 8),  # not a score
        (z, "observer", "satisfaction", 0.1, None, 9),
        (gone, "feedback", "thumbs", 1.0, None, 9),  # its exchange is not in the log
        (x, "observer", "topic", None, "owls", 5),
        (x, "observer", "preference", None, "verbosity=concise", 5),
        (x, "observer", "intent", None, "question", 5),  # not a note
        (y, "observer", "topic", None, None, 7),  # no text: not a note
        (None, "observer", "topic", None, "cats", 11),  # about no exchange: a note all the same
        (gone, "observer", "preference", None, "tone=warm", 12),
        (x, "heuristic", "answer_chars", 42.0, None, 5),
    ]
    for about, kind, name, num, text, minutes in signals:
        db.execute(
            """INSERT INTO signals (id, user_id, exchange_id, kind, name, value_num, value_text,
                   created_at) VALUES (?, 'u1', ?, ?, ?, ?, ?, ?)""",
            [new_id(), about, kind, name, num, text, T0 + timedelta(minutes=minutes)],
        )
    for side_a, side_b in ((x, y), (y, gone), (None, None), (z, x)):
        db.execute(
            """INSERT INTO preferences (id, kind, source, contestant_a, contestant_b, model_a,
                   model_b, exchange_a, exchange_b, winner, created_at)
               VALUES (?, 'explicit', 'arena', 'A', 'B', 'm', 'm', ?, ?, 'a', ?)""",
            [new_id(), side_a, side_b, T0],
        )


def test_migration_5_backfill_agrees_with_rebuild_facts(tmp_path: Path) -> None:
    # Migration 5 keeps a frozen copy of the backfill; rebuild_facts has its own. On the same
    # log they must produce the same rows (if rebuild_facts has to change with a later schema,
    # this says whether it still means what migration 5 meant).
    path = tmp_path / "v4.duckdb"
    old = Database(path)
    mig.migrate(old, mig.MIGRATIONS[:4])
    _log_before_migration_5(old)
    old.close()
    db = Database(path)
    assert 5 in mig.migrate(db)
    migrated = (db.rows(SCORES), db.rows(NOTES), db.rows(TTFTS))
    assert len(migrated[0]) == 3 and len(migrated[1]) == 4  # the cases above, not nothing
    first = next(r for r in migrated[0] if r[4] == "chat" and r[1] == "u1")
    assert first[7:] == (1.0, T0 + timedelta(minutes=30), 1.25, 2, -0.5, 1)  # the latest thumb
    assert sorted((r[1:] for r in migrated[2]), key=repr) == sorted(
        [(120.0, 340.0), (340.0, None), (None, None), (None, 120.0)], key=repr
    )
    db.execute("UPDATE preferences SET ttft_a_ms = NULL, ttft_b_ms = NULL")
    rebuild_facts(db)
    assert (db.rows(SCORES), db.rows(NOTES), db.rows(TTFTS)) == migrated
    db.close()
