"""Analytics queries as the page calls them: cached briefly, keyed by database and filters.

A widget change reruns the whole page; the cache keeps that from re-running every query. Data is
at most ``TTL_S`` old; the Refresh button clears it.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from aeries import analytics as A
from aeries.analytics import arena as P
from aeries.analytics import feedback as S
from aeries.runtime import Runtime
from aeries.store.db import Database

TTL_S = 60
_cache = st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=512)


def _key(rt: Runtime) -> str:
    return str(rt.settings.db_path)


def clear() -> None:
    """Forget every cached result (Refresh)."""
    for fn in _CACHED:
        fn.clear()


@_cache
def _span(_db: Database, key: str) -> tuple[datetime, datetime] | None:
    return A.data_range(_db)


@_cache
def _has_rows(_db: Database, key: str, table: str) -> bool:
    return A.has_rows(_db, table)


@_cache
def _models(_db: Database, key: str, users: tuple[str, ...]) -> list[str]:
    return A.model_options(_db, users)


@_cache
def _personas(_db: Database, key: str) -> dict[str, str]:
    by_id = A.persona_options(_db)
    names = list(by_id.values())
    return {
        (name if names.count(name) == 1 else f"{name} · {pid[:8]}"): pid
        for pid, name in by_id.items()
    }


@_cache
def _users(_db: Database, key: str) -> dict[str, str]:
    return {name: uid for uid, name in A.user_options(_db).items()}


@_cache
def _latency(_db: Database, key: str, f: A.Filters, metric: str, table: bool) -> pd.DataFrame:
    if table:
        return A.latency_table(_db, f, metric)
    return A.latency_trend(_db, f, metric)


@_cache
def _volume(_db: Database, key: str, f: A.Filters) -> pd.DataFrame:
    return A.volume_trend(_db, f)


@_cache
def _ttft_parts(_db: Database, key: str, f: A.Filters) -> pd.DataFrame:
    return A.ttft_breakdown(_db, f)


@_cache
def _signals(_db: Database, key: str, f: A.Filters) -> dict[str, pd.DataFrame]:
    return S.signal_summary(_db, f)


@_cache
def _learned(_db: Database, key: str, f: A.Filters) -> pd.DataFrame:
    return S.top_learned(_db, f)


@_cache
def _prefs(_db: Database, key: str, f: A.Filters, bucket: str) -> pd.DataFrame:
    return P.preference_counts(_db, f, bucket)


@_cache
def _ratings(
    _db: Database, key: str, f: A.Filters, implicit: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    prefs = P.select_kinds(_prefs(_db, key, f, P.rating_period(f)), implicit)
    return P.leaderboard(prefs.drop(columns=["bucket"])), P.rating_trend(prefs)


@_cache
def _win_matrix(_db: Database, key: str, f: A.Filters, implicit: bool) -> pd.DataFrame:
    return P.win_matrix(_db, f, implicit)


@_cache
def _position(_db: Database, key: str, f: A.Filters, implicit: bool) -> pd.DataFrame:
    return P.position_bias(_db, f, implicit)


@_cache
def _latency_pref(_db: Database, key: str, f: A.Filters, implicit: bool) -> pd.DataFrame:
    return P.latency_preference(_db, f, implicit)


_CACHED = (
    _span,
    _has_rows,
    _models,
    _personas,
    _users,
    _latency,
    _volume,
    _signals,
    _learned,
    _prefs,
    _ratings,
    _win_matrix,
    _position,
    _latency_pref,
)


def span(rt: Runtime) -> tuple[datetime, datetime] | None:
    """First and last exchange time."""
    return _span(rt.db, _key(rt))


def table_has_rows(rt: Runtime, table: str) -> bool:
    """Whether the table holds any row (for telling "none yet" from "none match")."""
    return _has_rows(rt.db, _key(rt), table)


def models(rt: Runtime, users: tuple[str, ...] = ()) -> list[str]:
    """Models in the log (of these users)."""
    return _models(rt.db, _key(rt), users)


def personas(rt: Runtime) -> dict[str, str]:
    """Persona display name → id (names made unique)."""
    return _personas(rt.db, _key(rt))


def users(rt: Runtime) -> dict[str, str]:
    """User name → id."""
    return _users(rt.db, _key(rt))


def latency_trend(rt: Runtime, f: A.Filters, metric: str) -> pd.DataFrame:
    """See aeries.analytics.latency_trend."""
    return _latency(rt.db, _key(rt), f, metric, False)


def latency_table(rt: Runtime, f: A.Filters, metric: str) -> pd.DataFrame:
    """See aeries.analytics.latency_table."""
    return _latency(rt.db, _key(rt), f, metric, True)


def volume(rt: Runtime, f: A.Filters) -> pd.DataFrame:
    """See aeries.analytics.volume_trend."""
    return _volume(rt.db, _key(rt), f)


def ttft_breakdown(rt: Runtime, f: A.Filters) -> pd.DataFrame:
    """See aeries.analytics.ttft_breakdown."""
    return _ttft_parts(rt.db, _key(rt), f)


def signals(rt: Runtime, f: A.Filters) -> dict[str, pd.DataFrame]:
    """See aeries.analytics.feedback.signal_summary."""
    return _signals(rt.db, _key(rt), f)


def learned(rt: Runtime, f: A.Filters) -> pd.DataFrame:
    """See aeries.analytics.feedback.top_learned."""
    return _learned(rt.db, _key(rt), f)


def ratings(rt: Runtime, f: A.Filters, implicit: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaderboard and per-period ratings (see aeries.analytics.arena)."""
    return _ratings(rt.db, _key(rt), f, implicit)


def win_matrix(rt: Runtime, f: A.Filters, implicit: bool) -> pd.DataFrame:
    """See aeries.analytics.arena.win_matrix."""
    return _win_matrix(rt.db, _key(rt), f, implicit)


def position(rt: Runtime, f: A.Filters, implicit: bool) -> pd.DataFrame:
    """See aeries.analytics.arena.position_bias."""
    return _position(rt.db, _key(rt), f, implicit)


def latency_preference(rt: Runtime, f: A.Filters, implicit: bool) -> pd.DataFrame:
    """See aeries.analytics.arena.latency_preference."""
    return _latency_pref(rt.db, _key(rt), f, implicit)
