"""Telling people, plainly, when their words are not being saved (and refusing to pretend)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from aeries.runtime import Runtime
from aeries.store.db import DatabaseError, is_storage_error, store_errors
from aeries.ui.identity import current_identity
from aeries.ui.text import literal

STORE_DOWN_NEW = (
    "Aeries cannot save anything right now, so it cannot start a new session. Please try "
    "again in a few minutes, or tell the person running this study."
)
# How long a page waits for a finished answer's rows to be committed before it shows the
# answer as not saved yet (a commit normally takes milliseconds; the bound is for a stall).
SAVE_WAIT_S = 10.0
UNSAVED_ANSWER = (
    "This answer is not saved yet: Aeries cannot write to its database right now. It is kept "
    "and will be saved when storage is back; new messages are paused until then."
)
NOT_SENT = (
    "Your message was not sent, because Aeries cannot save messages right now (see above). "
    "Here it is, to copy and send again later:"
)


def store_is_down(rt: Runtime) -> bool:
    """Whether writes are failing right now (new messages are refused meanwhile)."""
    return not rt.writer.health().ok


def store_banner(rt: Runtime) -> bool:
    """A warning at the top of the page while writes fail; True when they do."""
    health = rt.writer.health()
    identity = current_identity()
    researcher = identity is not None and identity.is_researcher
    if health.ok:
        if researcher and health.rejected_ops:
            st.warning(
                f"**{health.rejected_ops:,} rows were refused by the database** (a bug in "
                f"Aeries); they are kept in `{health.rejected_path}` with the reason."
            )
        return False
    since = f" since {health.since:%H:%M:%S} UTC" if health.since else ""
    text = (
        f"**Your messages are not being saved right now**: {health.problem or 'storage fails'}"
        f"{since}. What you already wrote is kept and will be saved as soon as storage is "
        "back, but new messages are paused until then. Wait a few minutes and reload the "
        "page, or tell the person running this study."
    )
    if researcher:
        text += (
            f"\n\n{health.waiting_ops:,} rows are waiting ({health.spilled_ops:,} of them in a "
            f"spill file next to `{rt.db.path}`). Free disk space or make the folder "
            f"writable; they are written back on their own. Detail: {literal(health.detail or '')}"
        )
    st.error(text, icon=":material/warning:")
    return True


@contextlib.contextmanager
def store_guard(rt: Runtime) -> Iterator[None]:
    """Around a page: a database that cannot be read or written shows a clear message
    instead of a traceback (rows already handed to the writer keep waiting)."""
    try:
        yield
    except DatabaseError as exc:
        st.error(f"**The database cannot be used right now.** {literal(str(exc))}")
        _give_back_unsent()
    except store_errors() as exc:
        if not is_storage_error(exc):
            raise
        st.error(
            "**Aeries cannot read or write its database right now** (the disk may be full, "
            "the data folder not writable, or the database server away). What was already "
            "sent is kept and saved when storage is back. Try again in a few minutes."
        )
        _give_back_unsent()


# Every chat box a page has: a message submitted in the run the store failed in was never
# taken, so it is shown back to copy rather than silently dropped.
PROMPT_KEYS = ("aeries.prompt", "arena.prompt", "study.input", "study.arena.prompt")


def _give_back_unsent() -> None:
    for key in PROMPT_KEYS:
        text = st.session_state.get(key)
        if isinstance(text, str) and text.strip():
            st.warning(NOT_SENT)
            st.code(text, language=None, wrap_lines=True)
