"""Arena: contestants answer the same prompt side by side; vote blind; watch ratings form."""

from __future__ import annotations

import streamlit as st

from aeries.ui.arena import arena_body
from aeries.ui.identity import current_user, identity_box
from aeries.ui.leaderboard import leaderboard_section
from aeries.ui.resources import get_runtime

rt = get_runtime()
identity_box()
st.title("Arena", anchor=False)
arena_body(rt, current_user(rt))
st.divider()
leaderboard_section(rt)
