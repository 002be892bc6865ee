"""Drawing a streaming answer: first chunk at once, then coalesced; settled paragraphs frozen."""

from __future__ import annotations

import time

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from aeries.llm import LLMStream
from aeries.store.writer import Writer
from aeries.ui.chat.messages import metrics_caption
from aeries.ui.chat.redraw import StreamText, Throttle
from aeries.ui.store_health import SAVE_WAIT_S
from aeries.ui.text import answer_markdown, literal, live_markdown

CURSOR = " ▌"


class _Canvas:
    """The placeholders of one answer: a lazily created reasoning expander, then the body."""

    def __init__(self) -> None:
        self._reasoning_slot = st.empty()
        self._reasoning: DeltaGenerator | None = None
        self._slot = st.empty()
        self._note = st.empty()  # images left unloaded, said under the finished answer
        self._body = self._slot.container()
        self._live = self._body.empty()
        self._live.markdown(CURSOR)

    def draw(self, text: StreamText, *, final: bool) -> None:
        """Redraw what changed: reasoning, newly settled paragraphs (once), the live tail."""
        if text.reasoning:
            if self._reasoning is None:
                box = self._reasoning_slot.container().expander("Reasoning", expanded=False)
                self._reasoning = box.empty()
            self._reasoning.markdown(live_markdown(text.reasoning))
        if final:
            # One element for the whole answer, as a reload shows it (and markdown that spans
            # paragraphs, like a numbered list, renders as one).
            # One element replacing the live container: a container put in its place would keep
            # the live blocks (and the cursor) on screen beneath it.
            answer_markdown(text.content, into=self._slot, note=self._note)
            return
        for block in text.new_blocks():
            self._live.markdown(live_markdown(block))
            self._live = self._body.empty()
        self._live.markdown(live_markdown(text.tail) + CURSOR)


def render_stream(stream: LLMStream, interval_s: float = 0.05) -> StreamText:
    """Draw ``stream`` into the current container until it ends; returns the text shown.

    Raises whatever Streamlit raises to stop or rerun the script; the caller closes the stream.
    """
    text = StreamText()
    throttle = Throttle(interval_s)
    canvas = _Canvas()
    for delta in stream:
        text.add(delta.kind, delta.text)
        if throttle.ready(time.perf_counter()):
            canvas.draw(text, final=False)
    canvas.draw(text, final=True)
    result = stream.result
    if result.status == "cut_off":
        st.warning(literal(result.error or ""))
    elif result.error:
        st.error(literal(result.error))
    return text


def caption_once_saved(writer: Writer, stream: LLMStream) -> bool:
    """Wait for the finished answer's rows to be committed (call after ``Turn.finish()``),
    then draw its metrics line: an answer shown finished is on disk, however loaded the
    machine. False when they were not committed within SAVE_WAIT_S (or the store fails)."""
    saved = writer.flush(SAVE_WAIT_S)
    _metrics_caption(stream)
    return saved


def _metrics_caption(stream: LLMStream) -> None:
    result = stream.result
    st.caption(
        metrics_caption(
            stream.request.model, result.ttft_ms, result.e2e_ms, result.completion_tokens
        )
    )
