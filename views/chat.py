"""Chat: stream answers from vLLM; every exchange and signal is logged."""

from __future__ import annotations

import streamlit as st

from aeries.llm import RESTING
from aeries.text import check_message
from aeries.ui.chat import (
    PANEL_ICON,
    PANEL_TITLE,
    ModelChoice,
    chat_controls,
    choice_from_state,
    conversation_heading,
    conversation_sidebar,
    current_view,
    knowledge_panel,
    render_branch,
    start_turn,
    stream_turn,
    take_pending,
)
from aeries.ui.identity import resolve_identity
from aeries.ui.notices import show_notice
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box, sign_in_page
from aeries.ui.store_health import NOT_SENT, store_is_down

rt = get_runtime()
identity = resolve_identity(rt)
if identity is None:
    sign_in_page(rt)
    st.stop()
user_id = identity.user_id
view = current_view(rt, user_id)

# Send first: a new message (or a pending regenerate/edit) goes out using the controls as the
# last run left them, before anything else is drawn or read.
prompt = st.chat_input("Message Aeries", key="aeries.prompt", submit_mode="stop")
hint = check_message(prompt) if prompt is not None else None
# While the store cannot write, nothing new is sent: an answer that cannot be kept would be a
# pretence (what was already written waits in the writer and lands when storage is back).
refused = prompt if hint is None and prompt is not None and store_is_down(rt) else None
to_send = prompt if hint is None and refused is None else None
action = take_pending() if prompt is None else None
if action is not None and store_is_down(rt):
    refused, action = action.get("text") or "", None
turn = None
early = choice_from_state(rt)
if early is not None:
    turn = start_turn(rt, view, early, to_send, action)


def draw_sidebar_controls() -> ModelChoice | None:
    """Participant box, persona, model and sampling (sidebar)."""
    identity_box(rt)
    return chat_controls(rt, view)


# While an answer streams, the sidebar from the last run stays on screen; redrawing it first
# would put dozens of deltas ahead of the first token, so it is drawn after the stream.
sidebar_drawn = turn is None
choice = early if turn is not None else draw_sidebar_controls()
if turn is None and choice is not None and early is None:
    turn = start_turn(rt, view, choice, to_send, action)

show_notice()
conversation_heading(view)
if hint:
    st.warning(hint)
if refused is not None:
    st.warning(NOT_SENT)
    if refused:
        st.code(refused, language=None, wrap_lines=True)
# The panel reads the brief and its evidence: while an answer streams, keep its place and fill
# it after the stream, so those reads do not delay the first token.
panel = st.empty()
with panel.container():
    if turn is None:
        knowledge_panel(rt, view)
    else:  # same collapsed header, so nothing moves while the answer streams
        st.expander(PANEL_TITLE, icon=PANEL_ICON).caption("Shown in full when this answer ends.")
if choice is None:
    st.warning(
        f"{RESTING} No model server answers right now, so nothing can be sent. "
        "Check that vLLM is running, then press Refresh models (Model & sampling, in the sidebar)."
    )
render_branch(rt, view)
if turn is not None:
    stream_turn(rt, view, turn)
    with panel.container():
        knowledge_panel(rt, view)
elif not view.branch:
    st.caption("Ask anything. Answers stream from the model; every exchange is logged.")
if not sidebar_drawn:
    draw_sidebar_controls()
conversation_sidebar(rt, view)
