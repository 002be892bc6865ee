"""The vLLM simulator, driven over loopback by the real openai client."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from aeries import sim_schema
from aeries.sim import SimConfig, SimServer, SimStats
from aeries.sim_text import REFUSAL, count_prompt_tokens, rng_for

ROOT = Path(__file__).resolve().parent.parent
LLAMA, QWEN, MISTRAL = "sim-llama-3.1-8b", "sim-qwen3-8b", "sim-mistral-7b"
MSGS = [{"role": "user", "content": "Summarise the main results of the sleep study."}]
FAST = {"ttft_ms": 20.0, "itl_ms": 2.0, "tokens": 20}
SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "sarcastic": {"type": "boolean"},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "author": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
            "required": ["name"],
        },
    },
    "required": ["sentiment", "score", "stars", "author"],
}
JSON_SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "review", "schema": SCHEMA}}


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    sim = SimServer(SimConfig(**FAST)).start()
    yield sim
    sim.stop()


@pytest.fixture
def live(server: SimServer) -> SimServer:
    """The module's server with a fresh config and zeroed counters."""
    server.wait_for(lambda s: s.running == 0)
    server.config = SimConfig(**FAST)
    server.reset_stats()
    return server


@pytest.fixture
def client(live: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=5)


def chat(client: openai.OpenAI, model: str = LLAMA, messages=MSGS, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=messages, **kwargs)


