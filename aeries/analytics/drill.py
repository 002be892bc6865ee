"""Drill-down (from a chart's model and bucket to its exchanges, and from an exchange to
everything about it) and the filtered data as CSV or Parquet.

The list of a chart point's exchanges reads ``db.analytics`` (the replica of a PostgreSQL store,
which has no request or answer text); an exchange's details and the exports read the store itself
(``read_arrow``: PostgreSQL over ADBC, typed as DuckDB gives them), filtered by the SQL here,
which runs on both engines."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from aeries.analytics.arena import preference_where
from aeries.analytics.filters import Filters, exchange_where, frame
from aeries.ids import is_id
from aeries.store.db import Database
from aeries.store.replica import read_arrow
from aeries.vocabulary import EXCHANGE_STATUSES

DRILL_LIMIT = 200
STATUSES = EXCHANGE_STATUSES
EXPORTS = ("exchanges", "signals", "votes", "preferences")


def exchange_list(
    db: Database,
    f: Filters,
    *,
    model: str | None = None,
    bucket_start: datetime | None = None,
    status: str | None = None,
    limit: int = DRILL_LIMIT,
) -> pd.DataFrame:
    """Exchanges behind a chart point (newest first): within the filters, optionally one
    model, one time bucket and one status."""
    where, params = exchange_where(f)
    if model:
        where += " AND e.model = ?"
        params.append(model)
    if bucket_start is not None:
        where += " AND e.started_at >= ? AND e.started_at < ?"
        params += [bucket_start, bucket_start + timedelta(seconds=f.bucket_seconds)]
    if status:
        where += " AND e.status = ?"
        params.append(status)
    # Top-N first, names after: joining a million rows to fetch 200 names would dominate.
    sql = f"""
        SELECT e.id, e.started_at, e.model, e.source, e.status, e.error_kind,
               e.ttft_ms, e.e2e_ms, e.tpot_ms, e.prompt_tokens, e.completion_tokens,
               u.name AS user, pe.name AS persona, e.brief_enabled AS brief
        FROM (
            SELECT * FROM exchanges e WHERE {where} ORDER BY e.started_at DESC LIMIT ?
        ) e
        LEFT JOIN users u ON u.id = e.user_id
        LEFT JOIN personas pe ON pe.id = e.persona_id
        ORDER BY e.started_at DESC"""
    return frame(db.analytics("exchanges", "users", "personas"), sql, [*params, limit])


@dataclass(frozen=True)
class ExchangeDetail:
    """Everything recorded about one exchange."""

    row: dict[str, Any]
    request: list[dict[str, Any]] | None
    params: dict[str, Any] | None
    signals: pd.DataFrame


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def exchange_detail(
    db: Database, exchange_id: str, users: tuple[str, ...] = ()
) -> ExchangeDetail | None:
    """The exchange with this id, or None if there is none (of these users, if given)."""
    if not is_id(exchange_id):
        return None
    params: list = [exchange_id]
    where = "true"
    if users:
        where = f"e.user_id IN ({', '.join('?' for _ in users)})"
        params += users
    rows = db.records(
        f"""SELECT e.*, u.name AS user_name, pe.name AS persona_name
            FROM exchanges e
            LEFT JOIN users u ON u.id = e.user_id
            LEFT JOIN personas pe ON pe.id = e.persona_id
            WHERE e.id = ? AND {where}""",
        params,
    )
    if not rows:
        return None
    row = rows[0]
    signals = read_arrow(
        db,
        """SELECT created_at, kind, name, value_num, value_text, extractor, extractor_version
           FROM signals WHERE exchange_id = ? ORDER BY created_at, kind, name""",
        [exchange_id],
    ).to_pandas()
    request = _json(row.get("request_messages"))
    return ExchangeDetail(
        row=row,
        request=request if isinstance(request, list) else None,
        params=_json(row.get("params")),
        signals=signals,
    )


# ---------------------------------------------------------------------------
# Exports


def _export_sql(what: str, f: Filters) -> tuple[str, list]:
    if what == "exchanges":
        where, params = exchange_where(f)
        return f"SELECT e.* FROM exchanges e WHERE {where} ORDER BY e.started_at", params
    if what == "signals":
        where, params = exchange_where(f)
        sql = f"""SELECT s.* FROM signals s
                  WHERE s.created_at >= ?
                    AND s.exchange_id IN (SELECT e.id FROM exchanges e WHERE {where})
                  ORDER BY s.created_at"""
        return sql, [f.start, *params]
    if what == "preferences":
        where, params = preference_where(f)
        return f"SELECT p.* FROM preferences p WHERE {where} ORDER BY p.created_at", params
    if what == "votes":
        where, params = preference_where(f)
        sql = f"""SELECT v.id, v.battle_id, v.user_id, v.outcome, v.best_position,
                         array_to_string(v.reasons, '; ') AS reasons, v.comment,
                         v.ms_to_vote, v.created_at, v.synthetic
                  FROM votes v
                  WHERE v.id IN (SELECT p.vote_id FROM preferences p WHERE {where})
                  ORDER BY v.created_at"""
        return sql, params
    raise ValueError(f"Unknown export {what!r}: use one of {', '.join(EXPORTS)}.")


def export_table(db: Database, what: str, f: Filters) -> pa.Table:
    """The filtered rows of ``what`` (exchanges, signals, votes, preferences) as Arrow."""
    sql, params = _export_sql(what, f)
    return read_arrow(db, sql, params)


def to_csv(table: pa.Table) -> bytes:
    """CSV with a header row (timestamps in ISO 8601, UTC)."""
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue()


def to_parquet(table: pa.Table) -> bytes:
    """Parquet (zstd) bytes."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
