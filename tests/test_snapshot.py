"""Parquet snapshots: every table round-trips, also while another process holds the database
(and keeps writing to it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aeries import snapshot
from aeries.__main__ import main
from aeries.snapshot import MANIFEST, SnapshotError, export_snapshot
from tests.analytics.test_analytics import EXCHANGES, build_db

_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
for sql in sys.argv[2:]:
    con.execute(sql)
print("ready", flush=True)
sys.stdin.read()
"""
_WRITE_FOREVER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '256KB'")  # checkpoints while we copy
con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(200000)")
print("ready", flush=True)
i = 200000
while True:
    con.execute("INSERT INTO t SELECT range, md5(range::VARCHAR) FROM range(?, ?)", [i, i + 500])
    i += 500
    time.sleep(0.002)
"""


@contextmanager
def holding(path: Path, *statements: str, script: str = _HOLD) -> Iterator[subprocess.Popen]:
    """Another process with ``path`` open (after running ``statements``) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path), *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"holder failed to start: {line!r}"
        yield proc
    finally:
        proc.stdin.close()
        if script is not _HOLD:
            proc.kill()
        proc.wait(timeout=30)


def assert_snapshot_equals_database(out: Path, db_path: Path) -> dict:
    """Every table of the database equals its Parquet file (both ways, with duplicates)."""
    manifest = json.loads((out / MANIFEST).read_text())
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert sorted(manifest["tables"]) == sorted(tables)
        for table in tables:
            file = str(out / f"{table}.parquet")
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            assert manifest["tables"][table]["rows"] == rows
            for a, b in ((f'"{table}"', "read_parquet(?)"), ("read_parquet(?)", f'"{table}"')):
                diff = con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})", [file]
                ).fetchone()[0]
                assert diff == 0, f"{table}: {diff} rows differ"
    finally:
        con.close()
    return manifest


def test_snapshot_of_a_free_database_round_trips(tmp_path):
    path = tmp_path / "a.duckdb"
    build_db(path).close()
    snap = export_snapshot(path, tmp_path / "out")
    assert snap.method == "read_only"
    manifest = assert_snapshot_equals_database(tmp_path / "out", path)
    assert manifest["source"] == str(path.resolve()) and manifest["created_at"]
    assert manifest["tables"]["exchanges"]["rows"] == len(EXCHANGES)
    frame = pd.read_parquet(tmp_path / "out" / "exchanges.parquet")  # what a notebook does
    assert sorted(frame["ttft_ms"].dropna()) == sorted(r[8] for r in EXCHANGES if r[8] is not None)


def test_snapshot_while_another_process_holds_the_database(tmp_path):
    path = tmp_path / "a.duckdb"
    build_db(path).close()
    recent = [
        "INSERT INTO users (id, name, created_at) VALUES ('u-late', 'carol', now())",
        "UPDATE exchanges SET response_text = 'edited' WHERE model = 'm-b'",
    ]
    with holding(path, *recent):
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(path), read_only=True)  # why a copy is needed
        snap = export_snapshot(path, tmp_path / "out")
        assert snap.method == "copy"
    users = pd.read_parquet(tmp_path / "out" / "users.parquet")
    assert "carol" in set(users["name"])  # committed moments ago, still only in the WAL
    answers = pd.read_parquet(tmp_path / "out" / "exchanges.parquet")
    assert set(answers.loc[answers["model"] == "m-b", "response_text"]) == {"edited"}
    assert_snapshot_equals_database(tmp_path / "out", path)  # the holder has closed


def test_snapshot_is_consistent_while_the_holder_keeps_writing(tmp_path):
    path = tmp_path / "busy.duckdb"
    with holding(path, script=_WRITE_FOREVER):
        for attempt in range(3):
            out = tmp_path / f"out{attempt}"
            snap = export_snapshot(path, out)
            t = pd.read_parquet(out / "t.parquet")
            assert snap.method == "copy" and len(t) >= 200_000
            # one consistent state: every committed batch whole, none twice
            assert t["i"].is_unique and t["i"].max() == len(t) - 1


