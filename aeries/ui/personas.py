"""Persona editor: create, edit, duplicate and delete personas."""

from __future__ import annotations

import streamlit as st

from aeries.ids import new_id
from aeries.runtime import Runtime
from aeries.store.personas import (
    Persona,
    PersonaError,
    delete_persona,
    duplicate_persona,
    ensure_default_persona,
    list_personas,
    save_persona,
)

_PICK = "aeries.personas.pick"
_DRAFT = "aeries.personas.draft_id"
_NEXT = "aeries.personas.select_next"
_NEW = "__new__"
_ANY_MODEL = ""


def _select(persona_id: str | None) -> None:
    """Show this persona after the rerun (the radio cannot change once drawn)."""
    st.session_state[_NEXT] = persona_id


def persona_editor(rt: Runtime, user_id: str) -> None:
    """The whole personas page body."""
    ensure_default_persona(rt.db)
    personas = list_personas(rt.db)
    by_id = {p.id: p for p in personas}
    if _NEXT in st.session_state:
        st.session_state[_PICK] = st.session_state.pop(_NEXT)
    if st.session_state.get(_PICK) not in (*by_id, _NEW):
        st.session_state[_PICK] = personas[0].id
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.radio(
            "Personas",
            [*by_id, _NEW],
            key=_PICK,
            format_func=lambda pid: "➕ New persona" if pid == _NEW else by_id[pid].name,
        )
    picked = st.session_state[_PICK]
    if picked == _NEW:
        # The draft keeps one id across reruns so its form (and typed values) survive them.
        persona = Persona(id=st.session_state.setdefault(_DRAFT, new_id()), name="")
    else:
        persona = by_id[picked]
    with right:
        _form(rt, user_id, persona, is_new=picked == _NEW)
        if picked != _NEW:
            _actions(rt, user_id, persona)


def _model_options(rt: Runtime, persona: Persona) -> list[str]:
    served = [m.id for m in rt.models()]
    options = [_ANY_MODEL, *served]
    if persona.model and persona.model not in options:
        options.append(persona.model)  # keep a model that is down right now
    return options


def _form(rt: Runtime, user_id: str, persona: Persona, *, is_new: bool) -> None:
    options = _model_options(rt, persona)
    with st.form(key=f"persona-form-{persona.id}"):
        st.subheader("New persona" if is_new else persona.name, anchor=False)
        name = st.text_input("Name", value=persona.name, max_chars=80, key=f"p-name-{persona.id}")
        prompt = st.text_area(
            "System prompt", value=persona.system_prompt, height=160, key=f"p-prompt-{persona.id}"
        )
        model = st.selectbox(
            "Model",
            options,
            index=options.index(persona.model or _ANY_MODEL),
            format_func=lambda m: m or "The model picked in the chat",
            key=f"p-model-{persona.id}",
        )
        temperature = st.slider(
            "Temperature", 0.0, 2.0, float(persona.temperature), 0.05, key=f"p-temp-{persona.id}"
        )
        top_p = st.slider("Top p", 0.05, 1.0, float(persona.top_p), 0.05, key=f"p-top-{persona.id}")
        max_tokens = st.number_input(
            "Max tokens",
            1,
            131072,
            int(persona.max_tokens or 1024),
            step=64,
            key=f"p-max-{persona.id}",
        )
        thinking = st.toggle("Thinking", value=persona.thinking, key=f"p-think-{persona.id}")
        submitted = st.form_submit_button("Create" if is_new else "Save", type="primary")
    if not submitted:
        return
    edited = Persona(
        persona.id,
        name,
        prompt,
        model or None,
        float(temperature),
        float(top_p),
        int(max_tokens),
        bool(thinking),
        persona.is_default,
    )
    try:
        saved = save_persona(rt.writer, edited, user_id)
    except PersonaError as exc:
        st.error(str(exc))
        return
    _select(saved.id)
    st.session_state.pop(_DRAFT, None)
    st.toast(f"Saved “{saved.name}”.")
    st.rerun()


def _actions(rt: Runtime, user_id: str, persona: Persona) -> None:
    copy, delete = st.columns(2)
    if copy.button("Duplicate", key=f"p-dup-{persona.id}"):
        clone = duplicate_persona(rt.writer, persona, user_id)
        _select(clone.id)
        st.rerun()
    if delete.button(
        "Delete",
        key=f"p-del-{persona.id}",
        disabled=persona.is_default,
        help="The default persona cannot be deleted."
        if persona.is_default
        else "Conversations that used it keep their history.",
    ):
        try:
            delete_persona(rt.writer, persona)
        except PersonaError as exc:
            st.error(str(exc))
            return
        _select(None)
        st.toast(f"Deleted “{persona.name}”.")
        st.rerun()
