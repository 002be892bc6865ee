"""Many concurrent streams: Aeries' core path versus the raw openai client, in one run.

The simulator runs in its own process (so server and clients do not share a GIL). Each side
starts N streams at once, 10% with injected faults; reported: batch time, p50/p99 TTFT of
healthy streams, rows lost (Aeries logs every exchange through the writer), and the ratio.

    python -m bench.bench_load [--streams 500]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import openai

from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.writer import Writer
from bench._common import pct, today
from bench.load_driver import FAULTS, max_in_flight, run_concurrent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_batch(base_url: str, streams: int, tokens: int) -> tuple[float, list[float]]:
    """The baseline: plain openai client threads, same faults, nothing logged."""
    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=60)
    # Warm the client first (as Aeries' pool does), or 500 threads queue on its lazy imports.
    client.chat.completions.create(
        model="sim-llama-3.1-8b", max_tokens=2, messages=[{"role": "user", "content": "warm"}]
    )
    ttfts: list[float] = []
    barrier = threading.Barrier(streams)
    lock = threading.Lock()

    def one(i: int) -> None:
        knobs: dict[str, object] = {"tokens": tokens}
        if i % 10 == 0:
            knobs.update(fault=FAULTS[i % len(FAULTS)], fault_after=3)
        barrier.wait()
        start = time.perf_counter()
        first = None
        try:
            stream = client.chat.completions.create(
                model="sim-llama-3.1-8b",
                messages=[{"role": "user", "content": f"load {i}"}],
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=tokens + 10,
                extra_body={"sim": knobs},
            )
            for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = (time.perf_counter() - start) * 1000
        except openai.APIError:
            return
        if first is not None and i % 10:
            with lock:
                ttfts.append(first)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) * 1000, ttfts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aeries.sim",
            "--port",
            str(port),
            "--ttft-ms",
            "100",
            "--itl-ms",
            "20",
            "--tokens",
            str(args.tokens),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = sim.stdout.readline().strip()
    httpx2.get(base_url.removesuffix("/v1") + "/health", timeout=10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(Path(tmp) / "load.duckdb")
            migrate(db)
            writer = Writer(db)
            raw_ms, raw_ttft = raw_batch(base_url, args.streams, args.tokens)
            t0 = time.perf_counter()
            outcomes = run_concurrent(base_url, writer, streams=args.streams, tokens=args.tokens)
            ours_ms = (time.perf_counter() - t0) * 1000
            writer.flush()
            rows = db.one("SELECT count(*) FROM exchanges")[0]
            errors = db.one("SELECT count(*) FROM exchanges WHERE status = 'error'")[0]
            writer.close()
            db.close()
    finally:
        sim.terminate()
        sim.wait(10)
    healthy = [o.result.ttft_ms for o in outcomes if not o.fault and o.result.ttft_ms]
    for o in outcomes:
        if not o.fault and o.result.status != "ok":
            print(
                f"unexpected failure of stream {o.index}: {o.result.error_kind}: "
                f"{o.result.error_detail}"
            )
    faults = sum(1 for o in outcomes if o.fault)
    print(
        f"{args.streams} concurrent streams, {args.tokens} tokens, sim TTFT 100 ms ITL 20 ms, "
        f"10% faults ({today()})"
    )
    print(
        f"raw openai: batch {raw_ms:.0f} ms, TTFT p50 {pct(raw_ttft, 0.5):.1f} ms "
        f"p99 {pct(raw_ttft, 0.99):.1f} ms"
    )
    print(
        f"aeries    : batch {ours_ms:.0f} ms, TTFT p50 {pct(healthy, 0.5):.1f} ms "
        f"p99 {pct(healthy, 0.99):.1f} ms, peak in flight {max_in_flight(outcomes)}"
    )
    print(
        f"rows logged {rows}/{args.streams} (lost {args.streams - rows}), errors logged "
        f"{errors}/{faults} faults; batch ratio aeries/raw {ours_ms / raw_ms:.2f}, "
        f"TTFT p50 ratio {pct(healthy, 0.5) / pct(raw_ttft, 0.5):.2f}"
    )


if __name__ == "__main__":
    main()
