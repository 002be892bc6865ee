"""Feedback tab: thumbs-up rate, observer sentiment and satisfaction, brief on vs off, and what
the observer learned most often."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from aeries.analytics import Filters
from aeries.runtime import Runtime
from aeries.ui.analytics import charts, data
from aeries.ui.analytics.observer_check import checks, mark_untrusted, observer_section

BRIEF_LABELS = {True: "Brief on", False: "Brief off"}


def _thumbs(summary: dict[str, pd.DataFrame]) -> None:
    st.subheader("Thumbs-up rate", help="Latest thumb per answer; 95% Wilson intervals.")
    left, right = st.columns(2)
    for col, name in ((left, "model"), (right, "persona")):
        rows = summary[name][summary[name]["thumbs"] > 0]
        with col:
            chart = charts.rate_lines(
                rows,
                y="up_rate",
                group=name,
                n="thumbs",
                chart_id=f"thumbs_{name}",
                title=f"Thumbs-up rate per {name}",
                y_title="thumbs up",
                extra_tooltips=("up_lower", "up_upper"),
            )
            st.altair_chart(chart, width="stretch")


def _observer(summary: dict[str, pd.DataFrame]) -> None:
    st.subheader("What the observer read", help="Mean per time bucket of the observer's signals.")
    overall = summary["overall"]
    rows = overall.melt(
        id_vars=["bucket"], value_vars=["satisfaction", "sentiment"], var_name="signal"
    )
    counts = overall.melt(id_vars=["bucket"], value_vars=["sat_n", "sent_n"], value_name="n")
    rows["n"] = counts["n"].to_numpy()
    rows = rows[rows["n"] > 0]
    chart = charts.rate_lines(
        rows,
        y="value",
        group="signal",
        n="n",
        chart_id="observer_trend",
        title="Satisfaction (0..1) and sentiment (−1..1)",
        y_title="mean",
        fmt=".2f",
    )
    st.altair_chart(chart, width="stretch")


def _brief(summary: dict[str, pd.DataFrame]) -> None:
    st.subheader("Brief on vs off", help="Answers with the learned brief in the system prompt "
                 "against answers without it (exchanges.brief_enabled).")  # fmt: skip
    rows = summary["brief"][summary["brief"]["brief"].notna()].copy()
    rows["brief"] = rows["brief"].map(BRIEF_LABELS)
    if rows.empty:
        st.caption("No answers with the brief setting recorded.")
        return
    left, right = st.columns(2)
    specs = (
        (left, "up_rate", "up_lower", "up_upper", "thumbs", "brief_thumbs", "Thumbs-up rate",
         ".1%"),
        (right, "satisfaction", "satisfaction_lower", "satisfaction_upper", "sat_n",
         "brief_satisfaction", "Observer satisfaction", ".2f"),
    )  # fmt: skip
    for col, y, lo, hi, n, chart_id, title, fmt in specs:
        bars = partial(
            charts.bars_with_ci, x="brief", y=y, lower=lo, upper=hi, n=n, chart_id=chart_id,
            title=title, y_title=title.lower(), sort=list(BRIEF_LABELS.values()), fmt=fmt,
        )  # fmt: skip
        with col:
            charts.draw(rows[rows[n] > 0], f"{title}: no data yet.", bars)


def _learned(rt: Runtime, f: Filters) -> None:
    top = data.learned(rt, f)
    st.subheader("Most learned", help="How often the observer noted each value, and in how "
                 "many users.")  # fmt: skip
    if top.empty:
        st.caption("The observer has not noted preferences or topics in these filters.")
        return
    left, right = st.columns(2)
    for col, name, title in ((left, "preference", "Preferences"), (right, "topic", "Topics")):
        with col:
            st.markdown(f"**{title}**")
            rows = top[top["name"] == name].drop(columns=["name"])
            st.dataframe(rows, hide_index=True, width="stretch")


def feedback_tab(rt: Runtime, f: Filters) -> None:
    """Thumbs and observer signals, split by model, persona and brief."""
    summary = data.signals(rt, f)
    has_thumbs = bool((summary["overall"]["thumbs"] > 0).any())
    has_observer = bool((summary["overall"]["sat_n"] > 0).any())
    if has_thumbs:
        _thumbs(summary)
    else:
        st.info(
            "**No thumbs in these filters yet.** Participants rate answers with "
            ":material/thumb_up: / :material/thumb_down: under each answer on the Chat page."
        )
    checked = checks(rt)
    if has_observer:
        mark_untrusted(rt, f, checked)
        _observer(summary)
    else:
        st.info(
            "**No observer signals in these filters yet.** The observer reads finished chat "
            "exchanges in the background and notes sentiment, satisfaction, topics and "
            "preferences."
        )
    if has_thumbs or has_observer:
        _brief(summary)
    if has_observer:
        mark_untrusted(rt, f, checked)  # the learned notes come from the observer too
    _learned(rt, f)
    observer_section(checked)
