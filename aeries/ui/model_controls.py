"""Sidebar controls for the model and its sampling parameters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from aeries.endpoints import ModelInfo
from aeries.errors import RESTING
from aeries.llm import Sampling
from aeries.runtime import Runtime


@dataclass(frozen=True)
class ModelChoice:
    """The model to answer with and how to sample it."""

    model: ModelInfo
    sampling: Sampling
    system_prompt: str | None


def model_controls(rt: Runtime) -> ModelChoice | None:
    """Model picker and sampling controls; None (with a clear message) when no model answers."""
    models = rt.models()
    with st.sidebar.expander("Model & sampling", expanded=False):
        if st.button("Refresh models", key="aeries.refresh_models"):
            models = rt.models(refresh=True)
        if not models:
            st.warning(RESTING)
            return None
        labels = [m.id if len(rt.endpoints) == 1 else f"{m.id} · {m.endpoint}" for m in models]
        preferred = rt.settings.default_model
        index = next((i for i, m in enumerate(models) if m.id == preferred), 0)
        picked = st.selectbox(
            "Model",
            range(len(models)),
            index=index,
            key="aeries.model",
            format_func=lambda i: labels[i],
        )
        model = models[picked if picked is not None and picked < len(models) else 0]
        if model.max_model_len:
            st.caption(f"Context: {model.max_model_len:,} tokens")
        temperature = st.slider("Temperature", 0.0, 2.0, 0.7, 0.05, key="aeries.temperature")
        top_p = st.slider("Top p", 0.05, 1.0, 1.0, 0.05, key="aeries.top_p")
        max_tokens = st.number_input(
            "Max tokens",
            min_value=1,
            max_value=model.max_model_len or 131072,
            value=1024,
            step=64,
            key="aeries.max_tokens",
        )
        thinking = st.toggle(
            "Thinking",
            value=True,
            key="aeries.thinking",
            help="Reasoning models think before answering (shown collapsed).",
        )
        system = st.text_area(
            "System prompt",
            value="",
            key="aeries.system_prompt",
            placeholder="Optional instructions for the model",
        )
    sampling = Sampling(float(temperature), float(top_p), int(max_tokens), bool(thinking))
    return ModelChoice(model, sampling, system or None)
