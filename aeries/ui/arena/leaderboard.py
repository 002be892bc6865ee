"""Leaderboard: Bradley–Terry ratings with bootstrap 95% intervals from the preferences."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aeries.auth import Identity
from aeries.ratings import leaderboard, unbounded_reasons
from aeries.runtime import Runtime
from aeries.store.preferences import load_battles


@st.cache_data(show_spinner=False, max_entries=32)
def _board(battles: pd.DataFrame, implicit_weight: float | None, rounds: int) -> pd.DataFrame:
    return leaderboard(battles, rounds=rounds, seed=0, implicit_weight=implicit_weight)


def leaderboard_section(rt: Runtime, identity: Identity) -> None:
    """Ratings table with the number of votes behind each number: every vote for a researcher,
    a participant's own votes for them."""
    everyone = identity.is_researcher
    st.subheader("Leaderboard" if everyone else "Your leaderboard", anchor=False)
    if not everyone:
        st.caption("From your own votes only.")
    left, right = st.columns(2)
    by = left.radio(
        "Rate",
        ["model", "contestant"],
        horizontal=True,
        key="arena.lb.by",
        format_func=lambda v: (
            "Models" if v == "model" else "Contestants (model · persona · temperature)"
        ),
    )
    implicit = right.toggle(
        "Include implicit chat preferences",
        key="arena.lb.implicit",
        help="Regenerations the user carried on from, down-weighted.",
    )
    weight = right.slider(
        "Weight of an implicit preference",
        0.05,
        1.0,
        0.25,
        0.05,
        key="arena.lb.weight",
        disabled=not implicit,
    )
    rt.writer.flush()
    battles = load_battles(
        rt.db, by=by, include_implicit=implicit, user_id=None if everyone else identity.user_id
    )
    if battles.empty:
        st.info("No votes yet. Ratings appear after the first vote.")
        return
    board = _board(battles, weight if implicit else None, 200)
    reasons = unbounded_reasons(battles)
    table = pd.DataFrame(
        {
            "rank": board["rank"],
            "model": board["model"],
            "rating": board["rating"].round(0),
            "95% CI": [
                f"{lo:.0f} – {hi:.0f}"
                for lo, hi in zip(board["lower"], board["upper"], strict=True)
            ],
            "votes": board["votes"],
            "win rate": board["win_rate"],
            "note": [
                f"not enough data: {reasons.get(m, '')}" if u else ""
                for m, u in zip(board["model"], board["unbounded"], strict=True)
            ],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "win rate": st.column_config.ProgressColumn(
                "win rate", format="percent", min_value=0, max_value=1
            )
        },
    )
    st.caption(
        f"Bradley–Terry (scale 400, base 10, mean 1000), 200 bootstrap rounds, over "
        f"{len(battles):,} pairwise outcomes. Ties count half a win each way."
    )
