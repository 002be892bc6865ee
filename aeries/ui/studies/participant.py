"""What a study participant sees: only their study, one step at a time.

The place (enrolment) is resolved from the link once per session and then re-read from the
store on every run, so a reload resumes it. The chat of an earlier session is shown only to a
session that proves it is the same participant (the signed ``st`` token this page puts in the
URL): a participant id alone — which a platform may show others — resumes the step and the
condition, never someone's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from aeries.auth import read_study_proof, study_proof
from aeries.chat import Turn, user_message
from aeries.messages import Message
from aeries.runtime import Runtime
from aeries.store.conversations import load_messages, new_conversation, save_message
from aeries.store.facts import message_context
from aeries.store.signals import record_feedback
from aeries.studies import flow
from aeries.studies.conditions import NOT_SERVED, condition_spec
from aeries.studies.flow import Place, StudyUnavailable
from aeries.studies.spec import Item
from aeries.ui.chat.stream import caption_once_saved, render_stream
from aeries.ui.studies.arena_task import arena_step
from aeries.ui.text import answer_markdown, literal

STUDY_PARAM = "study"
PROOF_PARAM = "st"  # signed: this session may see the enrolment's chat
_ENROLMENT = "aeries.study.enrolment"
_OWNER = "aeries.study.owner"  # this session enrolled, or arrived with the signed proof
_SHOWN = "aeries.study.messages"  # the chat of this session: list[Message]
_PLACE = "aeries.study.place"  # the place as this session's previous run read it
_INPUT = "study.input"
STEP_TITLES = {
    "consent": "Consent",
    "instructions": "Instructions",
    "pre": "Before you start",
    "chat": "Conversation",
    "arena": "Comparing answers",
    "post": "A few last questions",
    "done": "Finished",
}


def study_requested() -> bool:
    """Whether this session is a study participant's (a study link, now or earlier)."""
    return STUDY_PARAM in st.query_params or _ENROLMENT in st.session_state


def _query() -> dict[str, str]:
    return {k: st.query_params.get(k, "") for k in st.query_params}


def current_place(rt: Runtime) -> Place | str:
    """This session's place in its study, or the message that says why there is none."""
    enrolment_id = st.session_state.get(_ENROLMENT)
    try:
        if enrolment_id is None:
            place = flow.arrive(rt.db, st.query_params.get(STUDY_PARAM, ""), _query())
            st.session_state[_ENROLMENT] = place.enrolment.id
            st.session_state[_OWNER] = place.new or _proven(rt, place)
            return place
        return flow.place_of(rt.db, enrolment_id)
    except StudyUnavailable as exc:
        return exc.message


def _proven(rt: Runtime, place: Place) -> bool:
    return read_study_proof(rt.key, st.query_params.get(PROOF_PARAM)) == place.enrolment.id


def _keep_proof(rt: Runtime, place: Place) -> None:
    """Put the proof in the URL of the session that owns the enrolment, so a reload of this
    tab shows their chat. A session that came by the participant id alone never gets it."""
    if st.session_state.get(_OWNER) and not _proven(rt, place):
        st.query_params[PROOF_PARAM] = study_proof(rt.key, place.enrolment.id)


def render_study(rt: Runtime) -> None:
    """The participant's page: progress, then the step they are at. A chat message is sent
    before anything is read or drawn (as on the chat page), from the place this session read
    on its previous run: its condition and version cannot have changed since."""
    asked, sent = _send_first(rt)
    try:
        _render(rt, sent, asked)
    finally:
        if sent is not None:  # however the run went (another device moved on, a rerun), the
            sent.turn.finish()  # answer is closed and logged; after streaming, a no-op


def _render(rt: Runtime, sent: _Sent | None, asked: bool) -> None:
    place = current_place(rt)
    if isinstance(place, str):
        st.info(place)
        return
    st.session_state[_PLACE] = place
    _keep_proof(rt, place)
    st.title(place.study.title)
    order = flow.steps(place.study)
    step = place.enrolment.step
    st.progress(order.index(step) / (len(order) - 1), text=f"{STEP_TITLES[step]}")
    blocked = flow.may_continue(place)
    if blocked:
        st.info(blocked)
        return
    if step == "consent":
        _consent(rt, place)
    elif step == "instructions":
        _instructions(rt, place)
    elif step in ("pre", "post"):
        _questionnaire(rt, place, step)
    elif step == "chat":
        _chat(rt, place, sent, asked=asked)
    elif step == "arena":
        arena_step(rt, place)
    else:
        _done(place)


def _consent(rt: Runtime, place: Place) -> None:
    st.markdown(place.study.consent)
    agree, decline = st.columns(2)
    if agree.button("I agree and want to take part", type="primary", key="study.agree"):
        flow.consent(rt.db, place, agreed=True)
        st.rerun()
    if decline.button("I do not agree", key="study.decline"):
        flow.consent(rt.db, place, agreed=False)
        st.rerun()


def _instructions(rt: Runtime, place: Place) -> None:
    st.markdown(place.study.instructions)
    if st.button("Continue", type="primary", key="study.instructions_done"):
        flow.advance(rt.db, place)
        st.rerun()


def _widget(item: Item) -> Any:
    label = literal(item.text) + ("" if item.required else " (optional)")
    key = f"study.item.{item.id}"
    if item.kind in ("likert", "single"):
        return st.radio(
            label, item.choices(), index=None, key=key, horizontal=item.kind == "likert"
        )
    if item.kind == "multiple":
        return st.multiselect(label, item.options, key=key)
    if item.kind == "numeric":
        return st.number_input(
            label, min_value=item.minimum, max_value=item.maximum, value=None, key=key
        )
    return st.text_area(label, key=key, max_chars=5000)


