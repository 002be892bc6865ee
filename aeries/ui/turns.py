"""Starting a chat turn from the page: new message, regenerate or edit, then streaming it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aeries.chat import Turn, TurnSpec, user_message
from aeries.runtime import Runtime
from aeries.store.conversations import new_conversation, save_message
from aeries.ui.chat_state import ChatView, remember
from aeries.ui.model_controls import ModelChoice
from aeries.ui.stream_view import render_stream


def _spec(view: ChatView, choice: ModelChoice, origin: str, origin_id: str | None) -> TurnSpec:
    assert view.conversation_id is not None
    return TurnSpec(
        user_id=view.user_id,
        conversation_id=view.conversation_id,
        endpoint=choice.model.endpoint,
        model=choice.model.id,
        sampling=choice.sampling,
        system_prompt=choice.system_prompt,
        origin=origin,
        origin_message_id=origin_id,
    )


def start_new_message(rt: Runtime, view: ChatView, choice: ModelChoice, text: str) -> Turn:
    """A user message at the end of the shown branch; the request is sent before any write."""
    is_new = view.conversation is None
    if is_new:
        view.conversation = new_conversation(rt.writer, view.user_id, text)
    assert view.conversation_id is not None
    message = user_message(view.conversation_id, view.leaf_id, text)
    view.tree.add(message)
    view.leaf_id = message.id
    turn = Turn(rt, _spec(view, choice, "new", None), view.branch)
    save_message(rt.writer, view.user_id, message)
    remember(view)
    return turn


def start_pending(
    rt: Runtime, view: ChatView, choice: ModelChoice, action: dict[str, Any]
) -> Turn | None:
    """A regenerate (sibling answer) or an edit (sibling question, then its answer)."""
    message_id = action.get("message_id")
    if view.conversation is None or message_id not in view.tree:
        return None
    original = view.tree.get(message_id)
    if action["kind"] == "regenerate":
        if original.parent_id is None:
            return None
        view.leaf_id = original.parent_id
        turn = Turn(rt, _spec(view, choice, "regenerate", original.id), view.branch)
    else:
        edited = user_message(
            view.conversation_id,
            original.parent_id,
            action["text"],
            origin="edit",
            origin_message_id=original.id,
        )
        view.tree.add(edited)
        view.leaf_id = edited.id
        turn = Turn(rt, _spec(view, choice, "new", None), view.branch)
        save_message(rt.writer, view.user_id, edited)
    remember(view)
    return turn


def stream_turn(view: ChatView, turn: Turn) -> None:
    """Show the answer as it streams; however the run ends, persist what arrived."""
    try:
        with st.chat_message("assistant"):
            render_stream(turn.stream)
    finally:
        # Runs on Stop, on a rerun (new input mid-stream) and on page change too: the stream
        # is closed (vLLM aborts the request) and the partial answer is stored as 'aborted'.
        answer = turn.finish()
        view.tree.add(answer)
        view.leaf_id = answer.id
        remember(view, url=False)
