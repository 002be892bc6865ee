"""The end of an answer as vLLM 0.33 sends it: the EOS chunk, its token in usage, its timing."""

from __future__ import annotations

import re

import openai
import pytest

from aeries.sim import SimServer
from aeries.sim.text import count_prompt_tokens
from tests.sim.helpers import (
    LLAMA,
    MSGS,
    bench_timings,
    chat,
    compact,
    payloads,
    record,
    sse_events,
    stream_chunks,
)

FINGERPRINT = re.compile(r"^vllm-0\.33\.0-[0-9a-f]{8}$")
HELLO = {"sim": {"reply": "Hello!", "ttft_ms": 20, "itl_ms": 30}}


def test_stop_stream_ends_with_an_empty_content_chunk(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, **HELLO}
    status, events = sse_events(live.url, body | {"stream_options": {"include_usage": True}})
    assert status == 200
    role, *_, usage = payloads(events)
    head = {"id": role["id"], "object": "chat.completion.chunk", "created": role["created"]}
    head |= {"model": LLAMA}
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{16}", role["id"])
    token = {"logprobs": None, "finish_reason": None, "token_ids": None}
    expected = [
        head
        | {
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
            "prompt_token_ids": None,
            "prompt_text": None,
        },
        head
        | {"choices": [{"index": 0, "delta": {"content": "Hello"}} | token]}
        | {"kv_transfer_params": None},
        head
        | {"choices": [{"index": 0, "delta": {"content": "!"}} | token]}
        | {"kv_transfer_params": None},
        head
        | {
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": ""},
                    "logprobs": None,
                    "finish_reason": "stop",
                    "stop_reason": None,
                    "token_ids": None,
                    "weight_versions": None,
                }
            ],
            "kv_transfer_params": None,
        },
    ]
    prompt = count_prompt_tokens(MSGS)
    expected.append(
        head
        | {
            "choices": [],
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt + 3, "completion_tokens": 3},
            "system_fingerprint": usage["system_fingerprint"],
        }
    )
    assert FINGERPRINT.match(usage["system_fingerprint"])
    assert [text for _, text in events[:-1]] == [compact(e) for e in expected]  # key order too
    sent = record(live.url, role["id"])
    times = [e["t"] for e in sent["events"]]
    assert [e["data"] for e in sent["events"]] == [text for _, text in events]
    assert times[0] == times[1]  # the role chunk leaves with the first token
    assert 0.025 < times[2] - times[1] < 0.045 and 0.025 < times[3] - times[2] < 0.045
    assert times[4] == times[3] and sent["completion_tokens"] == 3


def test_fingerprint_rides_on_the_finish_chunk_without_include_usage(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, **HELLO}
    finish = payloads(sse_events(live.url, body)[1])[-1]
    assert list(finish)[-2:] == ["system_fingerprint", "kv_transfer_params"]
    assert FINGERPRINT.match(finish["system_fingerprint"])
    assert finish["choices"][0]["finish_reason"] == "stop"


def test_length_answer_finishes_on_its_last_token(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "max_tokens": 3}
    body["stream_options"] = {"include_usage": True}
    *chunks, usage = payloads(sse_events(live.url, body)[1])
    assert len(chunks) == 4  # role + 3 tokens, no EOS chunk
    last = chunks[-1]["choices"][0]
    assert last["delta"]["content"] and last["finish_reason"] == "length"
    assert last["stop_reason"] is None and usage["usage"]["completion_tokens"] == 3


def test_openai_client_sees_the_eos_chunk_and_usage_counts_it(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    *body, eos, usage = chunks
    visible = [c for c in body[1:] if c.choices[0].delta.content]
    assert len(visible) == 20 and all(c.choices[0].finish_reason is None for c in body)
    assert eos.choices[0].delta.content == "" and eos.choices[0].delta.role is None
    assert eos.choices[0].finish_reason == "stop"
    assert usage.usage.completion_tokens == 21
    assert chat(client).usage.completion_tokens == 21  # non-streaming counts the EOS too
    assert chat(client, max_tokens=5).usage.completion_tokens == 5


def test_send_times_give_vllm_bench_timings(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True}
    body |= {"stream_options": {"include_usage": True}, "sim": {"ttft_ms": 40, "itl_ms": 15}}
    body["sim"]["tokens"] = 8
    sse_events(live.url, body)  # warm the connection path
    _, events = sse_events(live.url, body)
    first = payloads(events)[0]
    sent = record(live.url, first["id"])
    timed = [(e["t"], e["data"]) for e in sent["events"]]
    server = bench_timings(sent["arrival"], timed, sent["completion_tokens"])
    assert sent["completion_tokens"] == 9 and len(server["itl"]) == 8
    assert abs(server["ttft"] - 0.040) < 0.01
    assert abs(server["tpot"] - 0.015) < 0.002  # one ITL per token, EOS included
    assert all(abs(gap - 0.015) < 0.008 for gap in server["itl"])
    stamps = sent["timestamps"]
    assert stamps["first_token"] - stamps["scheduled"] == pytest.approx(0.040)
    assert abs(stamps["last_token"] - timed[-3][0]) < 0.005  # the EOS chunk's send time
    received = [t for t, _ in events]
    assert all(0 <= r - s < 0.05 for r, (s, _) in zip(received, timed, strict=True))
