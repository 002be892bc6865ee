"""Analytics: latency and preference trends over everything Aeries logged (researchers)."""

from __future__ import annotations

import streamlit as st

from aeries.ui.analytics import (
    analytics_filters,
    arena_tab,
    drill_tab,
    export_tab,
    feedback_tab,
    latency_tab,
)
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box, research_gate

TABS = {
    "Latency": latency_tab,
    "Arena": arena_tab,
    "Feedback": feedback_tab,
    "Drill-down": drill_tab,
    "Export": export_tab,
}

rt = get_runtime()
identity_box(rt)
st.title("Analytics", anchor=False)
if not research_gate(rt):
    st.stop()
filters = analytics_filters(rt)
if filters is not None:
    st.caption(
        f"{filters.start:%Y-%m-%d %H:%M} → {filters.end:%Y-%m-%d %H:%M} UTC, by {filters.bucket}."
        " Cached for a minute; Refresh in the sidebar re-reads the database."
    )
    # Tabs bound to ?view= run only the open tab's queries.
    tabs = st.tabs(list(TABS), key="view", bind="query-params", on_change="rerun")
    for tab, render in zip(tabs, TABS.values(), strict=True):
        if tab.open:
            with tab:
                render(rt, filters)
