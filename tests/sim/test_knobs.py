"""Per-request knobs and the timing schedule."""

from __future__ import annotations

import statistics
import time

import openai

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MISTRAL, chat, content_of, stream_chunks


def test_per_request_knobs(live: SimServer, client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, extra_body={"sim": {"tokens": 5}})
    assert len(chunks) == 7  # role, 5 tokens, EOS
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
