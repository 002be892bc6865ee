"""Personas: named system prompts with a model and sampling parameters."""

from __future__ import annotations

import streamlit as st

from aeries.ui.identity import current_identity, current_user
from aeries.ui.notices import show_notice
from aeries.ui.personas import persona_editor
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box

rt = get_runtime()
current_user(rt)
identity_box(rt)
show_notice()
st.title("Personas", anchor=False)
st.caption(
    "A persona sets the system prompt, model and sampling of a conversation. "
    "Pick one in the chat sidebar; a conversation can switch personas later (the switch is "
    "recorded). Shared personas are set by the researcher; the ones you make are yours alone."
)
identity = current_identity()
assert identity is not None
persona_editor(rt, identity)
