"""Latency tab: percentiles over time and per model, request volume, errors, aborts, tokens."""

from __future__ import annotations

from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from aeries.analytics import METRICS, Filters
from aeries.runtime import Runtime
from aeries.ui.analytics import charts, data
from aeries.ui.analytics.drill import drill_target, open_drill

PICK = "pick"
VOLUME_KEY = "an.volume"

METRIC_HELP = {
    "ttft": "Time to first token: from sending the request to the first chunk with content or "
    "reasoning (vLLM's benchmark definition). Over exchanges with status ok.",
    "e2e": "End-to-end latency: from sending the request to the last content chunk. "
    "Over exchanges with status ok.",
    "tpot": "Time per output token = (E2E − TTFT) / (completion tokens − 1). Over ok exchanges "
    "with at least two tokens.",
    "tps": "Tokens per second = completion_tokens / (e2e_ms / 1000), per ok exchange; the "
    "percentiles are over exchanges (not a throughput of the server).",
}


def _open_drill() -> None:
    """A click on a bar of the Requests chart opens Drill-down on that model and bucket."""
    state = st.session_state.get(VOLUME_KEY)
    target = drill_target(state.selection.get(PICK, []) if state else [])
    if target is not None:
        open_drill(*target)


def trend_long(trend: pd.DataFrame) -> pd.DataFrame:
    """bucket, model, n, p50, p95, p99 → one row per (bucket, model, p50|p95) for the chart."""
    return trend.melt(
        id_vars=["bucket", "model", "n"],
        value_vars=["p50", "p95"],
        var_name="stat",
        value_name="value",
    )[["bucket", "model", "stat", "value", "n"]]


def _percentile_chart(trend: pd.DataFrame, *, metric: str, unit: str) -> alt.Chart:
    """One metric's p50 and p95 over time per model, from its ``data.latency_trend``."""
    title = "p50 solid, p95 dashed"
    return charts.percentile_lines(
        trend_long(trend), chart_id=f"latency_{metric}", title=title, unit=unit
    )


def _percentile_table(rt: Runtime, f: Filters) -> pd.DataFrame:
    frames = []
    for metric, (_, label, unit) in METRICS.items():
        table = data.latency_table(rt, f, metric)
        frames.append(table.assign(metric=f"{label} ({unit})"))
    table = pd.concat(frames, ignore_index=True)
    return table[["model", "metric", "n", "mean", "p50", "p90", "p95", "p99"]]


def _latency_charts(rt: Runtime, f: Filters) -> bool:
    """The four percentile charts, two per row; False if nothing succeeded in the range."""
    cols = st.columns(2)
    drawn = False
    for i, (metric, (_, label, unit)) in enumerate(METRICS.items()):
        trend = data.latency_trend(rt, f, metric)
        with cols[i % 2]:
            st.markdown(f"**{label}** ({unit})", help=METRIC_HELP[metric])
            lines = partial(_percentile_chart, metric=metric, unit=unit)
            if charts.draw(trend, "No successful exchanges to measure.", lines):
                drawn = True
                with st.expander(f"{label}: p50 / p95 / p99 per {f.bucket}"):
                    st.dataframe(trend, hide_index=True, width="stretch")
    return drawn


def _volume_charts(volume: pd.DataFrame) -> None:
    st.subheader("Requests, errors and aborts", help="All exchanges in the filters, any status.")
    cols = st.columns(3)
    with cols[0]:
        chart = charts.stacked_bars(
            volume,
            y="requests",
            chart_id="volume",
            title="Requests (click a bar to see its exchanges)",
            y_title="requests",
            select=PICK,
        )
        st.altair_chart(
            chart, width="stretch", key=VOLUME_KEY, on_select=_open_drill, selection_mode=PICK
        )
    for col, rate, title in (
        (cols[1], "error_rate", "Error rate"),
        (cols[2], "abort_rate", "Abort rate"),
    ):
        with col:
            chart = charts.rate_lines(
                volume,
                y=rate,
                group="model",
                n="requests",
                chart_id=rate,
                title=title,
                y_title="share of requests",
            )
            st.altair_chart(chart, width="stretch")
    interrupted = int(volume["interrupted"].sum())
    if interrupted:
        st.caption(
            f"{interrupted:,} answers were interrupted by an app stop or crash (status "
            "'interrupted', with the text received until then); they count in Requests only."
        )
    token_cols = st.columns(2)
    for col, column, title in (
        (token_cols[0], "prompt_tokens", "Tokens in (prompt)"),
        (token_cols[1], "completion_tokens", "Tokens out (completion)"),
    ):
        with col:
            chart = charts.stacked_bars(
                volume, y=column, chart_id=column, title=title, y_title="tokens"
            )
            st.altair_chart(chart, width="stretch")


def latency_tab(rt: Runtime, f: Filters) -> None:
    """Everything about speed and reliability in the filtered range."""
    volume = data.volume(rt, f)
    if volume.empty:
        st.info(
            "**No exchanges match these filters.** Chat with a model, run an arena battle, or "
            "widen the filters; `python -m aeries demo` writes a synthetic dataset to explore."
        )
        return
    st.subheader("Latency", help="Percentiles over exchanges with status ok.")
    if _latency_charts(rt, f):
        st.markdown("**Percentiles per model**")
        st.dataframe(
            _percentile_table(rt, f),
            hide_index=True,
            width="stretch",
            column_config={
                "n": st.column_config.NumberColumn("n", help="ok exchanges with a value"),
                "metric": st.column_config.TextColumn(
                    "metric", help=" ".join(METRIC_HELP.values())
                ),
                **{
                    c: st.column_config.NumberColumn(c, format="%.1f")
                    for c in ("mean", "p50", "p90", "p95", "p99")
                },
            },
        )
    else:
        st.info("None of these exchanges succeeded, so there is no latency to show.")
    _volume_charts(volume)