def stream_chunks(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    return list(chat(client, stream=True, **kwargs))


def content_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def violations(schema: dict, value: Any, path: str = "$") -> list[str]:
    """A tiny JSON Schema check: type, enum, required, properties, items, ranges, sizes."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if kinds and not any(checks[k](value) for k in kinds):
        return [f"{path}: {value!r} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in enum"]
    errors = []
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        errors.append(f"{path}: {value} out of range")
    if isinstance(value, dict):
        errors += [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += violations(sub, value[key], f"{path}.{key}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items")
        for i, item in enumerate(value):
            errors += violations(schema.get("items", {}), item, f"{path}[{i}]")
    return errors


def metric(text: str, name: str, model: str = LLAMA, extra: str = "") -> float:
    """The value of one sample in a Prometheus exposition."""
    labels = rf'model_name="{re.escape(model)}"[^}}]*{re.escape(extra)}[^}}]*'
    pattern = rf"^{re.escape(name)}\{{{labels}\}} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} for {model} not exposed"
    return float(match.group(1))


# --- endpoints -------------------------------------------------------------------------------


def test_models_list_has_vllm_fields(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert list(models) == [LLAMA, QWEN, MISTRAL]
    assert models[LLAMA].owned_by == "vllm"
    assert models[LLAMA].model_extra["max_model_len"] == 8192
    assert models[MISTRAL].model_extra["max_model_len"] == 4096
    assert models[QWEN].model_extra["root"] == QWEN


def test_health_follows_config_and_fault(live: SimServer, client: openai.OpenAI) -> None:
    ok = httpx2.get(f"{live.url}/health")
    assert ok.status_code == 200 and ok.content == b""
    live.config.health_ok = False
    assert httpx2.get(f"{live.url}/health").status_code == 503
    live.config.health_ok = True
    live.config.fault = "health_503"
    assert httpx2.get(f"{live.url}/health").status_code == 503
    assert chat(client).choices[0].finish_reason == "stop"  # chat still works


def test_metrics_use_vllm_names_and_rise(live: SimServer, client: openai.OpenAI) -> None:
    before = httpx2.get(f"{live.url}/metrics").text
    for name, kind in [
        ("vllm:num_requests_running", "gauge"),
        ("vllm:num_requests_waiting", "gauge"),
        ("vllm:prompt_tokens_total", "counter"),
        ("vllm:generation_tokens_total", "counter"),
        ("vllm:request_success_total", "counter"),
        ("vllm:time_to_first_token_seconds", "histogram"),
        ("vllm:e2e_request_latency_seconds", "histogram"),
        ("vllm:inter_token_latency_seconds", "histogram"),
    ]:
        assert f"# TYPE {name} {kind}" in before
    slow = {"sim": {"itl_ms": 10, "tokens": 30}}  # long enough to look at it mid-stream
    stream = chat(client, stream=True, stream_options={"include_usage": True}, extra_body=slow)
    next(iter(stream))
    during = httpx2.get(f"{live.url}/metrics").text
    assert metric(during, "vllm:num_requests_running") == 1
    usage = [c.usage for c in stream if c.usage][-1]
    live.wait_for(lambda s: s.running == 0)
    after = httpx2.get(f"{live.url}/metrics").text
    assert metric(after, "vllm:num_requests_running") == 0

    def rise(name: str, extra: str = "") -> float:
        return metric(after, name, extra=extra) - metric(before, name, extra=extra)

    assert rise("vllm:prompt_tokens_total") == usage.prompt_tokens
    assert rise("vllm:generation_tokens_total") == usage.completion_tokens
    assert rise("vllm:request_success_total", 'finished_reason="stop"') == 1
    assert rise("vllm:time_to_first_token_seconds_count") == 1
    assert rise("vllm:inter_token_latency_seconds_count") == usage.completion_tokens - 1
    assert rise("vllm:e2e_request_latency_seconds_bucket", 'le="+Inf"') == 1


def test_admin_endpoints(live: SimServer, client: openai.OpenAI) -> None:
    chat(client, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    stats = httpx2.get(f"{live.url}/sim/stats").json()
    assert stats["requests"] == 1 and stats["completed"] == 1
    assert stats["last_request"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert len(stats["requests_log"]) == 1
    updated = httpx2.post(f"{live.url}/sim/config", json={"fault": "server_error", "tokens": 3})
    assert updated.json()["fault"] == "server_error" and live.config.tokens == 3
    with pytest.raises(openai.InternalServerError):
        chat(client)
    assert httpx2.post(f"{live.url}/sim/config", json={"nope": 1}).status_code == 400
    assert httpx2.post(f"{live.url}/sim/config", json={"fault": "nope"}).status_code == 400
    reset = httpx2.post(f"{live.url}/sim/reset").json()
    assert reset["requests"] == 0 and live.stats.requests == 0 and live.stats.last_request is None


def test_requests_log_is_bounded() -> None:
    stats = SimStats()
    for i in range(1005):
        stats.record_request({"i": i})
    assert len(stats.requests_log) == 1000 and stats.requests_log[-1] == {"i": 1004}
    assert stats.requests == 1005 and stats.last_request == {"i": 1004}


def test_prompt_token_count_reads_text_parts() -> None:
    parts = [{"type": "text", "text": "Hello, world"}, {"type": "image_url", "image_url": {}}]
    assert count_prompt_tokens([{"role": "user", "content": parts}]) == 3 + 4 + 2
    assert count_prompt_tokens([{"role": "user", "content": "Hello, world"}] * 2) == 2 * 7 + 2


# --- streaming -------------------------------------------------------------------------------


def test_stream_order_and_usage_chunk(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    first, *middle, last_content, usage_chunk = chunks
    assert first.object == "chat.completion.chunk" and first.id.startswith("chatcmpl-")
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    assert all(c.choices[0].delta.content for c in [*middle, last_content])
    assert last_content.choices[0].finish_reason == "stop"
    assert "stop_reason" in last_content.choices[0].model_extra
    assert last_content.choices[0].model_extra["stop_reason"] is None
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == len(middle) + 1 == 20
    assert usage_chunk.usage.prompt_tokens == count_prompt_tokens(MSGS)
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + 20
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
    assert counts[:-1] == sorted(counts[:-1]) and counts[-2] == counts[-1] == 20
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
    chunks = stream_chunks(client, model=QWEN, stream_options={"include_usage": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices][1:]
    kinds = ["reasoning" if getattr(d, "reasoning", None) else "content" for d in deltas]
    assert kinds == ["reasoning"] * 40 + ["content"] * 20
    assert all(getattr(d, "reasoning_content", None) is None for d in deltas)
    assert chunks[-1].usage.completion_tokens == 60


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
    assert elapsed >= (20 + 19 * 2) / 1000 * 0.95  # TTFT + (n - 1) * ITL
    assert response.object == "chat.completion" and response.model == LLAMA
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.model_extra["stop_reason"] is None
    assert choice.message.model_extra["reasoning"] is None
    assert choice.message.content == content_of(stream_chunks(client))
    assert response.usage.completion_tokens == 20
    thought = chat(client, model=QWEN).choices[0].message
    assert thought.model_extra["reasoning"] and thought.content


# --- structured output -----------------------------------------------------------------------


def test_json_schema_output_is_valid_and_streamed_in_pieces(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, response_format=JSON_SCHEMA_FORMAT)
    pieces = [c.choices[0].delta.content for c in chunks[1:]]
    assert all(0 < len(p) <= 4 for p in pieces) and len(pieces) > 5
    value = json.loads("".join(pieces))
    assert violations(SCHEMA, value) == []
    again = chat(client, response_format=JSON_SCHEMA_FORMAT).choices[0].message.content
    assert json.loads(again) == value


def test_schema_generator_covers_refs_and_variants() -> None:
    schema = {
        "$defs": {
            "Tag": {
                "type": "object",
                "properties": {"label": {"const": "x"}},
                "required": ["label"],
            }
        },
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 2},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "exclusiveMinimum": 3}]},
            "when": {"type": "string", "format": "date"},
        },
        "required": ["tags", "maybe", "when"],
    }
    for seed in range(20):
        value = sim_schema.generate(schema, rng_for(seed))
        assert len(value["tags"]) >= 2 and value["tags"][0] == {"label": "x"}
        assert isinstance(value["maybe"], int) and value["maybe"] > 3
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", value["when"])


def test_json_object_and_guided_json(client: openai.OpenAI) -> None:
    obj = chat(client, response_format={"type": "json_object"}).choices[0].message.content
    assert isinstance(json.loads(obj), dict)
    ignored = chat(client, extra_body={"guided_json": SCHEMA})
    with pytest.raises(ValueError):
        json.loads(ignored.choices[0].message.content)  # vLLM 0.33 ignores guided_json


def test_invalid_json_and_schema_violation_faults(client: openai.OpenAI) -> None:
    broken = chat(
        client, response_format=JSON_SCHEMA_FORMAT, extra_body={"sim": {"fault": "invalid_json"}}
    )
    with pytest.raises(ValueError):
        json.loads(broken.choices[0].message.content)
    wrong = chat(
        client,
        response_format=JSON_SCHEMA_FORMAT,
        extra_body={"sim": {"fault": "schema_violation"}},
    )
    problems = violations(SCHEMA, json.loads(wrong.choices[0].message.content))
    assert "$.sentiment: missing" in problems
    assert any("out of range" in p for p in problems)


def test_refusal_is_plain_text_even_for_structured_output(client: openai.OpenAI) -> None:
    sim = {"sim": {"fault": "refusal"}}
    assert chat(client, extra_body=sim).choices[0].message.content == REFUSAL
    chunks = stream_chunks(client, response_format=JSON_SCHEMA_FORMAT, extra_body=sim)
    assert content_of(chunks) == REFUSAL


# --- errors and faults -----------------------------------------------------------------------


def test_context_length_fault_and_real_overflow(live: SimServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as fault:
        chat(client, extra_body={"sim": {"fault": "context_length"}})
    assert fault.value.status_code == 400
    assert fault.value.body["type"] == "BadRequestError" and fault.value.body["code"] == 400
    assert "maximum context length is 8192 tokens" in fault.value.body["message"]
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(openai.BadRequestError) as prompt:
        chat(client, model=MISTRAL, messages=huge)
    assert "your prompt contains 5006 input tokens" in prompt.value.body["message"]
    with pytest.raises(openai.BadRequestError) as total:
        chat(client, model=MISTRAL, max_tokens=4090)
    assert "(15 in the messages, 4090 in the completion)" in total.value.body["message"]
    assert live.stats.errors == 3 and live.stats.running == 0


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as error:
        chat(client, model="gpt-nope")
    assert error.value.body == {
        "message": "The model `gpt-nope` does not exist.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }
    with pytest.raises(openai.NotFoundError):
        chat(client, extra_body={"sim": {"fault": "unknown_model"}})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": []},
        {"temperature": -0.5},
        {"top_p": 1.5},
        {"top_p": 0},
        {"max_tokens": 0},
        {"extra_body": {"sim": {"fault": "no-such-fault"}}},
        {"extra_body": {"sim": {"tokens": "many"}}},
    ],
)
def test_invalid_requests_are_400(client: openai.OpenAI, kwargs: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, **{"messages": MSGS, **kwargs})
    assert error.value.body["type"] == "BadRequestError"


def test_server_error_is_500(live: SimServer, client: openai.OpenAI) -> None:
    live.config.fault = "server_error"
    with pytest.raises(openai.InternalServerError) as error:
        chat(client, stream=True)
    assert error.value.status_code == 500 and error.value.body["type"] == "InternalServerError"


def test_midstream_error_raises_while_iterating(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(
        client, stream=True, extra_body={"sim": {"fault": "midstream_error", "fault_after": 4}}
    )
    received = []
    with pytest.raises(openai.APIError) as error:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert not isinstance(error.value, openai.APIConnectionError)
    assert error.value.body["type"] == "InternalServerError"
    assert len([r for r in received if r]) == 4
    assert live.stats.errors == 1 and live.stats.completed == 0


def test_drop_raises_while_iterating(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(client, stream=True, extra_body={"sim": {"fault": "drop", "fault_after": 3}})
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert "".join(received)  # partial content arrived before the drop
    assert live.wait_for(lambda s: s.errors == 1 and s.running == 0)
    assert chat(client).choices[0].finish_reason == "stop"  # the server lives on


def test_stall_hits_client_read_timeout_and_counts_disconnect(live: SimServer) -> None:
    quick = openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=0.5)
    stream = chat(quick, stream=True, extra_body={"sim": {"fault": "stall", "fault_after": 2}})
    received = []
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        for chunk in stream:
            received.append(chunk)
    assert 0.45 < time.perf_counter() - started < 2
    assert len(received) == 3  # role chunk + 2 content chunks
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0)


def test_client_close_counts_as_disconnect(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(client, stream=True, extra_body={"sim": {"tokens": 500, "itl_ms": 10}})
    iterator = iter(stream)
    for _ in range(3):
        next(iterator)
    assert live.stats.running == 1
    stream.close()
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0, timeout=2)
    assert live.stats.completed == 0


def test_non_streaming_disconnect_is_counted(live: SimServer) -> None:
    quick = openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        chat(quick, extra_body={"sim": {"ttft_ms": 2000}})
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0)


# --- knobs and timing ------------------------------------------------------------------------


def test_per_request_knobs(live: SimServer, client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, extra_body={"sim": {"tokens": 5}})
    assert len(chunks) == 6
    payload = "Hi <script>alert('x')</script> **there**"
    assert content_of(stream_chunks(client, extra_body={"sim": {"reply": payload}})) == payload
    assert live.stats.last_request["sim"] == {"reply": payload}
    assert live.config.tokens == 20  # per-request knobs leave the server config alone


def test_ttft_and_itl_follow_the_schedule(client: openai.OpenAI) -> None:
    stream_chunks(client)  # warm the connection

    def timings(model: str) -> tuple[float, float]:
        extra = {"sim": {"ttft_ms": 100, "itl_ms": 10, "tokens": 6}}
        started = time.perf_counter()
        arrivals = []
        for chunk in chat(client, model=model, stream=True, extra_body=extra):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.perf_counter() - started)
        return arrivals[0] * 1000, (arrivals[-1] - arrivals[0]) * 1000

    def median(model: str) -> tuple[float, float]:
        runs = [timings(model) for _ in range(3)]
        return statistics.median(t for t, _ in runs), statistics.median(g for _, g in runs)

    ttft, gaps = median(LLAMA)
    assert abs(ttft - 100) < 15 and abs(gaps - 50) < 10  # 5 gaps of 10 ms
    ttft, gaps = median(MISTRAL)  # ttft_scale 1.6, itl_scale 1.3
    assert abs(ttft - 160) < 15 and abs(gaps - 65) < 10


# --- CLI ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "aeries.sim", "--port", str(port), "--ttft-ms", "10"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        base_url = process.stdout.readline().decode().strip()
        assert base_url == f"http://127.0.0.1:{port}/v1"
        assert httpx2.get(f"http://127.0.0.1:{port}/health").status_code == 200
        cli = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=5)
        answer = cli.chat.completions.create(model=LLAMA, messages=MSGS, max_tokens=3)
        assert answer.usage.completion_tokens == 3
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
