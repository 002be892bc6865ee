"""The per-table parameterised queries of the study bundle: for each table a study touches, the
SELECT of the study's rows of it (every query takes the study's id as ``$study``; the table
names are these constants), and ``bundle_tables``, which runs them in one transaction and reads
each column's DuckDB type.

On a PostgreSQL store the queries (which both engines accept) read PostgreSQL itself in one
REPEATABLE READ transaction over ADBC, not the analytics replica, which leaves out the text a
bundle must hold; the rows are typed through DuckDB, so the codebook names the same types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from aeries.store.db import Database
from aeries.store.replica import pg_snapshot

# The participants' accounts and their conversations (a study account is made for one study,
# so all of its conversations belong to the study; enrolments.conversation_id is the latest).
_PARTICIPANTS = "SELECT user_id FROM enrolments WHERE study_id = $study"
_CONVERSATIONS = (
    "SELECT id FROM conversations WHERE user_id IN (" + _PARTICIPANTS + ") "
    "UNION SELECT conversation_id FROM enrolments "
    "WHERE study_id = $study AND conversation_id IS NOT NULL"
)
_BATTLES = "SELECT id FROM battles WHERE study_id = $study"

# Table -> the query selecting the study's rows of it ($study: the study's id), in file order.
TABLE_QUERIES: dict[str, str] = {
    "studies": "SELECT * FROM studies WHERE id = $study",
    "study_versions": "SELECT * FROM study_versions WHERE study_id = $study ORDER BY version",
    "enrolments": "SELECT * FROM enrolments WHERE study_id = $study ORDER BY started_at, id",
    "enrolment_steps": (
        "SELECT * FROM enrolment_steps WHERE study_id = $study ORDER BY enrolment_id, entered_at"
    ),
    "answers": "SELECT * FROM answers WHERE study_id = $study ORDER BY enrolment_id, item_id",
    "exchanges": "SELECT * FROM exchanges WHERE study_id = $study ORDER BY started_at, id",
    "signals": "SELECT * FROM signals WHERE study_id = $study ORDER BY created_at, id",
    "conversations": (
        "SELECT * FROM conversations WHERE id IN (" + _CONVERSATIONS + ") ORDER BY created_at, id"
    ),
    "messages": (
        "SELECT * FROM messages WHERE conversation_id IN (" + _CONVERSATIONS + ") "
        "ORDER BY conversation_id, created_at, id"
    ),
    "battles": "SELECT * FROM battles WHERE study_id = $study ORDER BY created_at, id",
    "battle_sides": (
        "SELECT * FROM battle_sides WHERE battle_id IN (" + _BATTLES + ") "
        "ORDER BY battle_id, position"
    ),
    "votes": "SELECT * FROM votes WHERE study_id = $study ORDER BY created_at, id",
    "preferences": (
        "SELECT * FROM preferences WHERE battle_id IN (" + _BATTLES + ") "
        "OR conversation_id IN (" + _CONVERSATIONS + ") ORDER BY created_at, id"
    ),
    "users": (
        "SELECT id, name, origin, created_at FROM users WHERE id IN (" + _PARTICIPANTS + ") "
        "ORDER BY created_at, id"
    ),
}


@dataclass(frozen=True)
class BundledTable:
    """One table as bundled: its rows and each column's DuckDB type."""

    name: str
    rows: pa.Table
    types: dict[str, str]


def bundle_tables(db: Database, study_id: str) -> list[BundledTable]:
    """The study's rows of each bundled table, with the column types DuckDB reports; read in
    one transaction, so the tables agree with each other while the writer goes on writing."""
    if db.dialect == "duckdb":
        with db.transaction() as cur:
            return _read(lambda sql: cur.sql(sql, params={"study": study_id}))
    with pg_snapshot(db) as snap:
        # $study becomes one positional ? per use, each given the study's id.
        return _read(
            lambda sql: snap.relation(sql.replace("$study", "?"), [study_id] * sql.count("$study"))
        )


def _read(run: Callable[[str], duckdb.DuckDBPyRelation]) -> list[BundledTable]:
    tables = []
    for name, sql in TABLE_QUERIES.items():
        relation = run(sql)
        types = {
            column: str(kind).replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
            for column, kind in zip(relation.columns, relation.types, strict=True)
        }
        tables.append(BundledTable(name, relation.to_arrow_table(), types))
    return tables
