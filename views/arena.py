"""Arena: contestants answer the same prompt side by side; vote blind; watch ratings form."""

from __future__ import annotations

import streamlit as st

from aeries.ui.arena import arena_body, leaderboard_section
from aeries.ui.identity import current_identity, current_user
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box

rt = get_runtime()
user_id = current_user(rt)
identity_box(rt)
st.title("Arena", anchor=False)
arena_body(rt, user_id)
st.divider()
identity = current_identity()
assert identity is not None  # current_user stopped the page otherwise
leaderboard_section(rt, identity)
