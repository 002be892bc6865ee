"""Who is using Aeries in this session: a login identity, or a participant name in the URL.

With Streamlit's OIDC login configured (``[auth]`` in secrets), ``st.user`` is the identity.
Otherwise the sidebar asks for a participant name, kept in the URL (``?u=``) so a reload keeps
it. Until a name is given, the session uses the default researcher identity on a single-user
machine only when no participants exist; see ``require_user``.
"""

from __future__ import annotations

import streamlit as st

from aeries.runtime import Runtime
from aeries.store.users import DEFAULT_USER, ensure_user
from aeries.text import clean_inline
from aeries.ui.chat_state import show_conversation

_USER = "aeries.user"
NAME_MAX = 64


def login_configured() -> bool:
    """Whether OIDC login is set up in secrets."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _login_identity() -> str | None:
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    return str(user.get("email") or user.get("sub") or user.get("name") or "")


def clean_name(raw: str) -> str:
    """A participant name: one line, no control characters, at most 64 characters.

    The default researcher identity cannot be claimed through the URL.
    """
    name = clean_inline(raw)[:NAME_MAX]
    return "" if name.casefold() == DEFAULT_USER else name


def current_user_name() -> str:
    """The name of the person using this session."""
    if login_configured():
        identity = _login_identity()
        if identity:
            return identity
    name = clean_name(st.query_params.get("u", ""))
    return name or DEFAULT_USER


def current_user(rt: Runtime) -> str:
    """The user id for this session (created on first sight)."""
    name = current_user_name()
    cached = st.session_state.get(_USER)
    if cached and cached[0] == name:
        return cached[1]
    user_id = ensure_user(rt.db, name)
    st.session_state[_USER] = (name, user_id)
    return user_id


def is_researcher(rt: Runtime) -> bool:
    """Researchers (AERIES_RESEARCHERS) see every user's data on analytics.

    With no researchers configured, the default identity (no participant name, no login) of
    a single-user install is the researcher.
    """
    name = current_user_name()
    if rt.settings.researchers:
        return name in rt.settings.researchers
    return name == DEFAULT_USER


def _name_entered() -> None:
    name = clean_name(st.session_state.get("aeries.participant", ""))
    if name:
        st.query_params["u"] = name
    elif "u" in st.query_params:
        del st.query_params["u"]
    show_conversation(None)  # a new identity starts on a new chat


def identity_box() -> None:
    """Sidebar: log in/out with OIDC when configured, else the participant name."""
    bar = st.sidebar
    if login_configured():
        if getattr(st.user, "is_logged_in", False):
            bar.caption(f"Signed in as {current_user_name()}")
            bar.button("Log out", on_click=st.logout, key="aeries.logout")
        else:
            bar.button("Log in", on_click=st.login, key="aeries.login")
        return
    if "aeries.participant" not in st.session_state:
        st.session_state["aeries.participant"] = clean_name(st.query_params.get("u", ""))
    bar.text_input(
        "Participant name",
        key="aeries.participant",
        on_change=_name_entered,
        placeholder="Your name or participant ID",
        max_chars=NAME_MAX,
        help="Your conversations are kept under this name (it stays in the URL).",
    )
