"""A study's data as one download: the rows made in it, its versions, a codebook and a notebook
that recomputes the outcome table without Aeries.

``study_bundle(db, study_id)`` returns a zip:

- ``tables/<table>.parquet``: the study's rows of every table it touches — its own tables
  (studies, study_versions, enrolments, enrolment_steps, answers), the exchanges, signals,
  arena rounds and votes made in it (with the rounds' sides and the preferences they gave),
  the conversations and messages of its participants, and the participants' user rows (id,
  name, origin, created_at; nobody else's);
- ``versions/v<N>.toml`` (each version's file as written) and ``versions/hashes.json`` (each
  version's ``config_hash``, the hash every row made under it records);
- ``codebook.md``: every column of every bundled table with its type (read from the database,
  so it cannot drift) and meaning, and every questionnaire item of every version with its coded
  values;
- ``analysis.ipynb``: reads the Parquet files with pandas from its own folder and recomputes
  the outcome table with scipy, by the rules of aeries/studies/report.py and outcomes.py, then
  writes ``outcomes.csv``;
- ``manifest.json``: what was bundled, when, and how many rows each table has.

Every query takes the study's id as a parameter; table names come from the constants in
``tables.py``. The package: ``tables`` (the per-table queries), ``meanings`` (what tables and
columns mean), ``codebook`` (the codebook Markdown), ``notebook`` (the analysis notebook);
this module puts them into the zip.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aeries.store.db import Database
from aeries.store.studies import StudyVersion, get_study, list_versions
from aeries.studies.bundle.codebook import codebook, coded_values
from aeries.studies.bundle.meanings import COLUMN_MEANINGS, SIGNAL_TABLE, TABLE_MEANINGS
from aeries.studies.bundle.notebook import analysis_notebook
from aeries.studies.bundle.tables import TABLE_QUERIES, BundledTable, bundle_tables
from aeries.studies.spec import Study, StudyFileError, parse_study

__all__ = [
    "BUNDLE_FORMAT",
    "COLUMN_MEANINGS",
    "SIGNAL_TABLE",
    "TABLE_MEANINGS",
    "TABLE_QUERIES",
    "BundledTable",
    "StudyNotFound",
    "analysis_notebook",
    "bundle_tables",
    "codebook",
    "coded_values",
    "study_bundle",
]

BUNDLE_FORMAT = 1


class StudyNotFound(LookupError):
    """There is no study with this id."""


def study_bundle(db: Database, study_id: str) -> bytes:
    """The zip a researcher downloads for ``study_id`` (see the module doc)."""
    record = get_study(db, study_id)
    if record is None:
        raise StudyNotFound(f"There is no study {study_id!r}.")
    made_at = datetime.now(UTC)
    tables = bundle_tables(db, study_id)
    versions = list_versions(db, study_id)
    studies = {v.version: _parsed(v) for v in versions}
    current = studies.get(record.current_version)
    buffer = io.BytesIO()
    stamp = made_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:

        def put(path: str, data: bytes, compress: bool = True) -> None:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)

        for table in tables:
            # Parquet is compressed already (zstd): stored as it is.
            put(f"tables/{table.name}.parquet", _parquet(table.rows), compress=False)
        for v in versions:
            put(f"versions/v{v.version}.toml", v.config_toml.encode("utf-8"))
        put("versions/hashes.json", _json(_hashes(versions)))
        put("codebook.md", codebook(record.title, study_id, tables, versions, studies).encode())
        reference = current.reference if current else None
        put("analysis.ipynb", analysis_notebook(study_id, reference).encode("utf-8"))
        manifest = {
            "format": BUNDLE_FORMAT,
            "study_id": study_id,
            "title": record.title,
            "status": record.status,
            "current_version": record.current_version,
            "made_at": made_at.isoformat(),
            "tables": {
                t.name: {"file": f"tables/{t.name}.parquet", "rows": t.rows.num_rows}
                for t in tables
            },
        }
        put("manifest.json", _json(manifest))
    return buffer.getvalue()


def _parquet(rows: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(rows, out, compression="zstd")
    return out.getvalue()


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _hashes(versions: Sequence[StudyVersion]) -> dict[str, dict[str, Any]]:
    return {
        f"v{v.version}.toml": {
            "version": v.version,
            "config_hash": v.config_hash,
            "created_at": v.created_at.isoformat(),
            "frozen_at": v.frozen_at.isoformat() if v.frozen_at else None,
        }
        for v in versions
    }


def _parsed(version: StudyVersion) -> Study | None:
    """The version's study, or None if its text no longer parses (a stored file is kept as it
    was written; the codebook then says so)."""
    try:
        return parse_study(version.config_toml)
    except StudyFileError:
        return None
