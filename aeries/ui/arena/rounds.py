"""Arena page body: contestants, concurrent streaming columns, blind vote, reveal."""

from __future__ import annotations

import random
import time

import streamlit as st

from aeries.arena import (
    REASONS,
    Contestant,
    Round,
    Side,
    log_round,
    record_vote,
    start_round,
)
from aeries.llm import RESTING, Sampling
from aeries.runtime import Runtime
from aeries.store.personas import ensure_default_persona, visible_personas
from aeries.text import check_message
from aeries.ui.chat.messages import metrics_caption
from aeries.ui.store_health import NOT_SENT, SAVE_WAIT_S, store_is_down
from aeries.ui.text import answer_markdown, literal, live_markdown
from aeries.vocabulary import VoteOutcome

_ROUND = "arena.round"
_HISTORY = "arena.history"
_RNG = "arena.rng"
# Outcome -> (button text, Material icon); icons by name, since emoji need an emoji font.
_VOTE_LABELS: dict[VoteOutcome, tuple[str, str]] = {
    "a": ("A is better", ":material/arrow_back:"),
    "b": ("B is better", ":material/arrow_forward:"),
    "tie": ("Tie", ":material/handshake:"),
    "both_bad": ("Both bad", ":material/thumb_down:"),
}


def _letter(position: int) -> str:
    return "ABCD"[position]


def contestant_setup(rt: Runtime, user_id: str) -> list[Contestant] | None:
    """Pick 2–4 contestants (model + persona + temperature); None when no model answers."""
    models = rt.models()
    if not models:
        st.warning(RESTING)
        return None
    ensure_default_persona(rt.db)
    personas = visible_personas(rt.db, user_id)
    with st.expander("Contestants", expanded=st.session_state.get(_ROUND) is None):
        count = st.number_input("How many", 2, 4, 2, key="arena.n")
        columns = st.columns(int(count))
        contestants = []
        for i, column in enumerate(columns):
            with column:
                model_index = st.selectbox(
                    f"Model {i + 1}",
                    range(len(models)),
                    index=i % len(models),
                    format_func=lambda k: models[k].id,
                    key=f"arena.model.{i}",
                )
                persona_index = st.selectbox(
                    f"Persona {i + 1}",
                    range(len(personas)),
                    format_func=lambda k: personas[k].name,
                    key=f"arena.persona.{i}",
                )
                persona = personas[persona_index or 0]
                temperature = st.slider(
                    f"Temperature {i + 1}",
                    0.0,
                    2.0,
                    float(persona.temperature),
                    0.05,
                    key=f"arena.temp.{i}",
                )
                sampling = Sampling(
                    temperature, persona.top_p, persona.max_tokens, persona.thinking
                )
                contestants.append(Contestant(models[model_index or 0], sampling, persona))
        st.toggle(
            "Blind (hide names and shuffle sides until the vote)", value=True, key="arena.blind"
        )
    return contestants


def _rng() -> random.Random:
    if _RNG not in st.session_state:
        st.session_state[_RNG] = random.Random()
    return st.session_state[_RNG]


def handle_prompt(rt: Runtime, user_id: str, contestants: list[Contestant]) -> None:
    """Read the prompt box and start a round (continuing the current one if asked)."""
    prompt = st.chat_input("Prompt for every contestant", key="arena.prompt")
    if prompt is None:
        return
    hint = check_message(prompt)
    if hint:
        st.warning(hint)
        return
    if store_is_down(rt):
        st.warning(NOT_SENT)
        st.code(prompt, language=None, wrap_lines=True)
        return
    current: Round | None = st.session_state.get(_ROUND)
    continuing = current is not None and st.session_state.get("arena.continue", False)
    if current is not None:
        _end_round(rt, current)
        st.session_state.setdefault(_HISTORY, []).append(current)
    if not continuing:
        st.session_state[_HISTORY] = []
    st.session_state[_ROUND] = start_round(
        rt,
        user_id,
        contestants,
        prompt,
        blind=bool(st.session_state.get("arena.blind", True)),
        rng=_rng(),
        previous=current if continuing else None,
    )


def _end_round(rt: Runtime, battle: Round) -> None:
    """Leave a round: stop sides still streaming, then log it (each round is logged once)."""
    for side in battle.sides:
        side.stop()
    battle.wait(5)
    log_round(rt, battle)


def _regenerate(rt: Runtime, user_id: str) -> None:
    current: Round = st.session_state[_ROUND]
    _end_round(rt, current)
    history = st.session_state.get(_HISTORY, [])
    previous = history[-1] if history and current.parent_id else None
    contestants = [s.contestant for s in current.sides]
    st.session_state[_ROUND] = start_round(
        rt, user_id, contestants, current.prompt, blind=current.blind, rng=_rng(), previous=previous
    )


def _new_round(rt: Runtime) -> None:
    current: Round | None = st.session_state.pop(_ROUND, None)
    if current is not None:
        _end_round(rt, current)
    st.session_state[_HISTORY] = []


def _vote(rt: Runtime, battle: Round, outcome: VoteOutcome, best: int | None) -> None:
    reasons = st.session_state.get(f"arena.reasons.{battle.id}", [])
    comment = st.session_state.get(f"arena.comment.{battle.id}", "")
    try:
        record_vote(rt, battle, outcome, best=best, reasons=reasons, comment=comment)
    except ValueError as exc:
        st.session_state["arena.notice"] = str(exc)


