"""A study's arena task: blind rounds between the condition's contestants until the study's
number of votes is given. Names stay hidden, even after a vote (they could sway the next)."""

from __future__ import annotations

import random

import streamlit as st

from aeries.arena import Round, log_round, start_round
from aeries.runtime import Runtime
from aeries.studies import flow
from aeries.studies.conditions import NOT_SERVED, condition_contestants
from aeries.studies.flow import Place
from aeries.text import check_message
from aeries.ui.arena.rounds import render_round, vote_controls

_ROUND = "aeries.study.arena.round"
_COUNTED = "aeries.study.arena.counted"  # ids of rounds whose vote was counted


def arena_step(rt: Runtime, place: Place) -> None:
    """Prompt, the round side by side, the vote; Continue once enough votes are given."""
    needed = place.study.arena.votes
    battle: Round | None = st.session_state.get(_ROUND)
    counted: set[str] = st.session_state.setdefault(_COUNTED, set())
    if battle is not None and battle.vote is not None and battle.id not in counted:
        counted.add(battle.id)
        place = flow.count_vote(rt.db, place)
    st.caption(f"Votes given: {place.enrolment.votes} of {needed}.")
    done = flow.arena_done(place)
    open_round = battle is not None and battle.vote is None
    prompt = None
    if not done and not open_round:
        prompt = st.chat_input("Write a prompt for both assistants", key="study.arena.prompt")
    if prompt is not None:
        hint = check_message(prompt)
        contestants = condition_contestants(rt, place) if not hint else None
        if hint:
            st.warning(hint)
        elif contestants is None:
            st.error(NOT_SERVED)
        else:
            if battle is not None:
                log_round(rt, battle)
            seed = f"{place.enrolment.id}:{place.enrolment.votes}"  # positions, reproducibly
            battle = start_round(
                rt,
                place.enrolment.user_id,
                contestants,
                prompt.strip(),
                blind=True,
                rng=random.Random(seed),
                study=place.ref,
            )
            st.session_state[_ROUND] = battle
    if battle is None:
        st.caption("Write a prompt: two assistants answer side by side; then say which is better.")
    else:
        render_round(rt, battle, live=True, reveal=False)
        vote_controls(rt, battle, reveal=False)
        if battle.vote is not None and not done:
            st.caption("Write the next prompt to start another round.")
    if done and st.button("Continue", type="primary", key="study.arena_done"):
        flow.finish_arena(rt.db, place)
        st.session_state.pop(_ROUND, None)
        st.rerun()
