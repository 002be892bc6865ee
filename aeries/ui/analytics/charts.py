"""Altair chart builders for the analytics page: readable axes, tooltips on every mark; and
``draw``, which puts one on the page (or says why there is none).

Each chart carries ``usermeta.chart_id`` so tests (and anyone reading the spec) can tell which
chart is which; the data a chart receives is exactly the DataFrame passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import altair as alt
import pandas as pd
import streamlit as st

HEIGHT = 260
_TIME = alt.X("bucket:T", title=None, axis=alt.Axis(labelOverlap=True))


# What layering gives: ``a + b`` and ``alt.layer`` make a LayerChart (the stubs add FacetChart).
Layered = alt.LayerChart | alt.FacetChart
_ChartT = TypeVar("_ChartT", bound=alt.TopLevelMixin)


def _meta(chart: _ChartT, chart_id: str, title: str) -> _ChartT:
    return chart.properties(title=title, height=HEIGHT, usermeta={"chart_id": chart_id})


def draw(
    rows: pd.DataFrame, empty: str, build: Callable[[pd.DataFrame], alt.Chart | Layered]
) -> bool:
    """The chart ``build(rows)`` as wide as its column, or the caption ``empty`` when there are
    no rows; True if a chart was drawn."""
    if rows.empty:
        st.caption(empty)
        return False
    st.altair_chart(build(rows), width="stretch")
    return True


def percentile_lines(df: pd.DataFrame, *, chart_id: str, title: str, unit: str) -> alt.Chart:
    """p50 (solid) and p95 (dashed) over time per model; ``df``: bucket, model, stat, value, n.
    The dash legend is left out (it would be clipped under the model legend): say it in the title.
    """
    tooltip = [
        alt.Tooltip("bucket:T", title="from", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("model:N"),
        alt.Tooltip("stat:N", title="percentile"),
        alt.Tooltip("value:Q", title=unit, format=",.1f"),
        alt.Tooltip("n:Q", title="exchanges", format=","),
    ]
    chart = (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_TIME,
            y=alt.Y("value:Q", title=unit, scale=alt.Scale(zero=False)),
            color=alt.Color("model:N", title="model"),
            strokeDash=alt.StrokeDash("stat:N", sort=["p50", "p95"], legend=None),
            tooltip=tooltip,
        )
    )
    return _meta(chart, chart_id, title)


def stacked_bars(
    df: pd.DataFrame, *, y: str, chart_id: str, title: str, y_title: str, select: str | None = None
) -> alt.Chart:
    """Counts per bucket stacked by model; ``df``: bucket, model, ``y``. With ``select``, a click
    on a bar selects its (bucket, model) under that parameter name."""
    chart = alt.Chart(df).mark_bar()
    if select:
        chart = chart.add_params(alt.selection_point(name=select, fields=["bucket", "model"]))
    chart = chart.encode(
        x=_TIME,
        y=alt.Y(f"{y}:Q", title=y_title, stack=True),
        color=alt.Color("model:N", title="model"),
        tooltip=[
            alt.Tooltip("bucket:T", title="from", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("model:N"),
            alt.Tooltip(f"{y}:Q", title=y_title, format=","),
        ],
    )
    return _meta(chart, chart_id, title)


def rate_lines(
    df: pd.DataFrame,
    *,
    y: str,
    group: str,
    chart_id: str,
    title: str,
    y_title: str,
    n: str,
    fmt: str = ".1%",
    extra_tooltips: tuple[str, ...] = (),
) -> alt.Chart:
    """A rate (or mean) over time per ``group``; ``df``: bucket, group, y, n."""
    tooltip = [
        alt.Tooltip("bucket:T", title="from", format="%Y-%m-%d %H:%M"),
        alt.Tooltip(f"{group}:N"),
        alt.Tooltip(f"{y}:Q", title=y_title, format=fmt),
        alt.Tooltip(f"{n}:Q", title="n", format=","),
        *[alt.Tooltip(f"{c}:Q", format=fmt) for c in extra_tooltips],
    ]
    axis = alt.Axis(format=fmt) if fmt.endswith("%") else alt.Axis()
    chart = (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_TIME,
            y=alt.Y(f"{y}:Q", title=y_title, axis=axis, scale=alt.Scale(zero=False)),
            color=alt.Color(f"{group}:N", title=group),
            tooltip=tooltip,
        )
    )
    return _meta(chart, chart_id, title)


def band_lines(df: pd.DataFrame, *, chart_id: str, title: str) -> Layered:
    """Rating per model over time with its 95% interval as a band; ``df``: bucket, model,
    rating, lower, upper, votes."""
    base = alt.Chart(df).encode(x=_TIME, color=alt.Color("model:N", title="model"))
    tooltip = [
        alt.Tooltip("bucket:T", title="from", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("model:N"),
        alt.Tooltip("rating:Q", format=".0f"),
        alt.Tooltip("lower:Q", title="95% CI low", format=".0f"),
        alt.Tooltip("upper:Q", title="95% CI high", format=".0f"),
        alt.Tooltip("votes:Q", format=","),
    ]
    band = base.mark_area(opacity=0.15).encode(y=alt.Y("lower:Q", title="rating"), y2="upper:Q")
    line = base.mark_line(point=alt.OverlayMarkDef(size=22)).encode(
        y=alt.Y("rating:Q", title="rating", scale=alt.Scale(zero=False)), tooltip=tooltip
    )
    return _meta(band + line, chart_id, title)


def heatmap(df: pd.DataFrame, *, chart_id: str, title: str) -> Layered:
    """Win rate of the row model against the column model; ``df``: model, opponent,
    win_rate, battles."""
    axis = alt.Axis(labelAngle=-40, labelLimit=140, labelOverlap=False)
    base = alt.Chart(df).encode(
        x=alt.X("opponent:N", title="against", axis=axis),
        y=alt.Y("model:N", title=None, axis=alt.Axis(labelLimit=160)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "win_rate:Q",
            title="win rate",
            scale=alt.Scale(domain=[0, 1], scheme="redblue"),
            legend=alt.Legend(format=".0%"),
        ),
        tooltip=[
            alt.Tooltip("model:N"),
            alt.Tooltip("opponent:N", title="against"),
            alt.Tooltip("win_rate:Q", title="win rate", format=".1%"),
            alt.Tooltip("battles:Q", format=","),
        ],
    )
    text = base.mark_text(fontSize=11).encode(text=alt.Text("win_rate:Q", format=".0%"))
    return _meta(cells + text, chart_id, title).properties(height=HEIGHT + 60)


def bars_with_ci(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    lower: str,
    upper: str,
    n: str,
    chart_id: str,
    title: str,
    y_title: str,
    sort: list[str] | None = None,
    fmt: str = ".1%",
    rule: float | None = None,
) -> Layered:
    """One bar per category with a 95% interval; optional reference line at ``rule``."""
    base = alt.Chart(df).encode(
        x=alt.X(f"{x}:N", title=None, sort=sort, axis=alt.Axis(labelAngle=0, labelLimit=120))
    )
    tooltip = [
        alt.Tooltip(f"{x}:N"),
        alt.Tooltip(f"{y}:Q", title=y_title, format=fmt),
        alt.Tooltip(f"{lower}:Q", title="95% CI low", format=fmt),
        alt.Tooltip(f"{upper}:Q", title="95% CI high", format=fmt),
        alt.Tooltip(f"{n}:Q", title="n", format=","),
    ]
    axis = alt.Axis(format=fmt) if fmt.endswith("%") else alt.Axis()
    bars = base.mark_bar(opacity=0.8, size=36).encode(
        y=alt.Y(f"{y}:Q", title=y_title, axis=axis), tooltip=tooltip
    )
    errors = base.mark_rule().encode(y=f"{lower}:Q", y2=f"{upper}:Q")
    layers = [bars, errors]
    if rule is not None:
        line = alt.Chart(pd.DataFrame({"ref": [rule]})).mark_rule(strokeDash=[4, 4])
        layers.append(line.encode(y="ref:Q"))
    return _meta(alt.layer(*layers), chart_id, title)
