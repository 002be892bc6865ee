"""Persona editor: create, edit, duplicate and delete personas."""

from __future__ import annotations

import streamlit as st

from aeries.auth import Identity
from aeries.ids import new_id
from aeries.runtime import Runtime
from aeries.store.personas import (
    Editor,
    Persona,
    PersonaError,
    delete_persona,
    duplicate_persona,
    ensure_default_persona,
    save_persona,
    visible_personas,
)
from aeries.ui.notices import notice
from aeries.ui.store_health import store_is_down
from aeries.ui.text import label, literal

_PICK = "aeries.personas.pick"
_DRAFT = "aeries.personas.draft_id"
_NEXT = "aeries.personas.select_next"
_NEW = "__new__"
_ANY_MODEL = ""


def _select(persona_id: str | None) -> None:
    """Show this persona after the rerun (the radio cannot change once drawn)."""
    st.session_state[_NEXT] = persona_id


def _editor(identity: Identity) -> Editor:
    return Editor(identity.user_id, researcher=identity.is_researcher)


def _title(persona: Persona) -> str:
    mark = " · shared" if persona.visibility == "shared" else ""
    return f"{persona.name}{mark}"


def persona_editor(rt: Runtime, identity: Identity) -> None:
    """The whole personas page body: shared personas (read-only unless a researcher) and the
    user's own."""
    editor = _editor(identity)
    ensure_default_persona(rt.db)
    personas = visible_personas(rt.db, identity.user_id)
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
            format_func=lambda pid: (
                ":material/add: New persona" if pid == _NEW else label(_title(by_id[pid]))
            ),
        )
    picked = st.session_state[_PICK]
    if picked == _NEW:
        # The draft keeps one id across reruns so its form (and typed values) survive them.
        persona = Persona(id=st.session_state.setdefault(_DRAFT, new_id()), name="")
    else:
        persona = by_id[picked]
    with right:
        if picked == _NEW or editor.may_edit(persona):
            _form(rt, editor, persona, is_new=picked == _NEW)
        else:
            _read_only(persona)
        if picked != _NEW:
            _actions(rt, editor, persona)


def _read_only(persona: Persona) -> None:
    st.subheader(literal(persona.name), anchor=False)
    st.caption("Shared by the researcher. Duplicate it to make your own version.")
    st.text_area("System prompt", persona.system_prompt, disabled=True, key=f"ro-{persona.id}")
    st.caption(
        f"Model: {literal(persona.model or 'the one picked in the chat')} · temperature "
        f"{persona.temperature:g} · top p {persona.top_p:g} · max tokens "
        f"{persona.max_tokens or '–'} · thinking {'on' if persona.thinking else 'off'}"
    )


def _model_options(rt: Runtime, persona: Persona) -> list[str]:
    served = [m.id for m in rt.models()]
    options = [_ANY_MODEL, *served]
    if persona.model and persona.model not in options:
        options.append(persona.model)  # keep a model that is down right now
    return options


def _form(rt: Runtime, editor: Editor, persona: Persona, *, is_new: bool) -> None:
    options = _model_options(rt, persona)
    with st.form(key=f"persona-form-{persona.id}"):
        st.subheader("New persona" if is_new else literal(persona.name), anchor=False)
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
        shared = persona.visibility == "shared"
        if editor.researcher:
            shared = st.toggle(
                "Shared with everyone",
                value=shared or is_new,
                key=f"p-shared-{persona.id}",
                help="Shared personas are offered to every participant, who cannot change them.",
                disabled=persona.is_default,
            )
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
        persona.owner_id,
        "shared" if shared else "private",
    )
    if store_is_down(rt):
        st.error("Aeries cannot save right now (see the warning above); try again later.")
        return
    try:
        saved = save_persona(rt.writer, edited, editor)
    except PersonaError as exc:
        st.error(literal(str(exc)))
        return
    _select(saved.id)
    st.session_state.pop(_DRAFT, None)
    notice(f"Saved “{literal(saved.name)}”.")
    st.rerun()


def _actions(rt: Runtime, editor: Editor, persona: Persona) -> None:
    copy, delete = st.columns(2)
    if copy.button("Duplicate", key=f"p-dup-{persona.id}"):
        if store_is_down(rt):
            st.error("Aeries cannot save right now (see the warning above); try again later.")
            return
        clone = duplicate_persona(rt.writer, persona, editor)
        _select(clone.id)
        st.rerun()
    mine = editor.may_edit(persona)
    if delete.button(
        "Delete",
        key=f"p-del-{persona.id}",
        disabled=persona.is_default or not mine,
        help="The default persona cannot be deleted."
        if persona.is_default
        else "Conversations that used it keep their history."
        if mine
        else "Shared by the researcher: only they can delete it.",
    ):
        try:
            delete_persona(rt.writer, persona, editor)
        except PersonaError as exc:
            st.error(literal(str(exc)))
            return
        _select(None)
        notice(f"Deleted “{literal(persona.name)}”.")
        st.rerun()
