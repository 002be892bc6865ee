"""Write ops as data: what they are, how a batch of them is applied, and their JSON codec
(how a spill file or the rejected file keeps them exactly)."""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from aeries.store.db import Dialect, Params, is_storage_error

_ARROW_MIN_ROWS = 8  # below this, executemany is faster than building an Arrow table


@dataclass(frozen=True)
class Insert:
    """Insert one row (column → value) into ``table``."""

    table: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Execute:
    """Run one parameterised statement (updates, upserts)."""

    sql: str
    params: Params = None


Op = Insert | Execute


def is_store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the store's fault (wait and retry) rather than the op's (set aside). A
    closed connection (one being reopened) is never the op's fault. PostgreSQL's errors are
    told apart by SQLSTATE (aeries.store.postgres.is_pg_store_failure)."""
    return is_storage_error(exc) or isinstance(exc, duckdb.ConnectionException)


def target(op: Op) -> str:
    """A short name for an op in logs: its table, or the start of its statement."""
    return op.table if isinstance(op, Insert) else op.sql.split("(")[0][:60]


# --- applying ----------------------------------------------------------------------------


def plan_groups(ops: Sequence[Op], singles: set[int], skip: set[int]) -> list[list[int]]:
    """Indexes of ``ops`` in apply order, grouped: consecutive inserts into one table with the
    same columns form one group, except indexes in ``singles``; ``skip`` is left out."""
    plan: list[list[int]] = []
    for i, op in enumerate(ops):
        if i in skip:
            continue
        last = plan[-1] if plan else None
        if (
            last is not None
            and i not in singles
            and last[0] not in singles
            and isinstance(op, Insert)
            and isinstance(head := ops[last[0]], Insert)
            and head.table == op.table
            and head.row.keys() == op.row.keys()
        ):
            last.append(i)
        else:
            plan.append([i])
    return plan


def group_ops(batch: Sequence[Op]) -> list[list[Op]]:
    """Consecutive inserts into the same table with the same columns form one group."""
    return [[batch[i] for i in idxs] for idxs in plan_groups(batch, set(), set())]


def apply_group(cur: Any, group: Sequence[Op], dialect: Dialect = "duckdb") -> None:
    """Run one group: an Execute alone, or inserts (from ``_ARROW_MIN_ROWS`` rows in bulk:
    an Arrow table on DuckDB, ``COPY`` on PostgreSQL)."""
    first = group[0]
    if isinstance(first, Execute):
        cur.execute(first.sql, first.params)
        return
    inserts: Sequence[Insert] = group  # type: ignore[assignment]
    columns = list(first.row.keys())
    if len(inserts) < _ARROW_MIN_ROWS:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        cur.executemany(
            f"INSERT INTO {first.table} ({names}) VALUES ({marks})",
            [[op.row[c] for c in columns] for op in inserts],
        )
        return
    if dialect == "postgres":
        cur.copy_rows(first.table, columns, [[op.row[c] for c in columns] for op in inserts])
        return
    table = pa.Table.from_pylist([op.row for op in inserts])
    cur.register("aeries_batch", table)
    try:
        cur.execute(f"INSERT INTO {first.table} BY NAME SELECT * FROM aeries_batch")
    finally:
        cur.unregister("aeries_batch")


# --- codec ---------------------------------------------------------------------------------
# JSON values stand for themselves; every JSON object is a tag ({"$datetime": ...}, {"$dict":
# {...}}), so a dict in a row can never be mistaken for a tagged value.


def encode_value(value: Any) -> Any:
    """A JSON-ready form of ``value`` that decode_value turns back into an equal value of the
    same type. Raises TypeError for a type it does not know."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with string keys can be kept in a spill file")
        return {"$dict": {k: encode_value(v) for k, v in value.items()}}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return encode_value(value.item())
    raise TypeError(f"a {type(value).__name__} cannot be kept in a spill file")


def decode_value(value: Any) -> Any:
    """The inverse of encode_value."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    if tag == "$datetime":
        return datetime.fromisoformat(inner)
    if tag == "$date":
        return date.fromisoformat(inner)
    if tag == "$float":
        return float(inner)
    if tag == "$timedelta":
        return timedelta(days=inner[0], seconds=inner[1], microseconds=inner[2])
    if tag == "$decimal":
        return Decimal(inner)
    if tag == "$uuid":
        return uuid.UUID(inner)
    if tag == "$bytes":
        return base64.b64decode(inner)
    if tag == "$tuple":
        return tuple(decode_value(v) for v in inner)
    if tag == "$dict":
        return {k: decode_value(v) for k, v in inner.items()}
    raise ValueError(f"unknown tag {tag!r} in a spill file")


def encode_op(op: Op) -> dict[str, Any]:
    """An op as a JSON-ready dict (raises TypeError for a value the codec does not know)."""
    if isinstance(op, Insert):
        row = {column: encode_value(v) for column, v in op.row.items()}
        return {"op": "insert", "table": op.table, "row": row}
    return {"op": "execute", "sql": op.sql, "params": encode_value(op.params)}


def decode_op(data: dict[str, Any]) -> Op:
    """The inverse of encode_op."""
    if data["op"] == "insert":
        row = {str(column): decode_value(v) for column, v in data["row"].items()}
        return Insert(str(data["table"]), row)
    if data["op"] == "execute":
        return Execute(str(data["sql"]), decode_value(data["params"]))
    raise ValueError(f"unknown op {data['op']!r} in a spill file")


def dumps(data: dict[str, Any]) -> str:
    # ASCII only: lone surrogates in a str survive, and a cut line stays decodable as text.
    return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
