"""Helpers of the store tests: the schema of a database, as plain data to compare."""

from __future__ import annotations

from aeries.store.db import Database

# (column, type, nullable, default) in the table's column order; DuckDB's own words for types
# and defaults.
Column = tuple[str, str, bool, str | None]
# (constraint, columns) for primary keys and unique constraints.
Key = tuple[str, tuple[str, ...]]


def schema_columns(db: Database) -> dict[str, list[Column]]:
    """Every table of the database with its columns."""
    tables: dict[str, list[Column]] = {}
    for table, column, kind, nullable, default in db.rows(
        """SELECT table_name, column_name, data_type, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = 'main'
           ORDER BY table_name, ordinal_position"""
    ):
        tables.setdefault(table, []).append((column, kind, nullable == "YES", default))
    return tables


def schema_keys(db: Database) -> dict[str, list[Key]]:
    """Every table's primary key and unique constraints."""
    keys: dict[str, list[Key]] = {}
    for table, kind, columns in db.rows(
        """SELECT table_name, constraint_type, constraint_column_names
           FROM duckdb_constraints()
           WHERE schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')
           ORDER BY table_name, constraint_type, constraint_text"""
    ):
        keys.setdefault(table, []).append((kind, tuple(columns)))
    return keys
