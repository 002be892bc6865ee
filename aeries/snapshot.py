"""Parquet snapshot of every table, readable by a notebook while Aeries holds the database.

DuckDB lets one process open a file, so a second process cannot even open it read-only while
the app runs. ``export_snapshot`` first tries a read-only open; if the file is locked it copies
the database file and its write-ahead log (``.wal``) to a temporary directory and reads the copy.
DuckDB replays the copied WAL on open, so rows committed moments ago are included.

A copy taken while the owner writes could mix two states (a checkpoint rewrites the database
file and truncates the WAL), so the copy is only accepted if the database file did not change
while it was copied and the WAL only grew (it is append-only between checkpoints, and a torn
last record is skipped on replay, like after a crash). Otherwise it is retried; the opened copy
must also pass a read of every table. The snapshot is then a consistent state at the moment the
WAL was copied.

A PostgreSQL store (a ``postgresql://`` URL) is read over ADBC, every table in one REPEATABLE
READ transaction, so the files hold one committed state while the app processes go on writing;
each table is streamed through DuckDB, so its Parquet columns have the types a DuckDB file's
export has (JSON as text, TIMESTAMPTZ in UTC).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from aeries.config import is_postgres_url
from aeries.store.db import DatabaseError
from aeries.store.replica import pg_snapshot

MANIFEST = "manifest.json"
COPY_ATTEMPTS = 8
BATCH_ROWS = 100_000


class SnapshotError(RuntimeError):
    """The snapshot could not be taken; the message says why and what to do."""


@dataclass
class Snapshot:
    """What was written."""

    out_dir: Path
    source: Path | str  # the DuckDB file, or the PostgreSQL store (without its password)
    # "read_only" (file was free), "copy" (file was held by another process), or
    # "repeatable_read" (PostgreSQL: one transaction)
    method: str
    created_at: datetime
    tables: dict[str, int] = field(default_factory=dict)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def copy_database(path: Path, into: Path) -> Path:
    """Copy ``path`` and its WAL into ``into`` while another process may be writing them."""
    target = into / path.name
    for attempt in range(COPY_ATTEMPTS):
        db_before, wal_before = _stat(path), _stat(_wal(path))
        shutil.copyfile(path, target)
        if wal_before is not None:
            try:
                shutil.copyfile(_wal(path), _wal(target))
            except FileNotFoundError:  # checkpointed away meanwhile: retry
                wal_before = (-1, -1)
        elif _wal(target).exists():
            _wal(target).unlink()
        db_after, wal_after = _stat(path), _stat(_wal(path))
        wal_ok = wal_before == wal_after or (
            wal_before is not None and wal_after is not None and wal_after[0] >= wal_before[0]
        )
        if db_before == db_after and wal_ok and _opens(target):
            return target
        time.sleep(0.05 * (attempt + 1))
    raise SnapshotError(
        f"{path} kept changing while it was copied ({COPY_ATTEMPTS} attempts). The program "
        "holding it is writing heavily; try again in a moment."
    )


def _opens(path: Path) -> bool:
    """Whether the copy opens and every table can be read (a torn copy fails here)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        for (table,) in con.execute(_TABLES).fetchall():
            con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


_TABLES = """SELECT table_name FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
ORDER BY table_name"""


def _ident(name: str) -> str:
    """A catalogue table name quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _write_table(con: duckdb.DuckDBPyConnection, table: str, out: Path) -> int:
    """Stream one table into ``out`` as Parquet; returns its row count."""
    return _write_batches(
        con.sql(f"SELECT * FROM {_ident(table)}").to_arrow_reader(BATCH_ROWS), out
    )


def _write_batches(reader: pa.RecordBatchReader, out: Path) -> int:
    rows = 0
    tmp = out.with_name(out.name + ".part")
    with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    os.replace(tmp, out)
    return rows


def _open(path: Path, scratch: Path) -> tuple[duckdb.DuckDBPyConnection, str]:
    try:
        return duckdb.connect(str(path), read_only=True), "read_only"
    except duckdb.Error as exc:
        if not _is_lock_error(exc):
            raise SnapshotError(f"{path} could not be opened: {exc}") from None
    copy = copy_database(path, scratch)
    return duckdb.connect(str(copy), read_only=True), "copy"


def export_snapshot(db_path: str | Path, out_dir: str | Path) -> Snapshot:
    """Write ``<table>.parquet`` for every table and ``manifest.json`` into ``out_dir``, from
    a DuckDB file or a PostgreSQL store (its URL)."""
    if is_postgres_url(db_path):
        return _export_postgres(str(db_path), Path(out_dir))
    path, out = Path(db_path), Path(out_dir)
    if not path.is_file():
        raise SnapshotError(f"There is no database at {path}.")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aeries-snapshot-") as scratch:
        con, method = _open(path, Path(scratch))
        try:
            snap = Snapshot(out, path.resolve(), method, datetime.now(UTC))
            for (table,) in con.execute(_TABLES).fetchall():
                snap.tables[table] = _write_table(con, table, out / f"{table}.parquet")
        finally:
            con.close()
    _write_manifest(snap)
    return snap


_PG_TABLES = """SELECT table_name::text AS name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
ORDER BY table_name"""


def _export_postgres(url: str, out: Path) -> Snapshot:
    out.mkdir(parents=True, exist_ok=True)
    try:
        with pg_snapshot(url) as snap:
            done = Snapshot(out, snap.label, "repeatable_read", datetime.now(UTC))
            names = snap.arrow(_PG_TABLES).column("name").to_pylist()
            if not names:
                raise SnapshotError(f"{snap.label} has no tables: is it an Aeries store?")
            for table in names:
                reader = snap.stream(f"SELECT * FROM {_ident(table)}")
                done.tables[table] = _write_batches(reader, out / f"{table}.parquet")
    except DatabaseError as exc:
        raise SnapshotError(str(exc)) from None
    _write_manifest(done)
    return done


def _write_manifest(snap: Snapshot) -> None:
    manifest = {
        "created_at": snap.created_at.isoformat(),
        "source": str(snap.source),
        "method": snap.method,
        "duckdb_version": duckdb.__version__,
        "tables": {
            name: {"file": f"{name}.parquet", "rows": rows} for name, rows in snap.tables.items()
        },
    }
    (snap.out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
