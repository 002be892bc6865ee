"""The wire format of chat answers: SSE chunks, usage, reasoning deltas, non-streaming bodies."""

from __future__ import annotations

import json
import re
import time

import httpx2
import openai

from aeries.sim import SimServer
from aeries.sim.text import count_prompt_tokens
from tests.sim.helpers import LLAMA, MSGS, QWEN, chat, content_of, stream_chunks


def test_stream_order_and_usage_chunk(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    first, *middle, eos, usage_chunk = chunks
    assert first.object == "chat.completion.chunk" and first.id.startswith("chatcmpl-")
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    assert all(c.choices[0].delta.content for c in middle) and len(middle) == 20
    assert eos.choices[0].delta.content == "" and eos.choices[0].finish_reason == "stop"
    assert "stop_reason" in eos.choices[0].model_extra
    assert eos.choices[0].model_extra["stop_reason"] is None
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == len(middle) + 1 == 21  # the EOS counts
    assert usage_chunk.usage.prompt_tokens == count_prompt_tokens(MSGS)
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + 21
    assert all(c.usage is None for c in chunks[:-1])


def test_no_usage_chunk_without_include_usage(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client)
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_raw_sse_framing(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "max_tokens": 3}
    response = httpx2.post(f"{live.base_url}/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert payloads[0]["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    assert len(payloads) == 4 and payloads[-1]["choices"][0]["finish_reason"] == "length"


def test_continuous_usage_stats(client: openai.OpenAI) -> None:
    options = {"include_usage": True, "continuous_usage_stats": True}
    chunks = stream_chunks(client, stream_options=options)
    counts = [c.usage.completion_tokens for c in chunks]
    assert counts[0] == 0 and counts[1] == 1
    assert counts[:-1] == sorted(counts[:-1]) and counts[-2] == counts[-1] == 21
    assert chunks[-1].choices == []


def test_same_prompt_same_text_and_different_otherwise(
    live: SimServer, client: openai.OpenAI
) -> None:
    text = content_of(stream_chunks(client))
    assert text == chat(client).choices[0].message.content
    assert re.search(r"[.!?]$", text) and " " in text
    other = [{"role": "user", "content": "What about naps?"}]
    assert content_of(stream_chunks(client, messages=other)) != text
    live.config.seed = 7
    assert content_of(stream_chunks(client)) != text


def test_max_tokens_ends_with_length(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, max_tokens=7, stream_options={"include_usage": True})
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 7
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 7


def test_reasoning_deltas_then_content(client: openai.OpenAI) -> None:
    """qwen3's parser: <think> and </think> send nothing, a blank line opens the content."""
    chunks = stream_chunks(client, model=QWEN, stream_options={"include_usage": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices][1:]
    kinds = ["reasoning" if getattr(d, "reasoning", None) else "content" for d in deltas]
    assert (
        kinds == ["reasoning"] * 42 + ["content"] * 22
    )  # newline, 40, newline; blank line, 20, EOS
    assert deltas[0].reasoning == "\n" and deltas[41].reasoning == "\n"
    assert deltas[42].content == "\n\n" and deltas[-1].content == ""
    assert all(getattr(d, "reasoning_content", None) is None for d in deltas)
    usage = chunks[-1].usage
    assert usage.completion_tokens == 1 + 42 + 1 + 22  # <think>, reasoning, </think>, content
    assert usage.completion_tokens_details.reasoning_tokens == 42


def test_thinking_off_has_no_reasoning(live: SimServer, client: openai.OpenAI) -> None:
    off = {"chat_template_kwargs": {"enable_thinking": False}}
    chunks = stream_chunks(client, model=QWEN, extra_body=off)
    assert not any(getattr(c.choices[0].delta, "reasoning", None) for c in chunks)
    assert content_of(chunks)
    assert live.stats.last_request["chat_template_kwargs"] == {"enable_thinking": False}


def test_non_streaming_shape_and_timing(client: openai.OpenAI) -> None:
    started = time.perf_counter()
    response = chat(client)
    elapsed = time.perf_counter() - started
    assert elapsed >= (20 + 20 * 2) / 1000 * 0.95  # TTFT + (n - 1) * ITL, the EOS included
    assert response.object == "chat.completion" and response.model == LLAMA
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.model_extra["stop_reason"] is None
    assert choice.message.model_extra["reasoning"] is None
    assert choice.message.content == content_of(stream_chunks(client))
    assert response.usage.completion_tokens == 21
    thought = chat(client, model=QWEN).choices[0].message
    assert thought.model_extra["reasoning"].startswith("\n") and thought.content.startswith("\n\n")
