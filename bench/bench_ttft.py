"""TTFT through Aeries' streaming path versus the raw openai client, in one run.

All talk to the simulator (TTFT 20 ms) over loopback, interleaved request by request so drift
hits them alike. Aeries' path = LLMStream (timings, reasoning split) + the in-flight record the
chat keeps from the first token (its insert and refreshes through the background writer) + the
renderer's coalescing and paragraph freezing + the exchange hand-off to the writer. A third
path, the same without the in-flight record, shows what the record itself costs. Reported:
added ms at p50 and p99 (Aeries − raw), and the ratio of medians.

    python -m bench.bench_ttft [--requests 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import openai

from aeries.llm import ChatRequest, ClientPool, stream_chat, warm_up_client_stack
from aeries.sim import SimConfig, SimServer
from aeries.store.db import Database
from aeries.store.exchanges import exchange_row, log_exchange
from aeries.store.inflight import InflightRecord
from aeries.store.migrations import migrate
from aeries.store.writer import Writer
from aeries.ui.chat.redraw import StreamText, Throttle
from bench._common import pct, summary, today

MODEL = "sim-llama-3.1-8b"
MESSAGES = [{"role": "user", "content": "Explain TTFT in one paragraph."}]


def raw_ttft(client: openai.OpenAI) -> float:
    """The plain client: first content chunk, then drain."""
    t0 = time.perf_counter()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=20,
    )
    first = None
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = (time.perf_counter() - t0) * 1000
    stream.close()
    assert first is not None
    return first


def aeries_ttft(pool: ClientPool, base_url: str, writer: Writer, *, inflight: bool) -> float:
    """Aeries' path up to the moment the renderer would draw the first token."""
    from aeries.llm import Sampling

    t0 = time.perf_counter()
    request = ChatRequest(base_url, MODEL, MESSAGES, Sampling(max_tokens=20))
    record = (
        InflightRecord(writer, lambda r: exchange_row(request, r, source="bench"), user_id=None)
        if inflight
        else None
    )
    stream = stream_chat(pool, request, record)
    text, throttle = StreamText(), Throttle(0.05)
    first = None
    for delta in stream:
        text.add(delta.kind, delta.text)
        if throttle.ready(time.perf_counter()):
            text.new_blocks()
            if first is None:
                first = (time.perf_counter() - t0) * 1000
    log_exchange(writer, exchange_row(request, stream.result, source="bench"))
    if record is not None:
        writer.submit(*record.done_ops())
    assert first is not None
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    server = SimServer(SimConfig(ttft_ms=20, itl_ms=1, tokens=20)).start()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.duckdb")
        migrate(db)
        writer = Writer(db)
        warm_up_client_stack()
        pool = ClientPool("EMPTY", connect_timeout_s=2, read_timeout_s=30)
        raw = openai.OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)
        base = server.base_url
        paths = {
            "raw": lambda: raw_ttft(raw),
            "aeries": lambda: aeries_ttft(pool, base, writer, inflight=True),
            "no_record": lambda: aeries_ttft(pool, base, writer, inflight=False),
        }
        for _ in range(10):  # warm every path and the server
            for run in paths.values():
                run()
        times: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths)
        for i in range(args.requests):
            for name in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
                times[name].append(paths[name]())
        writer.close()
        logged = db.one("SELECT count(*) FROM exchanges")[0]
        left = db.one("SELECT count(*) FROM inflight")[0]
        db.close()
    server.stop()
    print(f"TTFT benchmark, simulator TTFT 20 ms, {args.requests} requests each ({today()})")
    raws, ours, bare = times["raw"], times["aeries"], times["no_record"]
    print(summary("raw openai          ", raws))
    print(summary("aeries              ", ours))
    print(summary("aeries w/o in-flight", bare))
    print(
        f"added at p50: {pct(ours, 0.5) - pct(raws, 0.5):+.3f} ms, "
        f"added at p99: {pct(ours, 0.99) - pct(raws, 0.99):+.3f} ms, "
        f"ratio of medians aeries/raw: {pct(ours, 0.5) / pct(raws, 0.5):.3f}"
    )
    print(
        f"the in-flight record's share at p50: {pct(ours, 0.5) - pct(bare, 0.5):+.3f} ms, "
        f"at p99: {pct(ours, 0.99) - pct(bare, 0.99):+.3f} ms"
    )
    print(f"exchanges logged by the writer: {logged}; in-flight records left: {left}")


if __name__ == "__main__":
    main()
