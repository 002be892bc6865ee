"""The streaming client against the simulator: timings, usage, reasoning, errors, aborts."""

from __future__ import annotations

import statistics

import pytest

from aeries.history import history_window
from aeries.ids import utcnow
from aeries.llm import RESTING, ChatRequest, ClientPool, Sampling, stream_chat
from aeries.messages import Message
from tests.helpers import wait_until

HI = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def pool():
    return ClientPool("test-key", connect_timeout_s=2.0, read_timeout_s=5.0)


def call(pool, sim, model="sim-llama-3.1-8b", messages=HI, sampling=None, **sim_knobs):
    extra = {"sim": sim_knobs} if sim_knobs else None
    request = ChatRequest(sim.base_url, model, messages, sampling or Sampling(), extra_body=extra)
    return stream_chat(pool, request)


def test_stream_yields_content_and_usage_tokens(pool, sim):
    stream = call(pool, sim, tokens=25)
    pieces = [d.text for d in stream if d.kind == "content"]
    result = stream.result
    assert result.status == "ok"
    assert result.content == "".join(pieces) and len(pieces) == 25
    # vLLM counts the end-of-sequence token, which arrives as an empty output chunk.
    assert result.completion_tokens == 25 + 1
    assert result.prompt_tokens and result.prompt_tokens > 0
    assert result.finish_reason == "stop"
    assert result.chunk_count == 25 + 1
    assert len(result.itl_ms) == 25


def test_ttft_matches_configured_server_ttft(pool, sim):
    call(pool, sim).collect()  # warm the connection
    ttfts = [call(pool, sim, ttft_ms=100, tokens=3).collect().ttft_ms for _ in range(5)]
    assert abs(statistics.median(ttfts) - 100) < 15


def test_e2e_and_tpot_follow_vllm_definitions(pool, sim):
    result = call(pool, sim, ttft_ms=40, itl_ms=10, tokens=11).collect()
    assert result.e2e_ms >= result.ttft_ms + 9 * 10 * 0.9
    expected_tpot = (result.e2e_ms - result.ttft_ms) / (result.completion_tokens - 1)
    assert result.tpot_ms == pytest.approx(expected_tpot)
    assert 8 < result.tpot_ms < 20
    assert 8 < result.itl_stats()["p50"] < 20


def test_reasoning_is_separated_from_content(pool, sim):
    stream = call(pool, sim, model="sim-qwen3-8b")
    kinds = [d.kind for d in stream]
    assert kinds.index("content") > kinds.index("reasoning")
    assert stream.result.reasoning and stream.result.content
    assert stream.result.reasoning not in stream.result.content


def test_thinking_off_sends_enable_thinking_false(pool, sim):
    stream = call(pool, sim, model="sim-qwen3-8b", sampling=Sampling(thinking=False))
    kinds = {d.kind for d in stream}
    assert kinds == {"content"}
    body = sim.stats.last_request
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_max_tokens_and_sampling_reach_the_server(pool, sim):
    result = call(pool, sim, sampling=Sampling(temperature=0.2, top_p=0.5, max_tokens=7)).collect()
    body = sim.stats.last_request
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.5, 7)
    assert body["stream_options"] == {"include_usage": True}
    assert result.finish_reason == "length" and result.completion_tokens == 7


def test_close_aborts_upstream_and_keeps_partial_text(pool, sim):
    stream = call(pool, sim, tokens=200, itl_ms=10)
    it = iter(stream)
    first = [next(it).text for _ in range(3)]
    stream.close()
    assert stream.result.status == "aborted"
    # Everything that arrived is kept; it begins with what the caller was shown.
    assert stream.result.content.startswith("".join(first))
    assert stream.result.completion_tokens is None  # never reached the usage chunk
    assert wait_until(lambda: sim.stats.disconnects == 1)


def test_server_down_is_reported_plainly_and_fast(pool):
    request = ChatRequest("http://127.0.0.1:9/v1", "m", HI)
    result = stream_chat(pool, request).collect()
    assert result.status == "error"
    assert result.error == RESTING
    assert result.error_kind == "server_down"


def test_unknown_model(pool, sim):
    result = call(pool, sim, model="no-such-model").collect()
    assert result.status == "error" and result.error_kind == "unknown_model"
    assert "no-such-model" in result.error


def test_prompt_too_long_for_context(pool, sim):
    huge = [{"role": "user", "content": "word " * 20_000}]
    result = call(pool, sim, messages=huge).collect()
    assert result.status == "error" and result.error_kind == "context_length"
    assert "too long" in result.error and "8192" in result.error


def test_midstream_error_keeps_partial_answer(pool, sim):
    result = call(pool, sim, fault="midstream_error", fault_after=4).collect()
    assert result.status == "error" and result.error_kind == "midstream_error"
    assert result.content and "partial answer was kept" in result.error
    assert result.completion_tokens is None or result.completion_tokens >= 0


