"""The branch on screen: messages with sibling navigation, edit, regenerate and feedback.

Only the end of the branch is drawn (every message costs a dozen widgets, and a conversation
may hold thousands); older messages come back a window at a time. A very long message is drawn
cut, saying how much is hidden, with a control to show it whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from aeries.messages import Message
from aeries.runtime import Runtime
from aeries.store.conversations import set_current_leaf
from aeries.store.facts import message_context
from aeries.store.signals import latest_feedback, record_feedback
from aeries.text import check_message
from aeries.ui.chat.state import (
    ChatView,
    ensure_texts,
    remember,
    set_pending,
    show_earlier,
)
from aeries.ui.notices import notice
from aeries.ui.text import answer_markdown, literal

_EDITING = "aeries.chat.editing"
_WHOLE = "aeries.chat.whole"  # keys of long texts the reader chose to see whole
LONG_TEXT = 20_000  # characters of a message drawn before "Show the whole message"
_LINE_SLACK = 2_000  # cut at a line break if there is one this close to the limit


def metrics_caption(
    model: str | None, ttft_ms: float | None, e2e_ms: float | None, tokens: int | None
) -> str:
    """'model · TTFT 152 ms · 200 tokens · 48.3 tok/s' (parts that are known)."""
    parts = [model] if model else []
    if ttft_ms is not None:
        parts.append(f"TTFT {ttft_ms:,.0f} ms")
    if tokens:
        parts.append(f"{tokens:,} tokens")
        if e2e_ms:
            parts.append(f"{tokens / (e2e_ms / 1000):,.1f} tok/s")
    return " · ".join(parts)


def render_branch(rt: Runtime, view: ChatView) -> None:
    """The last ``view.shown`` messages of the branch on screen, with their controls, under a
    button that brings back older ones."""
    ensure_texts(rt, view)  # a read only after the window widened or the branch switched
    branch = view.branch
    hidden = max(0, len(branch) - view.shown)
    if hidden:
        st.button(
            f"Show earlier messages ({hidden:,} more)",
            key="aeries.chat.earlier",
            icon=":material/expand_less:",
            on_click=show_earlier,
            args=(view,),
        )
    window = branch[hidden:]
    answers = [m.id for m in window if m.role == "assistant"]
    feedback = latest_feedback(rt.db, view.user_id, answers) if answers else {}
    for message in window:
        with st.chat_message(message.role):
            if message.role == "user":
                _user_message(rt, view, message)
            else:
                _assistant_message(rt, view, message, feedback.get(message.id, {}))


def message_body(message: Message, text: str) -> None:
    """One message's text as drawn: a participant's literally, an answer as Markdown."""
    if message.role == "user":
        st.markdown(literal(text))
    else:
        answer_markdown(text)


def _content(message: Message) -> None:
    """A message's text, cut if very long; says so if the text is missing."""
    if not message.loaded:  # its conversation was deleted meanwhile, or the store failed
        st.caption("The text of this message could not be loaded; reload the page to try again.")
        return
    _long_text(message.id, message.content, lambda text: message_body(message, text))


def _long_text(key: str, text: str, draw: Callable[[str], None]) -> None:
    """Draw ``text``, cut at ~LONG_TEXT characters unless the reader asked for all of it; what
    is left out is always said, never silently dropped."""
    whole: set[str] = st.session_state.get(_WHOLE, set())
    if len(text) <= LONG_TEXT:
        draw(text)
        return
    if key in whole:
        draw(text)
        st.button("Show less", key=f"less-{key}", on_click=_set_whole, args=(key, False))
        return
    cut = _cut_at(text)
    draw(text[:cut])
    st.caption(
        f"Showing the first {cut:,} of {len(text):,} characters; "
        f"{len(text) - cut:,} more are hidden."
    )
    st.button("Show the whole message", key=f"whole-{key}", on_click=_set_whole, args=(key, True))


def _cut_at(text: str) -> int:
    """Where to cut a long text: the last line break near the limit, else the limit."""
    newline = text.rfind("\n", LONG_TEXT - _LINE_SLACK, LONG_TEXT)
    return newline if newline > 0 else LONG_TEXT


def _set_whole(key: str, whole: bool) -> None:
    keys: set[str] = set(st.session_state.get(_WHOLE, set()))
    if whole:
        keys.add(key)
    else:
        keys.discard(key)
    st.session_state[_WHOLE] = keys


def _action_row() -> DeltaGenerator:
    """One compact row of actions under a message: each widget as wide as its content."""
    return st.container(horizontal=True, vertical_alignment="center", gap="small")


class _Action(NamedTuple):
    """A message's own button in its action row: icon, key prefix, tooltip."""

    icon: str
    key: str
    help: str


_EDIT = _Action(":material/edit:", "edit", "Edit this message (keeps the original)")
_REGENERATE = _Action(":material/refresh:", "regen", "Regenerate (keeps this answer)")


