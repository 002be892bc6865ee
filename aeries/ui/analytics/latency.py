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
    "ttft": "Time to first token: from sending the request to the first output chunk (content, "
    "reasoning, or the empty end-of-sequence chunk: vLLM's benchmark rule, docs/timings.md). "
    "Over exchanges with status ok.",
    "e2e": "End-to-end latency: from sending the request to the last output chunk (the "
    "end-of-sequence chunk of a normal answer). Over exchanges with status ok.",
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
    cut_off = int(volume["cut_off"].sum())
    if cut_off:
        st.caption(
            f"{cut_off:,} answers were cut off by the model server (status 'cut_off': vLLM "
            "ended them with finish_reason abort — paused or shutting down — or repetition); "
            "like errors, they are left out of the latency figures."
        )
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


PART_LABELS = {
    "queue_ms": "server queue",
    "prefill_ms": "server prefill (its TTFT)",
    "between_ms": "between the server and the screen",
}


def _ttft_parts(rt: Runtime, f: Filters) -> None:
    """The first token's wait split by who spent it, where the server reported its timings."""
    parts = data.ttft_breakdown(rt, f)
    st.markdown("**Where the wait for the first token goes**")
    if parts.empty:
        st.caption(
            "No answer in these filters carries the server's own timings. Start vLLM with "
            "`--enable-per-request-metrics` to split each TTFT into the server's queue, its "
            "prefill, and what lies between the server and the screen."
        )
        return
    long = parts.melt(id_vars=["model", "n", "ttft_ms"], value_vars=list(PART_LABELS))
    long["part"] = long["variable"].map(PART_LABELS)
    long["rank"] = long["variable"].map({name: i for i, name in enumerate(PART_LABELS)})
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("model:N", title=None),
            x=alt.X("value:Q", title="mean ms", stack="zero"),
            color=alt.Color("part:N", title=None, sort=list(PART_LABELS.values())),
            order=alt.Order("rank:Q"),
            tooltip=["model:N", "part:N", alt.Tooltip("value:Q", format=".1f"), "n:Q"],
        )
        .properties(usermeta={"chart_id": "ttft_parts"}, height=40 + 30 * len(parts))
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        "Means over ok answers with server timings, so the parts add up to the mean TTFT. "
        "Queue and prefill are the engine's own clock; the rest is templating and "
        "tokenisation, the hand-off to the engine, the network and the client."
    )


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
        _ttft_parts(rt, f)
    else:
        st.info("None of these exchanges succeeded, so there is no latency to show.")
    _volume_charts(volume)
