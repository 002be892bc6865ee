"""Concurrent streams through Aeries' core path (client, timings, the in-flight record the chat
keeps from the first token, exchange hand-off).

Used by the load test and the load benchmark: N threads each stream one answer from the
simulator, a share of them with an injected fault, and hand the exchange to the writer.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from aeries.llm import CallResult, ChatRequest, ClientPool, Sampling, stream_chat
from aeries.store.exchanges import exchange_row, log_exchange
from aeries.store.inflight import InflightRecord
from aeries.store.writer import Writer

FAULTS = ("midstream_error", "drop", "server_error", "context_length", "unknown_model")


@dataclass
class StreamOutcome:
    """What one concurrent stream did."""

    index: int
    fault: str | None
    result: CallResult
    started: float
    ended: float

    @property
    def wall_ms(self) -> float:
        """Time from sending to the end of the stream."""
        return (self.ended - self.started) * 1000


def max_in_flight(outcomes: list[StreamOutcome]) -> int:
    """The largest number of streams open at the same moment."""
    events = sorted([(o.started, 1) for o in outcomes] + [(o.ended, -1) for o in outcomes])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def run_concurrent(
    base_url: str,
    writer: Writer,
    *,
    streams: int,
    fault_share: float = 0.1,
    seed: int = 0,
    model: str = "sim-llama-3.1-8b",
    tokens: int = 20,
) -> list[StreamOutcome]:
    """Start ``streams`` streams at once (a barrier releases them together); wait for all."""
    rng = random.Random(seed)
    faulty = set(rng.sample(range(streams), round(streams * fault_share)))
    pool = ClientPool("EMPTY", connect_timeout_s=10.0, read_timeout_s=60.0)
    outcomes: list[StreamOutcome | None] = [None] * streams
    barrier = threading.Barrier(streams)

    def one(i: int) -> None:
        fault = FAULTS[i % len(FAULTS)] if i in faulty else None
        knobs: dict[str, object] = {"tokens": tokens}
        if fault:
            knobs.update(fault=fault, fault_after=3)
        request = ChatRequest(
            base_url,
            model,
            [{"role": "user", "content": f"load {i}"}],
            Sampling(max_tokens=tokens + 10),
            extra_body={"sim": knobs},
        )
        record = InflightRecord(
            writer, lambda r: exchange_row(request, r, source="load"), user_id=None
        )
        barrier.wait()
        start = time.perf_counter()
        stream = stream_chat(pool, request, record)
        result = stream.collect()
        ended = time.perf_counter()
        log_exchange(writer, exchange_row(request, result, source="load"))
        writer.submit(*record.done_ops())
        outcomes[i] = StreamOutcome(i, fault, result, start, ended)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return [o for o in outcomes if o is not None]
