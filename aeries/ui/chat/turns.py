"""Starting a chat turn from the page: new message, regenerate or edit, then streaming it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aeries.brief import assemble_brief
from aeries.chat import (
    Turn,
    TurnSpec,
    user_message,
)
from aeries.messages import Message
from aeries.runtime import Runtime
from aeries.store.conversations import new_conversation, save_message
from aeries.store.preferences import implicit_preference_ops
from aeries.store.signals import record_implicit, record_reply_delay
from aeries.ui.chat.controls import ModelChoice
from aeries.ui.chat.messages import answer_controls
from aeries.ui.chat.state import ChatView, brief_default, remember
from aeries.ui.chat.stream import caption_once_saved, render_stream
from aeries.ui.store_health import UNSAVED_ANSWER, store_is_down


def _spec(
    rt: Runtime, view: ChatView, choice: ModelChoice, origin: str, origin_id: str | None
) -> TurnSpec:
    """What to send: persona prompt, then the brief (if on for this conversation)."""
    assert view.conversation is not None
    brief_on = view.conversation.brief_enabled
    brief = assemble_brief(rt.db, view.user_id) if brief_on else None
    params: dict[str, Any] = {"brief": brief_on, "brief_hash": brief.hash if brief else None}
    if choice.persona is not None:
        params["persona"] = choice.persona.name
    return TurnSpec(
        user_id=view.user_id,
        conversation_id=view.conversation.id,
        endpoint=choice.model.endpoint,
        model=choice.model.id,
        sampling=choice.sampling,
        system_prompt=choice.system_prompt,
        brief=brief.text if brief else None,
        origin=origin,
        origin_message_id=origin_id,
        persona_id=choice.persona.id if choice.persona else None,
        brief_enabled=brief_on,
        params=params,
        max_model_len=choice.model.max_model_len,
    )


def start_new_message(rt: Runtime, view: ChatView, choice: ModelChoice, text: str) -> Turn:
    """A user message at the end of the shown branch; the request is sent before any write."""
    if view.conversation is None:
        persona_id = choice.persona.id if choice.persona else None
        view.conversation = new_conversation(
            rt.writer, view.user_id, text, persona_id, brief_enabled=brief_default()
        )
    assert view.conversation_id is not None
    message = user_message(view.conversation_id, view.leaf_id, text)
    view.tree.add(message)
    view.leaf_id = message.id
    previous = view.tree.get(message.parent_id) if message.parent_id else None
    turn = Turn(rt, _spec(rt, view, choice, "new", None), view.branch)
    save_message(rt.writer, view.user_id, message)
    if previous is not None:
        record_reply_delay(rt.writer, view.user_id, previous, message)
        _implicit_preference(rt, view, previous, message)
    remember(view)
    return turn


def _implicit_preference(rt: Runtime, view: ChatView, chosen: Message, reply: Message) -> None:
    """Carrying on from one of several regenerated answers (the first time) prefers it."""
    if chosen.role != "assistant" or view.conversation_id is None:
        return
    if [c.id for c in view.tree.children(chosen.id)] != [reply.id]:
        return  # not the first message after this answer: already recorded
    others = [m for m in view.tree.siblings(chosen.id) if m.id != chosen.id]
    if others:
        rt.writer.submit(
            *implicit_preference_ops(view.user_id, view.conversation_id, chosen, others)
        )


def start_pending(
    rt: Runtime, view: ChatView, choice: ModelChoice, action: dict[str, Any]
) -> Turn | None:
    """A regenerate (sibling answer) or an edit (sibling question, then its answer)."""
    message_id = action.get("message_id")
    if view.conversation is None or message_id is None or message_id not in view.tree:
        return None
    original = view.tree.get(message_id)
    if action["kind"] == "regenerate":
        if original.parent_id is None:
            return None
        view.leaf_id = original.parent_id
        turn = Turn(rt, _spec(rt, view, choice, "regenerate", original.id), view.branch)
        record_implicit(rt.writer, "regenerate", view.user_id, original)
    else:
        edited = user_message(
            view.conversation.id,
            original.parent_id,
            action["text"],
            origin="edit",
            origin_message_id=original.id,
        )
        view.tree.add(edited)
        view.leaf_id = edited.id
        turn = Turn(rt, _spec(rt, view, choice, "new", None), view.branch)
        save_message(rt.writer, view.user_id, edited)
        record_implicit(rt.writer, "edit", view.user_id, original)
    remember(view)
    return turn


def start_turn(
    rt: Runtime,
    view: ChatView,
    choice: ModelChoice,
    prompt: str | None,
    action: dict[str, Any] | None,
) -> Turn | None:
    """A turn for a new message, or for a pending regenerate/edit, or None."""
    if prompt is not None:
        return start_new_message(rt, view, choice, prompt)
    if action is not None:
        return start_pending(rt, view, choice, action)
    return None


def stream_turn(rt: Runtime, view: ChatView, turn: Turn) -> None:
    """Show the answer as it streams, then its controls in place (no rerun, which would drop
    the last drawn text); however the run ends, persist what arrived."""
    try:
        with st.chat_message("assistant"):
            render_stream(turn.stream)
            answer = _settle(view, turn)
            # Metrics and controls only once the rows are committed (prompt when the store
            # is failing: the message below says so).
            saved = caption_once_saved(rt.writer, turn.stream)
            answer_controls(rt, view, answer, {})
            if not saved or store_is_down(rt):
                st.error(UNSAVED_ANSWER)
    finally:
        # Runs on Stop, on a rerun (new input mid-stream) and on page change too: the stream
        # is closed (vLLM aborts the request) and the partial answer is stored as 'aborted'.
        _settle(view, turn)
        remember(view, url=False)


def _settle(view: ChatView, turn: Turn) -> Message:
    """Persist the answer (once) and make it the end of the branch on screen."""
    answer = turn.finish()
    view.tree.add(answer)
    view.leaf_id = answer.id
    return answer
