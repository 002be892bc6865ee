"""Sidebar controls: persona, model and sampling parameters for the next answers."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from aeries.config import public_url
from aeries.llm import ModelInfo, Sampling
from aeries.runtime import Runtime
from aeries.store.events import log_event
from aeries.store.personas import (
    Persona,
    ensure_default_persona,
    set_conversation_persona,
    visible_personas,
)
from aeries.ui.chat.state import ChatView
from aeries.ui.notices import notice
from aeries.ui.text import literal

_PERSONA = "aeries.persona"
_SYNCED = "aeries.persona.synced_for"
_PERSONAS = "aeries.personas.by_id"
_KEYS = (
    "aeries.temperature",
    "aeries.top_p",
    "aeries.max_tokens",
    "aeries.thinking",
    "aeries.system_prompt",
)


@dataclass(frozen=True)
class ModelChoice:
    """The model to answer with, how to sample it, and the persona behind it."""

    model: ModelInfo
    sampling: Sampling
    system_prompt: str | None
    persona: Persona | None = None


def _apply(persona: Persona, models: list[ModelInfo]) -> None:
    """Load a persona's settings into the controls."""
    st.session_state["aeries.temperature"] = float(persona.temperature)
    st.session_state["aeries.top_p"] = float(persona.top_p)
    st.session_state["aeries.max_tokens"] = int(persona.max_tokens or 1024)
    st.session_state["aeries.thinking"] = bool(persona.thinking)
    st.session_state["aeries.system_prompt"] = persona.system_prompt
    index = next((i for i, m in enumerate(models) if m.id == persona.model), None)
    if index is not None:
        st.session_state["aeries.model"] = index


def default_model_index(rt: Runtime, models: list[ModelInfo]) -> int:
    """The model picked before the user picks one: AERIES_MODEL when it is served, else the
    first one."""
    wanted = rt.settings.default_model
    if wanted is None:
        return 0
    return next((i for i, m in enumerate(models) if m.id == wanted), 0)


def model_label(rt: Runtime, model: ModelInfo) -> str:
    """How a model is named in the picker: its id, and its endpoint (without any user name or
    password) when there are several."""
    if len(rt.endpoints) == 1:
        return model.id
    return f"{model.id} · {public_url(model.endpoint)}"


def _sync_with_conversation(
    view: ChatView, personas: list[Persona], models: list[ModelInfo]
) -> None:
    """When the conversation on screen changes, select its persona. Its settings are loaded
    only if that changes the persona: tweaks the user made to the same persona are kept
    (e.g. the controls set before the first message of a new chat)."""
    marker = view.conversation_id or "new"
    if st.session_state.get(_SYNCED) == marker and _PERSONA in st.session_state:
        return
    st.session_state[_SYNCED] = marker
    by_id: dict[str | None, Persona] = {p.id: p for p in personas}  # looked up with maybe-None
    current = st.session_state.get(_PERSONA)
    wanted = view.conversation.persona_id if view.conversation else current
    persona = by_id.get(wanted) or by_id.get(current) or personas[0]
    if persona.id == current and _KEYS[0] in st.session_state:
        return
    st.session_state[_PERSONA] = persona.id
    _apply(persona, models)


def _persona_changed(
    rt: Runtime, view: ChatView, personas: dict[str, Persona], models: list[ModelInfo]
) -> None:
    persona = personas[st.session_state[_PERSONA]]
    _apply(persona, models)
    if view.conversation is not None and view.conversation.persona_id != persona.id:
        old = view.conversation.persona_id
        set_conversation_persona(rt.writer, view.user_id, view.conversation.id, persona.id)
        log_event(
            rt.writer,
            "persona_changed",
            user_id=view.user_id,
            conversation_id=view.conversation.id,
            payload={"from": old, "to": persona.id, "name": persona.name},
        )
        view.conversation.persona_id = persona.id
        notice(f"This conversation now uses “{literal(persona.name)}”.")


def choice_from_state(rt: Runtime) -> ModelChoice | None:
    """The choice the controls held at the end of the last run, read without drawing them,
    so a new message can be sent before anything else is drawn. None before the first run."""
    state = st.session_state
    personas: dict[str, Persona] = state.get(_PERSONAS, {})
    if not all(k in state for k in (*_KEYS, "aeries.model", _PERSONA)) or not personas:
        return None
    models = rt.models()
    index = state["aeries.model"]
    if not models or index is None or index >= len(models):
        return None
    sampling = Sampling(
        float(state["aeries.temperature"]),
        float(state["aeries.top_p"]),
        int(state["aeries.max_tokens"]),
        bool(state["aeries.thinking"]),
    )
    return ModelChoice(
        models[index],
        sampling,
        state["aeries.system_prompt"] or None,
        personas.get(state[_PERSONA]),
    )


def chat_controls(rt: Runtime, view: ChatView) -> ModelChoice | None:
    """Persona picker, model and sampling controls; None (said clearly) if no model answers."""
    ensure_default_persona(rt.db)
    personas = visible_personas(rt.db, view.user_id)
    by_id = {p.id: p for p in personas}
    st.session_state[_PERSONAS] = by_id
    models = rt.models()
    _sync_with_conversation(view, personas, models)
    st.sidebar.selectbox(
        "Persona",
        list(by_id),
        key=_PERSONA,
        format_func=lambda pid: by_id[pid].name,
        on_change=_persona_changed,
        args=(rt, view, by_id, models),
        help="Sets the system prompt, model and sampling. Edit personas on the Personas page.",
    )
    with st.sidebar.expander("Model & sampling", expanded=False):
        if st.button("Refresh models", key="aeries.refresh_models"):
            models = rt.models(refresh=True)
        if not models:
            st.caption("No models: the model server does not answer.")
            return None
        labels = [model_label(rt, m) for m in models]
        if "aeries.model" not in st.session_state:
            st.session_state["aeries.model"] = default_model_index(rt, models)
        if st.session_state["aeries.model"] >= len(models):
            st.session_state["aeries.model"] = default_model_index(rt, models)
        wanted = rt.settings.default_model
        if wanted and all(m.id != wanted for m in models):
            served = ", ".join(m.id for m in models)
            st.warning(f"AERIES_MODEL={literal(wanted)} is not served; serving: {literal(served)}.")
        picked = st.selectbox(
            "Model", range(len(models)), key="aeries.model", format_func=lambda i: labels[i]
        )
        model = models[picked or 0]
        if model.max_model_len:
            st.caption(f"Context: {model.max_model_len:,} tokens")
        st.slider("Temperature", 0.0, 2.0, step=0.05, key="aeries.temperature")
        st.slider("Top p", 0.05, 1.0, step=0.05, key="aeries.top_p")
        st.number_input(
            "Max tokens",
            min_value=1,
            max_value=max(model.max_model_len or 131072, 1),
            step=64,
            key="aeries.max_tokens",
        )
        st.toggle(
            "Thinking",
            key="aeries.thinking",
            help="Reasoning models think before answering (shown collapsed).",
        )
        st.text_area(
            "System prompt",
            key="aeries.system_prompt",
            placeholder="Optional instructions for the model",
        )
    return choice_from_state(rt)  # the widgets just drawn hold the values
