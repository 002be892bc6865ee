"""The rater's view: pick an open queue, read the rubric's instructions, label the item handed
out, blind.

What a rater is shown of an item comes from ``aeries.annotation.item_view`` (roles and texts
only), drawn as the chat page draws it: the participant's words literally, answers as
Markdown that never loads an image. Nothing on this view names the model, the persona, the
study or its condition, or shows another rater's labels: the queue row, the rubric and the
rater's own progress are all it reads besides the item.

The item's widgets sit in one form, so choosing points does not rerun the page; Submit and
Skip are its buttons, and run as callbacks (the next item is drawn in the same run). Keys
carry the exchange id, so the next item starts blank.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aeries.annotation.item_view import ShownTurn, item_view
from aeries.annotation.rubric import Rubric, RubricError, RubricItem, from_spec
from aeries.auth import Identity
from aeries.runtime import Runtime
from aeries.store.annotation import (
    CLAIM_TTL,
    Queue,
    get_queue,
    list_queues,
    next_item,
    rater_progress,
    rubric_version,
    submit,
    undo_last,
)
from aeries.store.db import is_storage_error, store_errors
from aeries.ui.annotate.keys import LIKERT_PREFIX, RATE_CONTAINER, SUBMIT_KEY, keyboard_script
from aeries.ui.text import answer_markdown, label, literal
from aeries.vocabulary import SubmissionOutcome

QUEUE_PARAM = "queue"
_QUEUE = "aeries.annotate.queue"
_QUEUE_WRITTEN = "aeries.annotate.queue_written"  # the ?queue= this page last put in the URL
_SAID = "aeries.annotate.said"  # (kind, text) left by an action for the next draw
_HISTORY = "aeries.annotate.history"  # this session's submissions, for undo to refill
SHOWN_BEFORE = 6  # earlier messages shown above the answer; older ones folded away
STORE_DOWN = "The store cannot be written right now, so this was not saved. Try again in a moment."
BOOLEAN_NAMES = {"true": "Yes", "false": "No"}


def widget_key(index: int, item: RubricItem, exchange_id: str) -> str:
    """The key of one rubric item's widget for one exchange (Likert ones carry the prefix the
    keyboard script looks for)."""
    if item.kind == "likert":
        return f"{LIKERT_PREFIX}{index}-{exchange_id}"
    return f"aeries-annotate-item-{index}-{exchange_id}"


def _flag_key(exchange_id: str) -> str:
    return f"aeries-annotate-flag-{exchange_id}"


def _note_key(exchange_id: str) -> str:
    return f"aeries-annotate-note-{exchange_id}"


def _say(kind: str, text: str) -> None:
    st.session_state[_SAID] = (kind, text)


def _show_said() -> None:
    said = st.session_state.pop(_SAID, None)
    if said is None:
        return
    kind, text = said
    if kind == "toast":
        st.toast(literal(text))
    elif kind == "error":
        st.error(literal(text))
    elif kind == "warning":
        st.warning(literal(text))
    else:
        st.info(literal(text))


def _history() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] | None = st.session_state.get(_HISTORY)
    if found is None:
        found = {}
        st.session_state[_HISTORY] = found
    return found


# --- actions (callbacks: they run before the page is drawn again) ---------------------------


def _act(
    rt: Runtime,
    queue_id: str,
    rubric: Rubric,
    exchange_id: str,
    rater_id: str,
    outcome: SubmissionOutcome,
) -> None:
    """Submit or skip the item on screen, with the flag and note the rater set."""
    state = st.session_state
    flagged = bool(state.get(_flag_key(exchange_id)))
    note = str(state.get(_note_key(exchange_id)) or "").strip() or None
    raw = {
        item.key: state.get(widget_key(i, item, exchange_id)) for i, item in enumerate(rubric.items)
    }
    labels: dict[str, str | None] = {}
    if outcome == "labelled":
        try:
            labels = rubric.check(raw)
        except RubricError as exc:
            _say("error", exc.message)
            return
    try:
        queue = get_queue(rt.db, queue_id)
        if queue is None or queue.status != "open":
            _say("warning", "This queue was closed meanwhile; nothing was saved.")
            return
        submit(rt.db, queue, exchange_id, rater_id, outcome, labels, flagged=flagged, note=note)
    except store_errors() as exc:
        if not is_storage_error(exc):
            raise
        _say("error", STORE_DOWN)
        return
    except ValueError as exc:  # no longer theirs (the claim expired), or already submitted
        _say("warning", str(exc))
        return
    _history()[(queue_id, exchange_id)] = {"labels": raw, "flagged": flagged, "note": note or ""}
    word = "Skipped" if outcome == "skipped" else "Saved"
    _say("toast", f"{word}{' and flagged' if flagged else ''}.")


def _undo(rt: Runtime, queue_id: str, rubric: Rubric, rater_id: str) -> None:
    """Take back the rater's last submission; its item comes back, filled in as they left it
    when it was submitted in this session."""
    try:
        queue = get_queue(rt.db, queue_id)
        exchange_id = undo_last(rt.db, queue, rater_id) if queue is not None else None
    except store_errors() as exc:
        if not is_storage_error(exc):
            raise
        _say("error", STORE_DOWN)
        return
    if exchange_id is None:
        _say("info", "Nothing to undo: you have not submitted anything in this queue.")
        return
    before = _history().get((queue_id, exchange_id))
    if before is not None:
        state = st.session_state
        for i, item in enumerate(rubric.items):
            value = before["labels"].get(item.key)
            if value is not None:
                state[widget_key(i, item, exchange_id)] = value
        state[_flag_key(exchange_id)] = before["flagged"]
        state[_note_key(exchange_id)] = before["note"]
    _say("info", "Your last submission is taken back: change it and submit again.")


# --- drawing ----------------------------------------------------------------------------------


def choose_queue(rt: Runtime) -> Queue | None:
    """The open queue this rater works on: from the selector, or first from ``?queue=`` (a
    link a researcher handed out); the choice is kept in the URL so a reload stays on it."""
    queues = [q for q in list_queues(rt.db) if q.status == "open"]
    if not queues:
        st.info(
            "No queue is open for labelling right now. When a researcher opens one, it is here."
        )
        return None
    by_id = {q.id: q for q in queues}
    state = st.session_state
    wanted = st.query_params.get(QUEUE_PARAM)
    # A ?queue= this page did not write (a link just opened, an address typed) wins once.
    if wanted and wanted != state.get(_QUEUE_WRITTEN):
        if wanted in by_id:
            state[_QUEUE] = wanted
        else:
            st.warning("The queue named in this address is closed or does not exist.")
    if state.get(_QUEUE) not in by_id:
        state[_QUEUE] = wanted if wanted in by_id else queues[0].id
    chosen = st.selectbox("Queue", list(by_id), format_func=lambda qid: by_id[qid].name, key=_QUEUE)
    st.query_params[QUEUE_PARAM] = chosen
    state[_QUEUE_WRITTEN] = chosen
    return by_id[chosen]


def _turn(turn: ShownTurn) -> None:
    with st.chat_message(turn.role):
        if turn.role == "user":
            st.markdown(literal(turn.text))
        else:
            answer_markdown(turn.text)


def _conversation(turns: tuple[ShownTurn, ...]) -> None:
    earlier = list(turns[:-1])
    if len(earlier) > SHOWN_BEFORE:
        folded = earlier[:-SHOWN_BEFORE]
        with st.expander(f"Earlier in the conversation ({len(folded)} messages)"):
            for turn in folded:
                _turn(turn)
        earlier = earlier[-SHOWN_BEFORE:]
    for turn in earlier:
        _turn(turn)
    st.caption("**The answer to rate:**")
    _turn(turns[-1])


def _widget(index: int, item: RubricItem, exchange_id: str) -> None:
    key = widget_key(index, item, exchange_id)
    prompt = label(item.prompt) + ("" if item.required else " (optional)")
    help_text = literal(item.instructions) if item.instructions else None
    if item.kind == "likert":
        names = dict(zip(item.values, item.labels, strict=True))
        st.radio(
            prompt,
            item.values,
            index=None,
            horizontal=True,
            format_func=lambda v: f"{v} · {label(names[v])}",
            key=key,
            help=help_text,
        )
    elif item.kind == "categorical":
        st.radio(
            prompt,
            item.values,
            index=None,
            horizontal=len(item.values) <= 5,
            format_func=label,
            key=key,
            help=help_text,
        )
    elif item.kind == "boolean":
        st.radio(
            prompt,
            item.values,
            index=None,
            horizontal=True,
            format_func=lambda v: BOOLEAN_NAMES[v],
            key=key,
            help=help_text,
        )
    else:
        st.text_area(prompt, key=key, help=help_text, height=90)


def _form(rt: Runtime, queue: Queue, rubric: Rubric, exchange_id: str, rater_id: str) -> None:
    with st.form("aeries-annotate-form", border=False, enter_to_submit=False):
        for index, item in enumerate(rubric.items):
            _widget(index, item, exchange_id)
        st.checkbox(
            "Flag this item",
            key=_flag_key(exchange_id),
            help="For the researcher: something is wrong with this item (off-topic, unsafe, "
            "broken, not in the language expected). A flag goes with Submit or Skip.",
        )
        st.text_input(
            "Note for the researcher (optional)", key=_note_key(exchange_id), max_chars=2000
        )
        row = st.container(horizontal=True)
        with row:
            st.form_submit_button(
                "Submit (Enter)",
                type="primary",
                key=SUBMIT_KEY,
                on_click=_act,
                args=(rt, queue.id, rubric, exchange_id, rater_id, "labelled"),
            )
            st.form_submit_button(
                "Skip",
                key="aeries-annotate-skip",
                help="Leave this item to other raters; it is not handed to you again.",
                on_click=_act,
                args=(rt, queue.id, rubric, exchange_id, rater_id, "skipped"),
            )
    likert = [i for i in rubric.items if i.kind == "likert"]
    if likert:
        points = max(len(i.values) for i in likert)
        st.caption(
            f"Keys: **1–{min(points, 9)}** choose a point on the first scale not yet answered "
            "(or the one you last clicked), **Enter** submits. They do nothing while you type "
            "in a text box; **Esc** leaves it."
        )


def _undo_button(rt: Runtime, queue: Queue, rubric: Rubric, rater_id: str) -> None:
    st.button(
        "Undo last",
        icon=":material/undo:",
        key="aeries-annotate-undo",
        help="Take back your last submission in this queue and change it.",
        on_click=_undo,
        args=(rt, queue.id, rubric, rater_id),
    )


def rater_view(rt: Runtime, identity: Identity) -> None:
    """Label the items of an open queue, one at a time."""
    keyboard_script()
    queue = choose_queue(rt)
    if queue is None:
        return
    version = rubric_version(rt.db, queue.rubric_id, queue.rubric_version)
    if version is None:  # cannot happen through the page: a queue keeps its rubric version
        st.error("This queue's rubric is missing; tell the researcher.")
        return
    rubric = from_spec(version.spec)
    rater_id = identity.user_id
    _show_said()
    exchange_id = next_item(rt.db, queue, rater_id)
    done, left = rater_progress(rt.db, queue, rater_id)
    with st.expander(f"Instructions: {label(rubric.name)}", expanded=done == 0):
        if rubric.instructions:
            answer_markdown(rubric.instructions)
        for item in rubric.items:
            if item.instructions:
                st.markdown(f"**{literal(item.prompt)}** {literal(item.instructions)}")
        if not rubric.instructions and not any(i.instructions for i in rubric.items):
            st.caption("This rubric has no instructions beyond its questions.")
    top = st.container(horizontal=True, vertical_alignment="center")
    with top:
        total = done + left
        st.progress(done / total if total else 1.0, text=f"{done} done · {left} left")
        _undo_button(rt, queue, rubric, rater_id)
    if exchange_id is None:
        if left:
            minutes = int(CLAIM_TTL.total_seconds() // 60)
            st.info(
                "The items left are with other raters right now. Come back later: an item "
                f"held for {minutes} minutes without a label is handed out again."
            )
        else:
            st.success("Nothing is left for you in this queue. Thank you!")
        return
    view = item_view(rt.db, exchange_id)
    with st.container(key=RATE_CONTAINER):
        if view is None:
            st.warning("This item's answer is no longer in the store; skip it.")
            st.button(
                "Skip",
                key="aeries-annotate-skip-missing",
                on_click=_act,
                args=(rt, queue.id, rubric, exchange_id, rater_id, "skipped"),
            )
            return
        with st.container(border=True):
            _conversation(view.turns)
        _form(rt, queue, rubric, exchange_id, rater_id)
