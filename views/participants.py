"""Participants: personal links, roles and activity (researchers only)."""

from __future__ import annotations

import streamlit as st

from aeries.ui.notices import show_notice
from aeries.ui.participants import participants_body
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box, research_gate

rt = get_runtime()
identity_box(rt)
show_notice()
st.title("Participants", anchor=False)
if research_gate(rt):
    participants_body(rt)
