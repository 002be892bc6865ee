"""The runtime for this app process, built once and shared by every session."""

from __future__ import annotations

import streamlit as st

from aeries.auth import SigningKeyError
from aeries.config import ConfigError, Settings, load_settings
from aeries.runtime import Runtime, build_runtime
from aeries.store.db import DatabaseError, DatabaseLocked
from aeries.ui.text import literal


@st.cache_resource(show_spinner="Starting Aeries…", on_release=lambda rt: rt.close())
def _runtime(settings: Settings) -> Runtime:
    return build_runtime(settings)


def get_runtime() -> Runtime:
    """The shared runtime; on a configuration or database problem, say what to do and stop."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        st.error(f"**Aeries cannot start: a setting is wrong.** {literal(str(exc))}")
        st.stop()
    try:
        return _runtime(settings)
    except DatabaseLocked as exc:
        st.error("**The database is locked by another program.**")
        st.markdown(literal(str(exc)))
        st.stop()
    except DatabaseError as exc:
        st.error(f"**The database could not be opened.** {literal(str(exc))}")
        st.stop()
    except SigningKeyError as exc:
        st.error(f"**Aeries cannot start: its signing key is unusable.** {literal(str(exc))}")
        st.stop()
    raise AssertionError("unreachable")


def clear_runtime() -> None:
    """Drop the cached runtime (tests; a changed database path)."""
    _runtime.clear()