def _questionnaire(rt: Runtime, place: Place, which: Any) -> None:
    with st.form(f"study.form.{which}"):
        answers = {item.id: _widget(item) for item in flow.items_of(place.study, which)}
        sent = st.form_submit_button("Continue", type="primary")
    if sent:
        _, problems = flow.submit(rt.db, place, which, answers)
        if problems:
            for problem in problems:
                st.error(problem)
            return
        st.rerun()


def _shown(rt: Runtime, place: Place) -> list[Message]:
    """The chat so far, for a session that may see it (else this session's own, from empty)."""
    shown: dict[str, list[Message]] = st.session_state.setdefault(_SHOWN, {})
    key = place.enrolment.id
    if key not in shown:
        conversation = place.enrolment.conversation_id
        mine = conversation is not None and bool(st.session_state.get(_OWNER))
        user_id = place.enrolment.user_id
        shown[key] = load_messages(rt.db, user_id, conversation) if conversation and mine else []
    return shown[key]


@dataclass
class _Sent:
    """A chat turn sent at the start of a run, to be drawn where the chat is."""

    turn: Turn
    conversation_id: str


def _send_first(rt: Runtime) -> tuple[bool, _Sent | None]:
    """If the participant was at the chat and typed a message, send it now. Also says whether
    the chat box was drawn (it may be drawn once a run)."""
    cached: Place | None = st.session_state.get(_PLACE)
    if cached is None or cached.enrolment.step != "chat" or flow.may_continue(cached):
        return False, None
    if cached.enrolment.status != "in_progress" or flow.chat_progress(cached).at_max:
        return False, None
    text = st.chat_input("Type your message", key=_INPUT)
    if not text or not text.strip():
        return True, None
    messages = _shown(rt, cached)
    user_id = cached.enrolment.user_id
    conversation_id = messages[0].conversation_id if messages else None
    if conversation_id is None:
        conversation_id = new_conversation(rt.writer, user_id, text, brief_enabled=False).id
    spec = condition_spec(rt, cached, conversation_id)
    if spec is None:
        st.error(NOT_SERVED)
        return True, None
    question = user_message(conversation_id, messages[-1].id if messages else None, text.strip())
    turn = Turn(rt, spec, [*messages, question])  # the request goes out here
    save_message(rt.writer, user_id, question)
    messages.append(question)
    return True, _Sent(turn, conversation_id)


def _chat(rt: Runtime, place: Place, sent: _Sent | None, *, asked: bool) -> None:
    chat = place.study.chat
    if sent is not None:  # counted first, so the progress line counts it
        place = flow.count_turn(rt.db, place, sent.conversation_id)
    progress = flow.chat_progress(place)
    goal = f"at least {chat.min_turns}" if chat.min_turns else "as many as you like"
    limit = f", at most {chat.max_turns}" if chat.max_turns else ""
    st.caption(f"Messages sent: {progress.turns} ({goal}{limit}).")
    messages = _shown(rt, place)
    for message in messages:
        with st.chat_message(message.role):
            if message.role == "assistant":
                answer_markdown(message.content)
                _thumbs(rt, place, message)
            else:
                st.markdown(literal(message.content))
    if sent is not None:
        _stream(rt, sent, messages)
    elif not progress.at_max and not asked:
        st.chat_input("Type your message", key=_INPUT)  # sent on the next run, first thing
    if progress.at_max:
        st.info("You have sent all the messages this study asks for.")
    if progress.can_finish:
        if st.button("I am done with the conversation", type="primary", key="study.chat_done"):
            flow.finish_chat(rt.db, place)
            st.rerun()
    elif chat.min_minutes:
        st.caption(f"Please keep the conversation going for at least {chat.min_minutes:g} minutes.")


def _thumbs(rt: Runtime, place: Place, message: Message) -> None:
    """Thumbs under an answer: a feedback signal carrying the study (an outcome measure)."""
    if message.status == "error" and not message.content:
        return
    st.feedback(
        "thumbs",
        key=f"study.thumbs.{message.id}",
        on_change=_record_thumb,
        args=(rt, place, message),
    )


def _record_thumb(rt: Runtime, place: Place, message: Message) -> None:
    value = st.session_state.get(f"study.thumbs.{message.id}")
    if value is None:
        return
    record_feedback(
        rt.writer,
        user_id=place.enrolment.user_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        exchange_id=message.exchange_id,
        thumbs_up=bool(value),
        about=message_context(place.enrolment.user_id, message),
        study=place.ref,
    )


def _stream(rt: Runtime, sent: _Sent, messages: list[Message]) -> None:
    """Draw the sent turn's answer as it streams; show it finished once it is saved."""
    turn = sent.turn
    try:
        with st.chat_message("assistant"):
            render_stream(turn.stream)
            turn.finish()
            if not caption_once_saved(rt.writer, turn.stream):
                st.error("Your answer could not be saved yet; please wait a moment.")
    finally:
        answer = turn.finish()
        if messages[-1].id != answer.id:
            messages.append(answer)


def _done(place: Place) -> None:
    e = place.enrolment
    thanks = {
        "completed": "Thank you: you have completed the study.",
        "declined": "You chose not to take part. Thank you for your time.",
        "screened_out": "Thank you. This study is looking for other participants.",
        "failed_attention": "Thank you. Your answers did not pass the study's attention checks.",
        "timed_out": "The time for this study has run out. Thank you for your time.",
    }
    st.success(thanks.get(e.status, "Thank you."))
    if e.completion_code:
        st.markdown("Your completion code:")
        st.code(e.completion_code, language=None)
    url = flow.redirect_url(place)
    if url:
        st.link_button("Return to the recruiting platform", url, type="primary")
