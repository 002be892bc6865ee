"""One-line notices shown once, as a toast, in the next run of a page (any page may leave one:
an action's result, a link that did not sign in).

An action that reruns the page leaves a notice instead of calling ``st.toast`` itself: a toast
drawn just before ``st.rerun()`` is dropped with that run's unsent deltas whenever the rerun
starts before they are sent."""

from __future__ import annotations

import streamlit as st

_NOTICE = "aeries.chat.notice"


def notice(text: str) -> None:
    """A message shown once at the top of the next render."""
    st.session_state[_NOTICE] = text


def take_notice() -> str | None:
    """The notice to show now, if any."""
    return st.session_state.pop(_NOTICE, None)


def show_notice() -> None:
    """Show the notice left for this run, if any, as a toast."""
    if note := take_notice():
        st.toast(note)
