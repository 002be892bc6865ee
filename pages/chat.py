"""Chat: stream answers from vLLM; every exchange and signal is logged."""

from __future__ import annotations

import streamlit as st

from aeries.errors import RESTING
from aeries.text import check_message
from aeries.ui.chat_state import current_view, take_notice, take_pending
from aeries.ui.conversations import conversation_sidebar
from aeries.ui.identity import current_user, identity_box
from aeries.ui.knowledge import knowledge_panel
from aeries.ui.messages import render_branch
from aeries.ui.model_controls import chat_controls
from aeries.ui.resources import get_runtime
from aeries.ui.text import literal
from aeries.ui.turns import start_new_message, start_pending, stream_turn

rt = get_runtime()
identity_box()
user_id = current_user(rt)
view = current_view(rt, user_id)
choice = chat_controls(rt, view)
conversation_sidebar(rt, view)

# Read the input before drawing history: the request goes out first, the page follows.
prompt = st.chat_input("Message Aeries", key="aeries.prompt", submit_mode="stop")
turn = None
hint = None
if prompt is not None:
    hint = check_message(prompt)
    if hint is None and choice is not None:
        turn = start_new_message(rt, view, choice, prompt)
else:
    action = take_pending()
    if action and choice is not None:
        turn = start_pending(rt, view, choice, action)

if note := take_notice():
    st.toast(note)
st.title(literal(view.conversation.title) if view.conversation else "New chat", anchor=False)
if hint:
    st.warning(hint)
knowledge_panel(rt, view)
if choice is None:
    st.warning(
        f"{RESTING} No model server answers right now, so nothing can be sent. "
        "Check that vLLM is running, then press Refresh models (Model & sampling, in the sidebar)."
    )
render_branch(rt, view)
if turn is not None:
    stream_turn(view, turn)
    st.rerun()
elif not view.branch:
    st.caption("Ask anything. Answers stream from the model; every exchange is logged.")