def _side_header(battle: Round, position: int, reveal: bool = True) -> str:
    side = battle.sides[position]
    if battle.blind and (battle.vote is None or not reveal):
        return f"**Model {_letter(position)}**"
    return f"**{_letter(position)} · {literal(side.contestant.label)}**"


def _side_footer(side: Side) -> None:
    result = side.result
    if result is None:
        return
    if result.status == "cut_off":
        st.warning(literal(result.error or ""))
    elif result.error:
        st.error(literal(result.error))
    elif result.status == "aborted":
        st.caption("Stopped.")
    st.caption(metrics_caption(None, result.ttft_ms, result.e2e_ms, result.completion_tokens))


def render_round(rt: Runtime, battle: Round, *, live: bool, reveal: bool = True) -> None:
    """Columns for each side; while live, redraw them until every side ends. A blind round
    shows names after its vote unless ``reveal`` is off (a study keeps them hidden)."""
    _save(rt, battle)  # it may have ended while no run was drawing it
    with st.chat_message("user"):
        st.markdown(literal(battle.prompt))
    columns = st.columns(len(battle.sides))
    slots = []
    for side, column in zip(battle.sides, columns, strict=True):
        with column:
            st.markdown(_side_header(battle, side.position, reveal))
            # Before a blind vote, a Reasoning panel on one side only would tell which side is
            # the reasoning model: reasoning is shown once names are.
            revealed = not battle.blind or (battle.vote is not None and reveal)
            if side.reasoning and side.done.is_set() and revealed:
                with st.expander("Reasoning"):
                    answer_markdown(side.reasoning)
            slot = st.empty()
            if side.done.is_set() and side.text:
                answer_markdown(side.text, into=slot.container())
            else:
                slot.markdown(live_markdown(side.text) or "…")
            if live and not side.done.is_set():
                st.button(
                    "Stop",
                    key=f"arena.stop.{battle.id}.{side.position}",
                    icon=":material/stop:",
                    on_click=side.stop,
                )
            elif battle.saved:  # shown finished only once the round is on disk
                _side_footer(side)
            slots.append(slot)
    if not live or battle.finished:
        return
    shown = [side.text for side in battle.sides]
    while not battle.finished:
        time.sleep(0.05)  # coalesce: at most ~20 redraws a second for every column
        for i, side in enumerate(battle.sides):
            if side.text != shown[i]:
                shown[i] = side.text
                slots[i].markdown(live_markdown(side.text) + " ▌")
    _save(rt, battle)
    st.rerun()


def _save(rt: Runtime, battle: Round) -> None:
    """Log a finished round (once) and wait for its rows to be committed, so that what the
    page then shows as finished — the metrics, the vote — is on disk."""
    if battle.finished and not battle.saved:
        log_round(rt, battle)  # once, whoever comes first: a side thread or the page
        battle.saved = rt.writer.flush(SAVE_WAIT_S)


def vote_controls(rt: Runtime, battle: Round, *, reveal: bool = True) -> None:
    """Vote buttons (locked after the vote), reasons and comment."""
    voted = battle.vote is not None
    if battle.vote is not None:
        outcome = battle.vote["outcome"]
        text = (
            f"best: {_letter(battle.vote['best_position'])}"
            if outcome == "best"
            else _VOTE_LABELS[outcome][0]
        )
        st.success(f"Vote recorded ({text})." + (" Names revealed above." if reveal else ""))
    n = len(battle.sides)
    options = (
        [(o, None, label) for o, label in _VOTE_LABELS.items()]
        if n == 2
        else [("best", i, (f"{_letter(i)} is best", ":material/trophy:")) for i in range(n)]
        + [("both_bad", None, ("All bad", ":material/thumb_down:"))]
    )
    columns = st.columns(len(options))
    for column, (outcome, best, (label, icon)) in zip(columns, options, strict=True):
        column.button(
            label,
            icon=icon,
            key=f"arena.vote.{battle.id}.{outcome}.{best}",
            disabled=voted,
            on_click=_vote,
            args=(rt, battle, outcome, best),
            width="stretch",
        )
    if not voted:
        st.multiselect("Why? (optional)", REASONS, key=f"arena.reasons.{battle.id}")
        st.text_input("Comment (optional)", key=f"arena.comment.{battle.id}")


def arena_body(rt: Runtime, user_id: str) -> None:
    """The whole arena: setup, prompt, rounds, vote, actions."""
    contestants = contestant_setup(rt, user_id)
    if note := st.session_state.pop("arena.notice", None):
        st.warning(note)
    if contestants is not None:
        handle_prompt(rt, user_id, contestants)
    for old in st.session_state.get(_HISTORY, []):
        render_round(rt, old, live=False)
    battle: Round | None = st.session_state.get(_ROUND)
    if battle is None:
        st.caption("Write a prompt below: every contestant answers at once, side by side.")
        return
    render_round(rt, battle, live=True)
    vote_controls(rt, battle)
    regen, new, cont = st.columns(3)
    regen.button(
        "Regenerate both",
        icon=":material/refresh:",
        key="arena.regen",
        on_click=_regenerate,
        args=(rt, user_id),
        disabled=contestants is None,
    )
    new.button("New round", key="arena.new", icon=":material/add:", on_click=_new_round, args=(rt,))
    cont.toggle(
        "Continue with the same contestants",
        key="arena.continue",
        help="Your next prompt continues this conversation on every side.",
    )
