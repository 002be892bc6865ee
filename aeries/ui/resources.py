"""The runtime for this app process, built once and shared by every session."""

from __future__ import annotations

import gc
import sys

import streamlit as st

from aeries.auth import SigningKeyError
from aeries.config import ConfigError, Settings, load_settings, settings_fingerprint
from aeries.runtime import Runtime, build_runtime
from aeries.store.db import DatabaseError, DatabaseLocked
from aeries.ui.text import literal


@st.cache_resource(show_spinner="Starting Aeries…", on_release=lambda rt: rt.close())
def _runtime(settings: Settings) -> Runtime:
    rt = build_runtime(settings)
    # Everything imported and built so far lives as long as the process: moved out of the
    # collector's reach, it is not scanned again by every full collection.
    gc.freeze()
    # Many sessions' threads (scripts, stream readers, the event loop) share one GIL; a 1 ms
    # switch interval (Python's default is 5) lets the thread that has a chunk to show take
    # it sooner (bench_sessions: first token p50 at 20 sessions −15%).
    sys.setswitchinterval(0.001)
    return rt


_last: tuple[tuple[object, ...], Settings] | None = None
_built: tuple[Settings, Runtime] | None = None  # the last runtime handed out, while it is open


def _settings() -> Settings:
    """load_settings(), parsed again only when the environment or a secrets file changed
    (it runs twice on every page run, before the request goes out)."""
    global _last
    key = settings_fingerprint()
    if _last is not None and _last[0] == key:
        return _last[1]
    settings = load_settings()
    _last = (key, settings)
    return settings


def get_runtime() -> Runtime:
    """The shared runtime; on a configuration or database problem, say what to do and stop."""
    try:
        settings = _settings()
    except ConfigError as exc:
        st.error(f"**Aeries cannot start: a setting is wrong.** {literal(str(exc))}")
        st.stop()
    global _built
    if _built is not None and _built[0] is settings and not _built[1].closed:
        return _built[1]  # skips hashing the settings for st.cache_resource on every call
    try:
        rt = _runtime(settings)
        _built = (settings, rt)
        return rt
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
    global _built, _last
    _built = _last = None
    _runtime.clear()
