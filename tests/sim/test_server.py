"""The simulator's endpoints: /v1/models, /health, /metrics and the admin endpoints."""

from __future__ import annotations

import httpx2
import openai
import pytest

from aeries.sim import SimServer, SimStats
from tests.sim.helpers import LLAMA, MISTRAL, QWEN, chat, metric


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
