"""Drawing a streaming answer: first chunk at once, then coalesced; settled paragraphs frozen."""

from __future__ import annotations

import time

import streamlit as st

from aeries.llm import LLMStream
from aeries.streaming import StreamText, Throttle
from aeries.ui.messages import metrics_caption

CURSOR = " ▌"


def render_stream(stream: LLMStream, interval_s: float = 0.05) -> StreamText:
    """Draw ``stream`` into the current container until it ends; returns the text shown.

    Raises whatever Streamlit raises to stop or rerun the script; the caller closes the stream.
    """
    text = StreamText()
    throttle = Throttle(interval_s)
    reasoning_slot = st.empty()
    reasoning_box = None
    body = st.container()
    live = body.empty()
    live.markdown(CURSOR)
    for delta in stream:
        text.add(delta.kind, delta.text)
        if not throttle.ready(time.perf_counter()):
            continue
        if text.reasoning:
            if reasoning_box is None:
                reasoning_box = reasoning_slot.container().expander("Reasoning", expanded=False)
                reasoning_live = reasoning_box.empty()
            reasoning_live.markdown(text.reasoning)
        for block in text.new_blocks():
            live.markdown(block)
            live = body.empty()
        live.markdown(text.tail + CURSOR)
    if text.reasoning:
        if reasoning_box is None:
            reasoning_box = reasoning_slot.container().expander("Reasoning", expanded=False)
            reasoning_live = reasoning_box.empty()
        reasoning_live.markdown(text.reasoning)
    for block in text.new_blocks():
        live.markdown(block)
        live = body.empty()
    live.markdown(text.tail)
    result = stream.result
    if result.error:
        st.error(result.error)
    st.caption(
        metrics_caption(
            stream.request.model, result.ttft_ms, result.e2e_ms, result.completion_tokens
        )
    )
    return text
