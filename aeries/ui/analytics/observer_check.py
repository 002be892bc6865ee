"""The Feedback tab's check of the observer against people: per queue, rubric item and
observer version, its agreement with the raters' consensus, and a mark on the observer's
charts when a version in the filters agreed with people less than the researcher's threshold."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aeries.analytics import Filters
from aeries.annotation.observer_check import (
    DEFAULT_TRUST,
    all_checks,
    observer_versions,
    untrusted_versions,
)
from aeries.runtime import Runtime
from aeries.store.annotation import list_queues
from aeries.store.db import Database

THRESHOLD_KEY = "analytics.observer_trust"


@st.cache_data(ttl=60, show_spinner=False, max_entries=16)
def _checks(_db: Database, store: str, state: tuple[tuple[str, int], ...]) -> pd.DataFrame:
    """All checks, recomputed when a queue gets or loses labels (``state``) or after a minute."""
    return all_checks(_db, list_queues(_db))


def _state(db: Database) -> tuple[tuple[str, int], ...]:
    rows = db.rows(
        "SELECT queue_id, count(*) FROM submissions WHERE retracted_at IS NULL "
        "GROUP BY queue_id ORDER BY queue_id"
    )
    return tuple((str(q), int(n)) for q, n in rows)


def checks(rt: Runtime) -> pd.DataFrame:
    """Every check of the observer against people, cached."""
    return _checks(rt.db, rt.settings.store_label, _state(rt.db))


def trust_threshold() -> float:
    """The α below which an observer version's signals are marked (the researcher's choice)."""
    return float(st.session_state.get(THRESHOLD_KEY, DEFAULT_TRUST))


def mark_untrusted(rt: Runtime, f: Filters, table: pd.DataFrame) -> None:
    """Above a chart of observer signals: say which versions in these filters agreed with
    people less than the threshold (and which were never checked)."""
    present = observer_versions(rt.db, f.start, f.end)
    if not present:
        return
    low = untrusted_versions(table, trust_threshold())
    marked = sorted({v for versions in low.values() for v in versions} & set(present))
    if marked:
        which = ", ".join(
            f"`{v or 'unversioned'}` ({', '.join(sorted(q for q, vs in low.items() if v in vs))})"
            for v in marked
        )
        st.warning(
            f"**Observer signals below the trust threshold.** In these filters, observer "
            f"version {which} agreed with people less than α = {trust_threshold():.2f}: read "
            "these trends with care (see “Observer against people” below).",
            icon=":material/report:",
        )
    checked = set(table["version"].astype(str)) if not table.empty else set()
    unchecked = sorted(set(present) - checked)
    if unchecked:
        st.caption(
            "Not yet checked against people: observer version "
            + ", ".join(f"`{v or 'unversioned'}`" for v in unchecked)
            + ". An annotation queue with an item asking for the observer's quantity checks it."
        )


def observer_section(table: pd.DataFrame) -> None:
    """The table of checks, with the threshold the marks use."""
    st.subheader(
        "Observer against people",
        help="Agreement of each observer version with the consensus of human raters on the "
        "same exchanges (annotation queues whose rubric asks for an observer quantity): "
        "Krippendorff's α, Cohen's κ and a rank or linear correlation, with 95% bootstrap "
        "intervals over items.",
    )
    st.slider(
        "Trust threshold (α)",
        min_value=0.0,
        max_value=1.0,
        value=DEFAULT_TRUST,
        step=0.05,
        key=THRESHOLD_KEY,
        help="Observer versions whose α with people is below this are marked on the charts.",
    )
    if table.empty:
        st.info(
            "**The observer has not been checked against people yet.** On the Annotate page, "
            'make a queue whose rubric has an item with `observer = "satisfaction"` (or '
            "sentiment, correction, preference) and have it labelled."
        )
        return
    shown = table.assign(
        alpha_ci=_ci(table, "alpha"),
        kappa_ci=_ci(table, "kappa"),
        correlation_ci=_ci(table, "correlation"),
        trusted=table["alpha"].ge(trust_threshold()),
    )[
        [
            "queue",
            "item_key",
            "quantity",
            "version",
            "prompt_hash",
            "n_items",
            "alpha",
            "alpha_ci",
            "kappa",
            "kappa_ci",
            "correlation_kind",
            "correlation",
            "correlation_ci",
            "trusted",
            "note",
        ]
    ]
    st.dataframe(shown, hide_index=True, width="stretch")


def _ci(table: pd.DataFrame, name: str) -> pd.Series:
    lower, upper = table[f"{name}_lower"], table[f"{name}_upper"]
    return pd.Series(
        [
            f"[{lo:.2f}, {hi:.2f}]" if pd.notna(lo) and pd.notna(hi) else ""
            for lo, hi in zip(lower, upper, strict=True)
        ],
        index=table.index,
    )
