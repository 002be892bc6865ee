"""Sidebar: new chat, search, the conversation list, and actions on the open conversation."""

from __future__ import annotations

import re
from collections.abc import Callable

import streamlit as st

from aeries.runtime import Runtime
from aeries.store.conversations import (
    Conversation,
    delete_conversation,
    list_conversations,
    rename_conversation,
    set_archived,
)
from aeries.store.db import Database
from aeries.text import HEADING_MAX, make_title
from aeries.transcripts import json_export, markdown_export
from aeries.ui.chat.state import ChatView, show_conversation
from aeries.ui.notices import notice
from aeries.ui.text import label, literal

ACTIONS_KEY = "aeries.conversation_actions"  # "This conversation" open (st.session_state)


def _file_stem(title: str) -> str:
    stem = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip().replace(" ", "-")
    return (stem or "conversation")[:60]


Exporter = Callable[[Database, str, Conversation, str | None], str]


def _deferred(
    rt: Runtime, build: Exporter, user_id: str, conv: Conversation, leaf_id: str | None
) -> Callable[[], str]:
    """The export as a callable for ``st.download_button``; Streamlit runs it on the server's
    thread when the button is clicked (so it must not call ``st.*``)."""

    def make() -> str:
        rt.writer.flush()  # messages of this session may still be on their way to the file
        return build(rt.db, user_id, conv, leaf_id)

    return make


# The export buttons: name, builder, file extension (also the button key's prefix), MIME type.
_EXPORTS: tuple[tuple[str, Exporter, str, str], ...] = (
    ("Export Markdown", markdown_export, "md", "text/markdown"),
    ("Export JSON", json_export, "json", "application/json"),
)


def conversation_heading(view: ChatView) -> None:
    """The page heading: the conversation's title on one line (in full on hover when cut)."""
    title = view.conversation.title if view.conversation else "New chat"
    heading = make_title(title, HEADING_MAX)
    st.subheader(literal(heading), anchor=False, help=literal(title) if heading != title else None)


def conversation_sidebar(rt: Runtime, view: ChatView) -> None:
    """The conversation list (by last activity), search and per-conversation actions."""
    bar = st.sidebar
    bar.button(
        "New chat",
        icon=":material/add:",
        key="aeries.new_chat",
        width="stretch",
        on_click=show_conversation,
        args=(None,),
    )
    query = bar.text_input(
        "Search conversations", key="aeries.search", placeholder="Titles and messages"
    )
    archived = bar.toggle("Show archived", key="aeries.show_archived")
    rt.writer.flush()
    conversations = list_conversations(rt.db, view.user_id, archived=archived, query=query)
    if not conversations:
        bar.caption("No matches." if query else "No conversations yet.")
    for conv in conversations:
        current = conv.id == view.conversation_id
        bar.button(
            label(conv.title),
            key=f"conv-{conv.id}",
            width="stretch",
            type="primary" if current else "secondary",
            on_click=show_conversation,
            args=(conv.id,),
        )
    if view.conversation is not None:
        _actions(rt, view)


def _actions(rt: Runtime, view: ChatView) -> None:
    conv = view.conversation
    assert conv is not None
    # Its widgets are drawn only while it is open (opening it reruns the page): the export
    # buttons and forms would otherwise be built on every chat run, answers included.
    actions = st.sidebar.expander(
        "This conversation", expanded=False, key=ACTIONS_KEY, on_change="rerun"
    )
    if not actions.open:
        return
    with actions:
        title = st.text_input("Title", value=conv.title, key=f"title-{conv.id}", max_chars=100)
        if st.button("Rename", key=f"rename-{conv.id}"):
            if title.strip():
                conv.title = rename_conversation(rt.writer, view.user_id, conv.id, title)
                notice("Renamed.")
                st.rerun()
            else:
                st.warning("A title cannot be empty.")
        stem = _file_stem(conv.title)
        # Built when clicked, from the database: the page holds only part of a long
        # conversation's text, and building both files on every rerun would cost as much.
        for name, build, ext, mime in _EXPORTS:
            st.download_button(
                name,
                _deferred(rt, build, view.user_id, conv, view.leaf_id),
                file_name=f"{stem}.{ext}",
                mime=mime,
                on_click="ignore",
                key=f"{ext}-{conv.id}",
            )
        archive_label = "Unarchive" if conv.archived else "Archive"
        if st.button(archive_label, key=f"archive-{conv.id}"):
            set_archived(rt.writer, view.user_id, conv.id, not conv.archived)
            notice("Archived." if not conv.archived else "Back in the list.")
            show_conversation(None)
            st.rerun()
        sure = st.checkbox("I want to delete it", key=f"sure-{conv.id}")
        if st.button("Delete", key=f"delete-{conv.id}", disabled=not sure, type="primary"):
            delete_conversation(rt.writer, view.user_id, conv.id)
            notice("Deleted. Its logged exchanges stay available to research exports.")
            show_conversation(None)
            st.rerun()