def test_dropped_connection_mid_stream(pool, sim):
    result = call(pool, sim, fault="drop", fault_after=3).collect()
    assert result.status == "error"
    assert result.content  # what arrived before the drop is kept
    assert "mid-answer" in result.error


def test_stall_times_out_and_frees_server(sim):
    quick = ClientPool("k", connect_timeout_s=1.0, read_timeout_s=0.3)
    result = call(quick, sim, fault="stall", fault_after=2).collect()
    assert result.status == "error" and result.error_kind == "timeout"
    assert result.content
    assert wait_until(lambda: sim.stats.disconnects == 1)


def test_structured_output_request(pool, sim):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    request = ChatRequest(sim.base_url, "sim-llama-3.1-8b", HI, response_format=fmt)
    result = stream_chat(pool, request).collect()
    import json

    assert isinstance(json.loads(result.content)["n"], int)
    assert sim.stats.last_request["response_format"]["type"] == "json_schema"


def _m(role: str, content: str, i: int) -> Message:
    return Message(str(i), "c", None, role, content, utcnow())


def test_history_is_bounded_and_starts_with_user():
    branch = [_m("user" if i % 2 == 0 else "assistant", f"m{i}", i) for i in range(30)]
    window = history_window(branch, history=20, max_model_len=None, max_tokens=None).messages
    assert len(window) <= 20
    assert window[0]["role"] == "user"
    assert window[-1]["content"] == "m29"


def test_history_drops_failed_answers_and_merges_same_role():
    branch = [_m("user", "q1", 0), _m("assistant", "", 1), _m("user", "q2", 2)]
    window = history_window(branch, history=20, max_model_len=None, max_tokens=None)
    assert window.messages == [{"role": "user", "content": "q1\n\nq2"}]


@pytest.mark.parametrize(
    "detail",
    [
        "This model's maximum context length is 4096 tokens. However, your prompt contains "
        "5000 input tokens. Please reduce the length of the input messages.",
        "You passed 5000 input tokens and requested 100 output tokens. However, the model's "
        "context length is only 4096 tokens, resulting in a maximum input length of 3996 "
        "tokens. Please reduce the length of the input prompt. (parameter=input_tokens, "
        "value=5000)",
    ],
)
def test_both_vllm_context_length_wordings_are_understood(detail):
    import httpx2
    import openai

    from aeries.llm import describe_error

    request = httpx2.Request("POST", "http://h/v1/chat/completions")
    body = {"message": detail, "type": "BadRequestError", "param": None, "code": 400}
    response = httpx2.Response(400, request=request, json={"error": body})
    exc = openai.BadRequestError(detail, response=response, body=body)
    info = describe_error(exc, model="m")
    assert info.kind == "context_length"
    assert "5000 tokens asked" in info.message and "holds 4096" in info.message


def test_abort_from_another_thread_stops_a_stalled_stream(pool, sim):
    import threading
    import time

    stream = call(pool, sim, fault="stall", fault_after=2)
    done = threading.Event()
    threading.Thread(target=lambda: (stream.collect(), done.set()), daemon=True).start()
    time.sleep(0.3)
    stream.abort()
    assert done.wait(3)
    assert stream.result.status == "aborted" and stream.result.error is None
    assert stream.result.content  # the two tokens before the stall are kept
    assert wait_until(lambda: sim.stats.disconnects == 1)


def test_timings_are_taken_on_arrival_not_when_the_caller_reads(pool, sim):
    import time

    call(pool, sim).collect()  # warm
    stream = call(pool, sim, ttft_ms=30, itl_ms=5, tokens=10)
    time.sleep(0.25)  # the caller is busy (drawing a page) before its first read
    deltas = list(stream)
    assert len(deltas) == 10
    assert stream.result.ttft_ms < 80  # not ~250: the reader stamped the chunk on arrival
    assert stream.result.e2e_ms < 200


@pytest.mark.parametrize(
    "ending",
    ["whole", "closed", "midstream_error", "drop", "server_down"],
)
def test_the_pool_counts_a_stream_as_live_until_it_ends_however_it_ends(pool, sim, ending):
    if ending == "server_down":
        stream = stream_chat(pool, ChatRequest("http://127.0.0.1:9/v1", "m", HI))
    elif ending in ("midstream_error", "drop"):
        stream = call(pool, sim, tokens=50, itl_ms=20, fault=ending, fault_after=5)
    else:
        stream = call(pool, sim, tokens=50, itl_ms=20)
    if ending != "server_down":
        assert pool.live.count == 1  # sent: live before a token is read
        assert not pool.live.wait_quiet(0.05)
    if ending == "closed":
        next(iter(stream))
        stream.close()
    else:
        stream.collect()
    assert wait_until(lambda: pool.live.count == 0)
    assert pool.live.wait_quiet(0.0)
