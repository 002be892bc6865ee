"""The engine's queue (max_num_seqs) and vLLM's per-request metrics computed from it."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import httpx2
import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MSGS, chat, compact, metric, payloads, record, sse_events

KEYS = ["time_to_first_token_ms", "generation_time_ms", "queue_time_ms", "mean_itl_ms"]
KEYS.append("tokens_per_second")


def _body(**extra: Any) -> dict[str, Any]:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "stream_options": {}}
    body["stream_options"]["include_usage"] = True
    body["sim"] = {"ttft_ms": 30, "itl_ms": 10, "tokens": 5}
    return body | extra


def test_metrics_ride_on_the_usage_chunk(live: SimServer) -> None:
    live.config.per_request_metrics = True
    _, events = sse_events(live.url, _body())
    *_, finish, usage = payloads(events)
    metrics = usage["metrics"]
    assert list(usage)[-2:] == ["system_fingerprint", "metrics"] and list(metrics) == KEYS
    assert events[-2][1] == compact(usage)
    n = usage["usage"]["completion_tokens"]  # 5 + the EOS
    assert n == 6 and "metrics" not in finish
    assert metrics["time_to_first_token_ms"] == pytest.approx(30)  # from scheduling: prefill
    assert metrics["generation_time_ms"] == pytest.approx(50)  # first to last token
    assert metrics["mean_itl_ms"] == pytest.approx(10)
    assert metrics["tokens_per_second"] == pytest.approx(6 / 0.080)
    assert 0 <= metrics["queue_time_ms"] < 50  # nothing ahead of it: only the hand-over
    sent = record(live.url, usage["id"])["timestamps"]
    queue = (sent["scheduled"] - sent["queued"]) * 1000
    assert metrics["queue_time_ms"] == pytest.approx(queue)


def test_metrics_only_when_asked(live: SimServer, client: openai.OpenAI) -> None:
    usage = payloads(sse_events(live.url, _body())[1])[-1]
    assert "metrics" not in usage  # the server flag is off
    assert chat(client, max_tokens=2).model_extra["metrics"] is None
    live.config.per_request_metrics = True
    no_usage = payloads(sse_events(live.url, _body(stream_options={}))[1])
    assert all("metrics" not in chunk for chunk in no_usage)
    assert "metrics" not in payloads(sse_events(live.url, _body(n=2))[1])[-1]
    full = chat(client, extra_body={"sim": {"ttft_ms": 30, "itl_ms": 10, "tokens": 5}})
    metrics = full.model_extra["metrics"]
    assert list(metrics) == [*KEYS, "speculative_decoding"]
    assert metrics["speculative_decoding"] is None
    assert metrics["mean_itl_ms"] == pytest.approx(10)


def _scheduled(stamps: dict[str, float]) -> float:
    return stamps["scheduled"]


def test_queue_holds_requests_beyond_max_num_seqs(live: SimServer) -> None:
    settings = {"per_request_metrics": True, "max_num_seqs": 1}
    answer = httpx2.post(f"{live.url}/sim/config", json=settings).json()
    assert {name: answer[name] for name in settings} == settings
    assert live.config.max_num_seqs == 1 and live.config.per_request_metrics
    bad = httpx2.post(f"{live.url}/sim/config", json={"max_num_seqs": 0})
    assert bad.status_code == 400
    results: list[dict[str, Any]] = [{} for _ in range(3)]
    # The first holds the one place long enough (≈ 330 ms) that the other two are
    # surely queued behind it however slowly a loaded machine starts their threads.
    slow = {"ttft_ms": 30, "itl_ms": 60, "tokens": 5}

    def run(i: int) -> None:
        body = _body(sim=slow) if i == 0 else _body()
        results[i] = payloads(sse_events(live.url, body)[1])[-1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    threads[0].start()
    assert live.wait_for(lambda s: s.running == 1, timeout=2)
    for thread in threads[1:]:
        thread.start()
    assert live.wait_for(lambda s: s.waiting == 2, timeout=2)
    text = httpx2.get(f"{live.url}/metrics").text
    assert metric(text, "vllm:num_requests_waiting") == 2
    assert metric(text, "vllm:num_requests_running") == 1
    for thread in threads:
        thread.join(timeout=5)
    stamps = sorted((record(live.url, r["id"])["timestamps"] for r in results), key=_scheduled)
    for before, after in itertools.pairwise(stamps):  # each starts when the one before ends
        assert 0 <= after["scheduled"] - before["last_token"] < 0.015
    queues = [r["metrics"]["queue_time_ms"] for r in results]
    # Both were waiting before the first ended, so the last waited a whole 80 ms answer more.
    second, third = sorted(queues[1:])
    assert queues[0] < 20 and second > 40 and third >= 75
    waits = [(s["scheduled"] - s["queued"]) * 1000 for s in stamps]
    assert sorted(queues) == pytest.approx(sorted(waits))
    assert all(r["metrics"]["time_to_first_token_ms"] == pytest.approx(30) for r in results)
    assert live.wait_for(lambda s: s.running == 0 and s.waiting == 0)


def test_a_client_leaving_the_queue_frees_its_place(live: SimServer) -> None:
    live.config.max_num_seqs = 1
    slow = _body()
    slow["sim"] = {"ttft_ms": 30, "itl_ms": 20, "tokens": 10}
    holder = threading.Thread(target=sse_events, args=(live.url, slow))
    holder.start()
    assert live.wait_for(lambda s: s.running == 1)
    with pytest.raises(httpx2.TimeoutException):
        sse_events(live.url, _body(), timeout=0.05)  # gives up while waiting
    holder.join(timeout=5)
    assert live.wait_for(lambda s: s.running == 0 and s.waiting == 0)
    assert live.stats.disconnects == 1
    assert payloads(sse_events(live.url, _body())[1])[-1]["usage"]["completion_tokens"] == 6
