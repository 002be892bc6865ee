"""Arena tab: leaderboard, ratings over time, win rates, preference × latency, position bias."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from aeries.analytics import Filters
from aeries.analytics.arena import GAP_BUCKETS, rating_period
from aeries.runtime import Runtime
from aeries.ui.analytics import charts, data

COLUMNS: tuple[str, ...] = (
    "rank",
    "model",
    "rating",
    "lower",
    "upper",
    "votes",
    "wins",
    "losses",
    "ties",
)
COLUMNS += ("win_rate", "unbounded")
IMPLICIT_HELP = (
    "Implicit preferences come from chat: regenerating an answer (or editing the question) "
    "prefers the new answer over the old one, with the weight stored on each row (demo: 0.5)."
)


def _empty_state(rt: Runtime) -> None:
    if data.table_has_rows(rt, "preferences"):
        st.info("**No votes match these filters.** Widen the time range or the filters.")
    else:
        st.info(
            "**No arena votes yet.** Ratings, win rates and position bias appear here after the "
            "first vote on the Arena page (implicit preferences from regenerations count too, "
            "if you include them)."
        )


def _leaderboard(board: pd.DataFrame) -> None:
    st.markdown("**Leaderboard** (Bradley–Terry, 95% bootstrap intervals)")
    st.dataframe(
        board,
        hide_index=True,
        width="stretch",
        column_order=COLUMNS,
        column_config={
            "rating": st.column_config.NumberColumn("rating", format="%.0f"),
            "lower": st.column_config.NumberColumn("95% low", format="%.0f"),
            "upper": st.column_config.NumberColumn("95% high", format="%.0f"),
            "win_rate": st.column_config.ProgressColumn(
                "win rate", format="percent", min_value=0.0, max_value=1.0
            ),
            "unbounded": st.column_config.CheckboxColumn(
                "unbounded",
                help="Never lost or never won (or not connected to the others): the data cannot "
                "pin this rating down; it is held finite by a weak prior.",
            ),
        },
    )


def _trend(trend: pd.DataFrame, period: str) -> None:
    if trend.empty:
        return
    chart = charts.band_lines(
        trend, chart_id="rating_trend", title=f"Rating per {period} (refitted each {period})"
    )
    st.altair_chart(chart, width="stretch")


def _bias_charts(rt: Runtime, f: Filters, implicit: bool) -> None:
    """Win rates with 95% intervals against the 0.5 of no bias: of the side that answered first
    (by TTFT gap), and of the side shown on the left."""
    specs = (
        (data.latency_preference, "gap", "faster_win_rate", [label for _, _, label in GAP_BUCKETS],
         "latency_preference", "Win rate of the side that answered first, by TTFT gap",
         "faster side wins", "Preference × latency: no pairs with both TTFTs recorded."),
        (data.position, "kind", "left_win_rate", None,
         "position_bias", "Position bias: win rate of the left side (position 0)",
         "left side wins", "Position bias: no votes with screen positions."),
    )  # fmt: skip
    columns = st.columns(2)
    for col, (query, x, y, sort, chart_id, title, y_title, empty) in zip(
        columns, specs, strict=True
    ):
        rows = query(rt, f, implicit)
        bars = partial(
            charts.bars_with_ci, x=x, y=y, lower="lower", upper="upper", n="n", chart_id=chart_id,
            title=title, y_title=y_title, sort=sort, rule=0.5,
        )  # fmt: skip
        with col:
            charts.draw(rows, empty, bars)


def arena_tab(rt: Runtime, f: Filters) -> None:
    """Arena ratings and the biases behind them."""
    implicit = st.toggle("Include implicit preferences", key="an.implicit", help=IMPLICIT_HELP)
    board, trend = data.ratings(rt, f, implicit)
    if board.empty:
        _empty_state(rt)
        return
    left, right = st.columns(2)
    with left:
        _leaderboard(board)
    with right:
        matrix = data.win_matrix(rt, f, implicit)
        chart = charts.heatmap(matrix, chart_id="win_matrix", title="Win rate (row vs column)")
        st.altair_chart(chart, width="stretch")
    _trend(trend, rating_period(f))
    _bias_charts(rt, f, implicit)
    st.caption(
        "Ties and “both bad” count half a win each way. Ratings per period are refitted on that "
        "period's votes only, so their intervals are wider than the leaderboard's."
    )
