"""One-line notices shown once, as a toast, at the top of the next run of the chat page (any
page may leave one: an action's result, a link that did not sign in)."""

from __future__ import annotations

import streamlit as st

_NOTICE = "aeries.chat.notice"


def notice(text: str) -> None:
    """A message shown once at the top of the next render."""
    st.session_state[_NOTICE] = text


def take_notice() -> str | None:
    """The notice to show now, if any."""
    return st.session_state.pop(_NOTICE, None)
