"""“What Aeries knows about you”: the brief, the evidence behind each line, and controls."""

from __future__ import annotations

import hashlib

import streamlit as st

from aeries.brief import assemble_brief
from aeries.runtime import Runtime
from aeries.store.conversations import set_brief_enabled
from aeries.store.events import log_event
from aeries.store.evidence import evidence, forget_item
from aeries.ui.chat.state import ChatView, brief_default, set_brief_default
from aeries.ui.notices import notice
from aeries.ui.text import literal

PANEL_TITLE = "What Aeries knows about you"
PANEL_ICON = ":material/psychology:"
PANEL_KEY = "aeries.knowledge"  # the panel's open state (st.session_state)
_SECTIONS = {"preference": "Preference", "correction": "Correction", "topic": "Interest"}


def _key(name: str, value: str) -> str:
    return hashlib.sha256(f"{name}\x00{value}".encode()).hexdigest()[:12]


def _toggle(rt: Runtime, view: ChatView) -> None:
    enabled = bool(st.session_state["aeries.brief_on"])
    if view.conversation is None:
        set_brief_default(enabled)
        return
    view.conversation.brief_enabled = enabled
    set_brief_enabled(rt.writer, view.user_id, view.conversation.id, enabled)
    log_event(
        rt.writer,
        "brief_toggled",
        user_id=view.user_id,
        conversation_id=view.conversation.id,
        payload={"enabled": enabled},
    )


def _forget(rt: Runtime, view: ChatView, name: str, value: str) -> None:
    forget_item(rt.writer, view.user_id, name, value)
    notice("Forgotten. It no longer shapes your answers.")


def knowledge_panel(rt: Runtime, view: ChatView) -> None:
    """An expander showing the current brief and letting the user correct it.

    Its content is read and drawn only while it is open (opening it reruns the page): closed,
    as it mostly is, it costs no query and no element on a run, and every chat run draws it.
    """
    panel = st.expander(
        PANEL_TITLE, expanded=False, icon=PANEL_ICON, key=PANEL_KEY, on_change="rerun"
    )
    if not panel.open:
        return
    brief = assemble_brief(rt.db, view.user_id)
    enabled = view.conversation.brief_enabled if view.conversation else brief_default()
    st.session_state["aeries.brief_on"] = enabled
    with panel:
        st.toggle(
            "Use this in this conversation",
            key="aeries.brief_on",
            on_change=_toggle,
            args=(rt, view),
            help="When on, answers are shaped by what Aeries learned about you.",
        )
        if not brief.lines:
            st.caption("Nothing yet. Aeries learns from your conversations as you chat.")
            return
        st.caption("Sent to the model as a system message after the persona's instructions:")
        st.code(brief.text, language=None, wrap_lines=True)
        for line in brief.lines:
            key = _key(line.name, line.value)
            text, forget = st.columns([5, 1], vertical_alignment="center")
            text.markdown(
                f"**{_SECTIONS[line.name]}:** {literal(line.label)}  \n"
                f"seen {line.observations}× · weight {line.weight:.2f}"
            )
            forget.button(
                "Forget",
                key=f"forget-{key}",
                on_click=_forget,
                args=(rt, view, line.name, line.value),
            )
            # The evidence is read only when asked for (opening the popover reruns the page).
            why = st.popover("Why?", key=f"why-{key}", on_change="rerun")
            if why.open:
                why.dataframe(evidence(rt.db, view.user_id, line.name, line.value), hide_index=True)
