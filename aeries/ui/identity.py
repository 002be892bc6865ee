"""Who is using Aeries in this session."""

from __future__ import annotations

import streamlit as st

from aeries.runtime import Runtime
from aeries.store.users import DEFAULT_USER, ensure_user

_USER = "aeries.user_id"


def current_user(rt: Runtime) -> str:
    """The user id for this session."""
    user_id = st.session_state.get(_USER)
    if user_id is None:
        user_id = ensure_user(rt.db, DEFAULT_USER)
        st.session_state[_USER] = user_id
    return user_id