def test_copy_is_retried_when_the_file_changes_while_copied(tmp_path, monkeypatch):
    path = tmp_path / "a.duckdb"
    build_db(path).close()
    real_copy = shutil.copyfile
    copies: list[str] = []

    def copy_then_write(src, dst, **kw):
        out = real_copy(src, dst, **kw)
        copies.append(Path(src).name)
        if len(copies) == 1:  # the owner checkpoints while we copy: the database file changes
            stat = os.stat(src)
            os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return out

    monkeypatch.setattr(snapshot.shutil, "copyfile", copy_then_write)
    (tmp_path / "scratch").mkdir()
    copy = snapshot.copy_database(path, tmp_path / "scratch")
    assert copies == ["a.duckdb", "a.duckdb"]  # the torn first copy was not used
    con = duckdb.connect(str(copy), read_only=True)
    assert con.execute("SELECT count(*) FROM exchanges").fetchone()[0] == len(EXCHANGES)
    con.close()

    def always_changing(src, dst, **kw):
        out = real_copy(src, dst, **kw)
        stat = os.stat(src)
        os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return out

    monkeypatch.setattr(snapshot.shutil, "copyfile", always_changing)
    monkeypatch.setattr(snapshot.time, "sleep", lambda s: None)
    with pytest.raises(SnapshotError, match="kept changing"):
        snapshot.copy_database(path, tmp_path / "scratch")


def test_cli_export_and_its_messages(tmp_path, capsys):
    path = tmp_path / "a.duckdb"
    build_db(path).close()
    assert main(["export", "--out", str(tmp_path / "out"), "--db", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "exchanges" in printed and f"{len(EXCHANGES):,}" in printed
    assert (tmp_path / "out" / "exchanges.parquet").exists()
    assert main(["export", "--out", str(tmp_path / "o2"), "--db", str(tmp_path / "no.duckdb")]) == 2
    assert "There is no database" in capsys.readouterr().err
    with pytest.raises(SnapshotError, match="no database"):
        export_snapshot(tmp_path / "missing.duckdb", tmp_path / "o3")


# ---------------------------------------------------------------------------
# A PostgreSQL store: every table over ADBC in one REPEATABLE READ transaction


def test_snapshot_of_a_postgresql_store_equals_the_same_duckdb_file(tmp_path, pg_migrated_url):
    path = tmp_path / "a.duckdb"
    build_db(path).close()
    build_db(pg_migrated_url, local_base=tmp_path).close()
    snap = export_snapshot(pg_migrated_url, tmp_path / "pg")
    assert snap.method == "repeatable_read" and str(snap.source).startswith("postgresql://")
    manifest = json.loads((tmp_path / "pg" / MANIFEST).read_text())
    assert manifest["method"] == "repeatable_read" and "@" not in manifest["source"]
    export_snapshot(path, tmp_path / "duck")
    duck = json.loads((tmp_path / "duck" / MANIFEST).read_text())
    assert manifest["tables"] == duck["tables"]  # the same tables, with the same row counts
    for table in manifest["tables"]:
        a, b = (pq.read_table(tmp_path / side / f"{table}.parquet") for side in ("pg", "duck"))
        assert a.schema == b.schema, table  # JSON as text, TIMESTAMPTZ in UTC, VARCHAR[] lists
        if table != "schema_migrations":  # applied when each store was made
            assert sorted(a.to_pylist(), key=repr) == sorted(b.to_pylist(), key=repr), table


def test_a_postgresql_snapshot_is_one_state_while_others_write(
    tmp_path, pg_migrated_url, monkeypatch
):
    db = build_db(pg_migrated_url, local_base=tmp_path)
    written = []
    real = snapshot._write_batches

    def write_then_insert(reader, out):
        rows = real(reader, out)
        written.append(out.stem)
        if len(written) == 1:  # after the first table, another session adds a user
            db.execute(
                "INSERT INTO users (id, name, created_at) VALUES (?, 'late', now())",
                ["00000000-0000-7000-8000-00000000dead"],
            )
        return rows

    monkeypatch.setattr(snapshot, "_write_batches", write_then_insert)
    snap = export_snapshot(pg_migrated_url, tmp_path / "out")
    assert written[0] < "users" and snap.tables["users"] == 2
    names = pd.read_parquet(tmp_path / "out" / "users.parquet")["name"]
    assert sorted(names) == ["alice", "bob"]
    assert db.one("SELECT count(*) FROM users") == (3,)
    db.close()


def test_cli_exports_a_postgresql_store(tmp_path, capsys, pg_migrated_url):
    build_db(pg_migrated_url, local_base=tmp_path).close()
    assert main(["export", "--out", str(tmp_path / "out"), "--db", pg_migrated_url]) == 0
    printed = capsys.readouterr().out
    assert "in one transaction" in printed and f"{len(EXCHANGES):,}" in printed
    assert (tmp_path / "out" / "exchanges.parquet").exists()
    bad = pg_migrated_url.rsplit("/", 1)[0] + "/no_such_database"
    assert main(["export", "--out", str(tmp_path / "o2"), "--db", bad]) == 2
    assert "could not be read" in capsys.readouterr().err
