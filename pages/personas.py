"""Personas: named system prompts with a model and sampling parameters."""

from __future__ import annotations

import streamlit as st

from aeries.ui.identity import current_user, identity_box
from aeries.ui.personas import persona_editor
from aeries.ui.resources import get_runtime

rt = get_runtime()
identity_box()
st.title("Personas", anchor=False)
st.caption(
    "A persona sets the system prompt, model and sampling of a conversation. "
    "Pick one in the chat sidebar; a conversation can switch personas later (the switch is "
    "recorded)."
)
persona_editor(rt, current_user(rt))
