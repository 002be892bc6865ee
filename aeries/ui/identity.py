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
    """A participant name: one line, no control characters, at most 64 characters."""
    return clean_inline(raw)[:NAME_MAX]


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

    The default identity of a single-user install is a researcher too.
    """
    name = current_user_name()
    return name in rt.settings.researchers or name == DEFAULT_USER
