"""Every way vLLM 0.33 ends or refuses a stream, through the real client against the simulator
producing vLLM's shape: status, error kind, message, what is kept, and the timings."""

from __future__ import annotations

import pytest

from aeries.llm import ChatRequest, ClientPool, Sampling, stream_chat
from aeries.sim import SimModel, SimServer, single_model_config
from aeries.store.exchanges import exchange_row

HI = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def pool():
    return ClientPool("test-key", connect_timeout_s=2.0, read_timeout_s=5.0)


def run(pool, base_url, model="sim-llama-3.1-8b", sampling=None, **knobs):
    extra = {"sim": knobs} if knobs else None
    request = ChatRequest(base_url, model, HI, sampling or Sampling(), extra_body=extra)
    stream = stream_chat(pool, request)
    return stream.collect(), request


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("grammar_error", "bad_request", "refused the request before answering"),
        ("engine_error", "server_failed", "failed before answering"),
        ("engine_paused", "server_busy", "paused or too busy"),
    ],
)
def test_errors_before_any_output_say_what_happened(pool, sim, fault, kind, words):
    result, _ = run(pool, sim.base_url, fault=fault)
    assert (result.status, result.error_kind) == ("error", kind)
    assert words in result.error and "mid-answer" not in result.error
    assert result.content == "" and result.chunk_count == 0 and result.ttft_ms is None


def test_an_engine_failure_after_output_is_mid_answer_and_keeps_the_text(pool, sim):
    result, _ = run(pool, sim.base_url, fault="midstream_error", fault_after=4)
    assert (result.status, result.error_kind) == ("error", "midstream_error")
    assert result.content and "partial answer was kept" in result.error
    assert result.ttft_ms is not None


@pytest.mark.parametrize(
    ("fault", "kind"), [("server_abort", "server_abort"), ("repetition", "repetition")]
)
def test_the_server_cutting_an_answer_off_is_its_own_status(pool, sim, fault, kind):
    result, request = run(pool, sim.base_url, fault=fault, fault_after=4)
    assert result.finish_reason == ("abort" if fault == "server_abort" else "repetition")
    assert (result.status, result.error_kind) == ("cut_off", kind)
    assert result.content and "What arrived is kept" in result.error
    row = exchange_row(request, result, source="chat")
    assert (row["status"], row["error_kind"], row["finish_reason"]) == (
        "cut_off",
        kind,
        result.finish_reason,
    )


def test_an_answer_that_hits_its_budget_is_ok(pool, sim):
    result, _ = run(pool, sim.base_url, sampling=Sampling(max_tokens=6))
    assert (result.status, result.finish_reason, result.error) == ("ok", "length", None)
    assert result.completion_tokens == 6


def test_server_timings_are_stored_when_sent_and_absent_otherwise(pool, sim):
    plain, request = run(pool, sim.base_url, tokens=5)
    assert plain.server is None
    row = exchange_row(request, plain, source="chat")
    assert row["server_queue_ms"] is None and row["server_ttft_ms"] is None  # NULL, not 0
    sim.config.per_request_metrics = True
    try:
        measured, request = run(pool, sim.base_url, tokens=5)
    finally:
        sim.config.per_request_metrics = False
    server = measured.server
    assert server is not None and server.ttft_ms is not None and server.queue_ms is not None
    assert server.queue_ms >= 0 and 0 < server.ttft_ms <= measured.ttft_ms + 1.0
    assert server.queue_ms + server.ttft_ms <= measured.ttft_ms + 1.0
    row = exchange_row(request, measured, source="chat")
    assert row["server_ttft_ms"] == server.ttft_ms and row["server_queue_ms"] == server.queue_ms


def test_thinking_inside_content_is_split_off_as_reasoning(pool):
    # One vLLM process serving a reasoning model without --reasoning-parser.
    model = SimModel("sim-qwen3-8b", reasoning=True, reasoning_parser=None)
    server = SimServer(single_model_config(model, ttft_ms=5, itl_ms=1, tokens=8)).start()
    try:
        result, _ = run(pool, server.base_url, model="sim-qwen3-8b", reasoning_tokens=6)
        last = server.stats.responses_snapshot()[-1]
    finally:
        server.stop()
    raw = "".join(e["data"] for e in last["events"])
    assert "<think>" in raw and '"reasoning"' not in raw  # it came inside content
    assert result.reasoning and result.content
    assert "<think>" not in result.content and "</think>" not in result.content
    assert "<think>" not in result.reasoning


def test_under_load_the_queue_share_of_the_wait_grows(pool):
    # One request generates at a time: later requests of a burst wait in the server's queue,
    # and their stored server timings say so, while prefill stays the same.
    model = SimModel("sim-llama-3.1-8b")
    config = single_model_config(
        model, ttft_ms=20, itl_ms=2, tokens=6, max_num_seqs=1, per_request_metrics=True
    )
    server = SimServer(config).start()
    try:
        run(pool, server.base_url)  # warm the connection
        streams = [
            stream_chat(pool, ChatRequest(server.base_url, model.id, HI, Sampling())).start()
            for _ in range(4)
        ]
        results = [stream.collect() for stream in streams]
    finally:
        server.stop()
    queues = sorted(r.server.queue_ms for r in results)
    prefills = [r.server.ttft_ms for r in results]
    assert queues[0] < 10 and queues[-1] > 2 * 20  # the last waited for the others
    assert all(abs(p - 20) < 10 for p in prefills)
    shares = sorted(r.server.queue_ms / r.ttft_ms for r in results)
    assert shares[-1] > 0.5 > shares[0]
    for r in results:  # the parts never exceed what the client waited
        assert r.server.queue_ms + r.server.ttft_ms <= r.ttft_ms + 1.0


def test_several_tokens_per_chunk_keep_tpot_per_token(pool, sim):
    sim.config.stream_interval = 3
    try:
        result, _ = run(pool, sim.base_url, ttft_ms=10, itl_ms=10, tokens=12)
    finally:
        sim.config.stream_interval = 1
    assert result.completion_tokens == 12 + 1
    assert result.chunk_count < result.completion_tokens  # chunks carried several tokens
    assert len(result.itl_ms) == result.chunk_count - 1
    # ITL is per chunk (about 3 steps); TPOT is per token (about one step).
    assert result.itl_stats()["p50"] > 2 * 10
    assert result.tpot_ms == pytest.approx(10.0, abs=4.0)
