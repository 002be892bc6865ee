"""Sidebar: new chat, search, the conversation list, and actions on the open conversation."""

from __future__ import annotations

import re

import streamlit as st

from aeries.export import conversation_json, conversation_markdown
from aeries.runtime import Runtime
from aeries.store.conversations import (
    delete_conversation,
    list_conversations,
    rename_conversation,
    set_archived,
)
from aeries.ui.chat_state import ChatView, notice, show_conversation
from aeries.ui.text import label


def _file_stem(title: str) -> str:
    stem = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip().replace(" ", "-")
    return (stem or "conversation")[:60]


def conversation_sidebar(rt: Runtime, view: ChatView) -> None:
    """The conversation list (by last activity), search and per-conversation actions."""
    bar = st.sidebar
    bar.button(
        "➕ New chat",
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
    with st.sidebar.expander("This conversation", expanded=False):
        title = st.text_input("Title", value=conv.title, key=f"title-{conv.id}", max_chars=100)
        if st.button("Rename", key=f"rename-{conv.id}"):
            if title.strip():
                conv.title = rename_conversation(rt.writer, view.user_id, conv.id, title)
                notice("Renamed.")
                st.rerun()
            else:
                st.warning("A title cannot be empty.")
        stem = _file_stem(conv.title)
        st.download_button(
            "Export Markdown",
            conversation_markdown(conv, view.branch),
            file_name=f"{stem}.md",
            mime="text/markdown",
            key=f"md-{conv.id}",
        )
        st.download_button(
            "Export JSON",
            conversation_json(conv, view.tree, view.leaf_id),
            file_name=f"{stem}.json",
            mime="application/json",
            key=f"json-{conv.id}",
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
