"""What the chat page shows: the current conversation, its tree and the branch on screen.

The tree is kept in session state between reruns, so a new message is sent to the model
without a database read first; it is reloaded from DuckDB when the conversation changes.

A conversation can hold thousands of messages, so it is loaded as a skeleton (every message,
no text) and the text is read only for the end of the branch on screen: the messages drawn
(``ChatView.shown``) plus the ones the next request's history may need. ``ensure_texts`` tops
that up after the window widens or the branch switches, when the page is drawn (after any
request has gone out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from aeries.messages import Message, MessageTree
from aeries.runtime import Runtime
from aeries.store.conversations import (
    Conversation,
    get_conversation,
    load_skeleton,
    load_texts,
)
from aeries.ui.notices import notice

_VIEW = "aeries.chat.view"
_PENDING = "aeries.chat.pending"
_BRIEF_DEFAULT = "aeries.chat.brief_for_new"
WINDOW = 50  # messages of the branch drawn at first, and added by "Show earlier messages"


@dataclass
class ChatView:
    """The conversation on screen (None before the first message of a new chat)."""

    user_id: str
    conversation: Conversation | None = None
    tree: MessageTree = field(default_factory=MessageTree)
    leaf_id: str | None = None
    shown: int = WINDOW  # how many messages at the end of the branch are drawn

    @property
    def branch(self) -> list[Message]:
        """Messages of the branch on screen, root first."""
        return self.tree.path(self.leaf_id)

    @property
    def conversation_id(self) -> str | None:
        """The id of the conversation on screen, if any."""
        return self.conversation.id if self.conversation else None


def _load(rt: Runtime, user_id: str, conversation_id: str) -> ChatView | None:
    rt.writer.flush()
    conversation = get_conversation(rt.db, user_id, conversation_id)
    if conversation is None:
        return None
    tree = MessageTree(load_skeleton(rt.db, user_id, conversation_id))
    leaf = conversation.current_leaf_id
    if leaf not in tree:
        leaf = tree.default_leaf()
    view = ChatView(user_id, conversation, tree, leaf)
    ensure_texts(rt, view)
    return view


def ensure_texts(rt: Runtime, view: ChatView) -> None:
    """Load the text of the messages that may be drawn or sent next, if any is missing.

    That is the end of the branch (the drawn window plus the history a request may carry, for a
    regenerate or edit of the oldest drawn message) and the siblings of those messages (the
    implicit preference for an answer the user carried on from compares it with them).
    """
    if view.conversation is None:
        return
    branch = view.branch
    tail = branch[-(view.shown + rt.settings.history) :]
    wanted = [i for m in tail for i in view.tree.unloaded(view.tree.siblings(m.id))]
    if wanted:
        view.tree.fill(load_texts(rt.db, view.user_id, view.conversation.id, sorted(set(wanted))))


def show_earlier(view: ChatView) -> None:
    """Draw another window of older messages (their text is loaded as the page is drawn)."""
    view.shown += WINDOW


def current_view(rt: Runtime, user_id: str) -> ChatView:
    """The view for this session, following ``?c=<id>`` in the URL (scoped to the user)."""
    view: ChatView | None = st.session_state.get(_VIEW)
    wanted = st.query_params.get("c")
    if view is not None and view.user_id == user_id and view.conversation_id == wanted:
        return view
    if wanted:
        loaded = _load(rt, user_id, wanted)
        if loaded is None:
            notice("That conversation does not exist, or it is not yours.")
            del st.query_params["c"]
            loaded = ChatView(user_id)
        view = loaded
    else:
        view = ChatView(user_id)
    st.session_state[_VIEW] = view
    return view


def show_conversation(conversation_id: str | None) -> None:
    """Switch the page to a conversation (None: a new chat)."""
    st.session_state.pop(_VIEW, None)
    st.session_state.pop(_PENDING, None)
    if conversation_id:
        st.query_params["c"] = conversation_id
    elif "c" in st.query_params:
        del st.query_params["c"]


def remember(view: ChatView, *, url: bool = True) -> None:
    """Keep the view (after adding messages) and put its conversation in the URL.

    ``url=False`` while the script is being stopped: only session state may change then.
    """
    st.session_state[_VIEW] = view
    if url and view.conversation_id and st.query_params.get("c") != view.conversation_id:
        st.query_params["c"] = view.conversation_id


def set_pending(action: dict[str, Any]) -> None:
    """Ask the next run to generate (regenerate / edit); the request goes out first thing."""
    st.session_state[_PENDING] = action


def take_pending() -> dict[str, Any] | None:
    """The pending generation, removed from state."""
    return st.session_state.pop(_PENDING, None)


def brief_default() -> bool:
    """Whether a new conversation starts with the brief on (the panel's switch before sending)."""
    return bool(st.session_state.get(_BRIEF_DEFAULT, True))


def set_brief_default(enabled: bool) -> None:
    """Remember the brief switch for the next new conversation."""
    st.session_state[_BRIEF_DEFAULT] = enabled
