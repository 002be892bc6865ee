"""The client's timings equal what `vllm bench serve` computes from the same chunks.

The simulator books the time it sent each SSE event; the expected figures are computed here
from those times with vLLM 0.33's rule, written out independently of the client
(`_choice_has_streamed_output` in vllm/benchmarks/lib/endpoint_request_func.py, TPOT from
vllm/benchmarks/serve.py), so no figure is a constant."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from aeries.llm import ChatRequest, ClientPool, Sampling, stream_chat

HI = [{"role": "user", "content": "Hello there"}]
# The client reads each chunk at or after the server sent it (and starts its clock before the
# server's arrival stamp), so times are checked as a lower bound that holds on any machine and
# an upper bound generous enough for a loaded one; which chunks count is checked exactly.
LATE_MS = 150.0


@pytest.fixture
def pool():
    return ClientPool("test-key", connect_timeout_s=2.0, read_timeout_s=5.0)


def has_streamed_output(choice: dict) -> bool:
    """vLLM 0.33's rule, verbatim in meaning."""
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return False
    if (
        delta.get("content")
        or delta.get("reasoning")
        or delta.get("tool_calls")
        or delta.get("function_call")
    ):
        return True
    return delta.get("content") == "" and "role" not in delta


def bench_figures(record: dict) -> dict:
    """TTFT is left relative to the first output event; what can be compared across the two
    clocks' origins is everything after it."""
    times, usage = [], None
    for event in record["events"]:
        if event["data"] == "[DONE]":
            continue
        chunk = json.loads(event["data"])
        if chunk.get("usage"):
            usage = chunk["usage"]
        if any(has_streamed_output(c) for c in chunk.get("choices", [])):
            times.append(event["t"])
    tokens = usage["completion_tokens"]
    return {
        "chunks": len(times),
        "itl_ms": [(b - a) * 1000.0 for a, b in pairwise(times)],
        "ttft_ms": (times[0] - record["arrival"]) * 1000.0,
        "e2e_ms": (times[-1] - record["arrival"]) * 1000.0,
        "tpot_ms": (times[-1] - times[0]) * 1000.0 / (tokens - 1),
        "completion_tokens": tokens,
    }


def assert_timed_like(result, expected) -> None:
    """The client's figures are the benchmark's, from the same chunks."""
    assert result.completion_tokens == expected["completion_tokens"]
    assert result.chunk_count == expected["chunks"]
    assert len(result.itl_ms) == len(expected["itl_ms"]) == expected["chunks"] - 1
    for name in ("ttft_ms", "e2e_ms"):
        got, sent = getattr(result, name), expected[name]
        assert sent - 1.0 <= got <= sent + LATE_MS, (name, got, sent)
    span = LATE_MS / (expected["completion_tokens"] - 1)
    assert result.tpot_ms == pytest.approx(expected["tpot_ms"], abs=span)


def run(pool, sim, model="sim-llama-3.1-8b", **knobs):
    request = ChatRequest(sim.base_url, model, HI, Sampling(), extra_body={"sim": knobs})
    result = stream_chat(pool, request).collect()
    return result, bench_figures(sim.stats.responses_snapshot()[-1])


@pytest.mark.parametrize(
    ("model", "knobs"),
    [
        ("sim-llama-3.1-8b", {"ttft_ms": 30, "itl_ms": 20, "tokens": 9}),
        ("sim-llama-3.1-8b", {"ttft_ms": 30, "itl_ms": 20, "tokens": 3}),
        ("sim-qwen3-8b", {"ttft_ms": 30, "itl_ms": 15, "tokens": 5, "reasoning_tokens": 4}),
    ],
)
def test_the_client_measures_by_vllms_benchmark_rule(pool, sim, model, knobs):
    stream_chat(pool, ChatRequest(sim.base_url, model, HI, Sampling())).collect()  # warm
    result, expected = run(pool, sim, model, **knobs)
    assert result.status == "ok" and result.finish_reason == "stop"
    assert_timed_like(result, expected)


def test_the_end_of_sequence_chunk_is_output_and_counted_in_usage(pool, sim):
    result, expected = run(pool, sim, ttft_ms=20, itl_ms=20, tokens=9)
    # Nine visible tokens, then the empty end-of-sequence chunk one step later: ten output
    # chunks, ten completion tokens, and TPOT is one step by the server's own send times.
    assert result.content and expected["chunks"] == 10 and result.completion_tokens == 10
    assert result.chunk_count == 10 and len(result.itl_ms) == 9
    assert_timed_like(result, expected)


@pytest.mark.parametrize("knobs", [{"fault": "server_abort"}, {"fault": "repetition"}])
def test_answers_the_server_cut_off_are_timed_by_the_same_rule(pool, sim, knobs):
    result, expected = run(pool, sim, ttft_ms=20, itl_ms=10, tokens=12, fault_after=5, **knobs)
    assert result.status == "cut_off"
    assert_timed_like(result, expected)