def _message_actions(
    rt: Runtime,
    view: ChatView,
    message: Message,
    action: _Action,
    on_click: Callable[..., None],
    args: tuple[Any, ...] | None = None,
) -> DeltaGenerator:
    """The action row under a message: its versions ‹ n/m ›, then its own ``action`` button;
    returned so that more actions can follow in it."""
    row = _action_row()
    _sibling_nav(rt, view, message, row)
    key = f"{action.key}-{message.id}"
    row.button(action.icon, key=key, help=action.help, on_click=on_click, args=args)
    return row


def _sibling_nav(rt: Runtime, view: ChatView, message: Message, row: DeltaGenerator) -> None:
    index, count = view.tree.position(message.id)
    if count < 2:
        return
    row.button(
        ":material/chevron_left:",
        key=f"prev-{message.id}",
        disabled=index == 1,
        help="Previous version",
        on_click=_switch,
        args=(rt, view, message.id, -1),
    )
    row.markdown(f"{index} / {count}", width="content")
    row.button(
        ":material/chevron_right:",
        key=f"next-{message.id}",
        disabled=index == count,
        help="Next version",
        on_click=_switch,
        args=(rt, view, message.id, 1),
    )


def _switch(rt: Runtime, view: ChatView, message_id: str, step: int) -> None:
    view.leaf_id = view.tree.switch(message_id, step)
    if view.conversation_id:
        set_current_leaf(rt.writer, view.user_id, view.conversation_id, view.leaf_id)
    remember(view)


def _user_message(rt: Runtime, view: ChatView, message: Message) -> None:
    if st.session_state.get(_EDITING) == message.id:
        _edit_form(view, message)
        return
    _content(message)
    _message_actions(
        rt, view, message, _EDIT, lambda: st.session_state.update({_EDITING: message.id})
    )


def _edit_form(view: ChatView, message: Message) -> None:
    with st.form(key=f"edit-form-{message.id}"):
        text = st.text_area("Edit message", value=message.content, key=f"edit-text-{message.id}")
        save, cancel = st.columns(2)
        saved = save.form_submit_button("Save and send", type="primary")
        cancelled = cancel.form_submit_button("Cancel")
    if cancelled:
        st.session_state.pop(_EDITING, None)
        st.rerun()
    if saved:
        hint = check_message(text)
        if hint:
            st.warning(hint)
            return
        st.session_state.pop(_EDITING, None)
        set_pending({"kind": "edit", "message_id": message.id, "text": text})
        st.rerun()


def _assistant_message(rt: Runtime, view: ChatView, message: Message, feedback: dict) -> None:
    if message.reasoning:
        with st.expander("Reasoning", expanded=False):
            _long_text(f"r-{message.id}", message.reasoning, answer_markdown)
    if message.content or not message.loaded:
        _content(message)
    meta = message.meta
    if message.status == "error":
        st.error(literal(meta.get("error") or "This answer failed."))
    elif message.status == "aborted":
        st.caption("Stopped before the end.")
    elif message.status == "cut_off":
        st.warning(literal(meta.get("error") or "The model server stopped this answer early."))
    elif message.status == "interrupted":
        st.warning(
            "Interrupted: Aeries stopped (a restart or a crash) before this answer ended. This "
            "is what had arrived; regenerate it for a whole answer."
        )
    st.caption(
        metrics_caption(
            meta.get("model"),
            meta.get("ttft_ms"),
            meta.get("e2e_ms"),
            meta.get("completion_tokens"),
        )
    )
    answer_controls(rt, view, message, feedback)


def answer_controls(rt: Runtime, view: ChatView, message: Message, feedback: dict) -> None:
    """Versions ‹ n/m ›, regenerate, thumbs and comment under an answer."""
    regenerate = {"kind": "regenerate", "message_id": message.id}
    row = _message_actions(rt, view, message, _REGENERATE, set_pending, (regenerate,))
    if message.status == "error" and not message.content:
        return
    with row:
        default = feedback.get("thumbs")
        st.feedback(
            "thumbs",
            key=f"thumbs-{message.id}",
            default=int(float(default)) if default is not None else None,
            on_change=_thumbs,
            args=(rt, view, message),
        )
    with row.popover("Comment", icon=":material/chat_bubble:"):
        with st.form(key=f"comment-form-{message.id}", clear_on_submit=True):
            text = st.text_area("What worked, what didn't?", key=f"comment-{message.id}")
            if st.form_submit_button("Save comment"):
                if text.strip():
                    _feedback(rt, view, message, None, text)
                    st.toast("Comment saved.")
                else:
                    st.warning("Write a comment first.")
        if feedback.get("comment"):
            st.caption(f"Last comment: {literal(str(feedback['comment']))}")


def _thumbs(rt: Runtime, view: ChatView, message: Message) -> None:
    value = st.session_state.get(f"thumbs-{message.id}")
    if value is None:
        return
    _feedback(rt, view, message, bool(value), None)
    notice("Thanks, your feedback was saved.")


def _feedback(
    rt: Runtime, view: ChatView, message: Message, up: bool | None, comment: str | None
) -> None:
    if view.conversation_id is None:
        return
    record_feedback(
        rt.writer,
        user_id=view.user_id,
        conversation_id=view.conversation_id,
        message_id=message.id,
        exchange_id=message.exchange_id,
        thumbs_up=up,
        comment=comment,
        about=message_context(view.user_id, message),
    )
