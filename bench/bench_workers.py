"""Aeries through ``aeries serve --workers 1`` against ``--workers 2``, on one shared store.

One run, one machine: a temporary PostgreSQL cluster (``PostgresServer.temporary()``, fsync on
as ``--local-store`` runs it), one simulator (TTFT 100 ms, ITL 15 ms, 300 tokens, as
``bench_sessions``), and two ``python -m aeries serve`` commands on that one store, each with
its own nginx: one with one Streamlit worker, one with two. For each N in ``--sessions``, N
concurrent websocket sessions (``bench.ws_client``; each a participant with a personal link)
go through one command's nginx, then through the other's, alternating which goes first per N,
the simulator left to go idle before each batch. Each session loads the page over HTTP first,
as a new browser does (nginx sets its ``aeries_worker`` cookie there), opens its websocket
with that cookie, checks that the worker the websocket reached (``X-Aeries-Worker``) is the one
the page came from, and sends its two messages over that websocket (``bench_sessions``' turn).

Printed: first-token p50/p95 for message 1 and 2, the end of the run p50, the workers' CPU,
the ratios 2 workers / 1 worker, how the sessions spread over the workers, where each CPU
second of the batch went (each worker, nginx, the ``aeries serve`` supervisor, PostgreSQL,
the simulator, this client, and the machine as a whole) over the whole batch and over the
stretch from the first message-1 submit to the last message-1 first token (sampled every
0.1 s), the first token's split (before the request, the model, after the first chunk) from
the store, and after each batch a count in the store: every session's conversation, 2 user
messages, 2 answers and 2 chat exchanges, each exactly once (lost and duplicated rows are
reported), and any chat answer that did not end ok/stop.

Everything shares this machine's cores: the workers, nginx, PostgreSQL, the simulator and
this client (which parses every frame of every session). On a 2-core machine two workers
cannot have a core each; the CPU table says who had what.

    python -m bench.bench_workers --sessions 20,40
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aeries.serve.nginx import COOKIE
from aeries.serve.workers import free_port
from aeries.store.db import Database
from aeries.store.pg_server import PostgresServer
from bench._common import today
from bench.bench_sessions import (
    AERIES_SECRET,
    QUESTIONS,
    Batch,
    Subject,
    _end,
    _ms,
    cpu_seconds,
    incomplete_answers,
    make_links,
    measure_batch,
    split_report,
    warm_up,
)
from tests.e2e.helpers import RESEARCHER_SECRET, SimProcess, researcher_secret_hash
from tests.serve.helpers import ServeRun, descendants, start_serve, stop_serve, worker_env

WORKER_COUNTS = (1, 2)
GOAL_RATIO = 0.6  # issue 14: 2 workers' first-token p50 at 40 sessions ≤ 0.6× one worker's
GOAL_N = 40
# What each session leaves in the store: one conversation holding its two questions and their
# two answers, and one chat exchange per answer.
EXPECTED_ROWS: dict[str, int] = {
    "conversations": 1,
    "user messages": len(QUESTIONS),
    "answers": len(QUESTIONS),
    "chat exchanges": len(QUESTIONS),
}
SIM_LIMIT_CORES = 0.8  # the simulator is one process: near a core, it is what limits
ROWS_SETTLE_S = 30.0  # the workers' writers commit in the background: wait this long for rows


# --- CPU -----------------------------------------------------------------------------------


def _stat_times(pid: int) -> tuple[float, float]:
    """(own user + system, reaped children's user + system) CPU seconds of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every process below it, living or ended: PostgreSQL runs a
    backend per connection and nginx its worker processes as children."""
    total = 0.0
    for member in (pid, *descendants(pid)):
        with contextlib.suppress(OSError):  # ended meanwhile: its time is in its parent's now
            own, reaped = _stat_times(member)
            total += own + reaped
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (nor waiting for I/O) since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


Sample = tuple[float, dict[str, float]]  # (perf_counter, meter → CPU seconds so far)


class Sampler:
    """Reads every meter every ``step`` seconds in a thread of its own while a batch runs, so
    the CPU of a short stretch (message 1's first tokens, ~1 s) can be told apart from the
    whole batch's (which is mostly streaming). Use as ``with``."""

    def __init__(self, meters: Mapping[str, Callable[[], float]], step: float = 0.1) -> None:
        self.meters = dict(meters)
        self.step = step
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _take(self) -> None:
        values = {}
        for name, meter in self.meters.items():
            with contextlib.suppress(OSError, ValueError):  # a process gone: leave it out
                values[name] = meter()
        self.samples.append((time.perf_counter(), values))

    def _run(self) -> None:
        while not self._stop.wait(self.step):
            self._take()

    def __enter__(self) -> Sampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()


def window_cores(samples: Sequence[Sample], start: float, end: float) -> dict[str, float]:
    """Each meter's CPU seconds per second (cores) between ``start`` and ``end``, each end
    read off the samples by linear interpolation (a meter missing from a sample is skipped)."""
    if end <= start:
        return {}
    names = set().union(*(values for _, values in samples)) if samples else set()
    found = {}
    for name in sorted(names):
        points = [(t, values[name]) for t, values in samples if name in values]
        low, high = _at(points, start), _at(points, end)
        if low is not None and high is not None:
            found[name] = (high - low) / (end - start)
    return found


def _at(points: Sequence[tuple[float, float]], t: float) -> float | None:
    """The value at ``t`` on the line through ``points`` (sorted by time), None outside."""
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return None


def first_token_window(batch: Batch) -> tuple[float, float] | None:
    """From the first message-1 submit to the last message-1 first token: the stretch in which
    every session's first token is waited for."""
    sent = [t.sent_at for t in batch.first]
    shown = [t.first_text_at for t in batch.first if t.first_text_at is not None]
    return (min(sent), max(shown)) if sent and shown else None


def postmaster_pid(server: PostgresServer) -> int:
    """The cluster's postmaster, from its pid file (the first line)."""
    return int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


# --- the two `aeries serve` commands --------------------------------------------------------


@dataclass
class ServeStack:
    """One ``python -m aeries serve --workers N --store <url>`` and what its start-up said."""

    workers: int
    run: ServeRun
    port: int
    worker_urls: list[str]

    @property
    def name(self) -> str:
        return f"{self.workers} worker" + ("s" if self.workers > 1 else "")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return [self.run.pid_of(f"worker {i}") for i in range(self.workers)]

    def meters(self) -> dict[str, Callable[[], float]]:
        """CPU meters of this command's processes: each worker, nginx (master and workers),
        and the supervisor (which copies every child's log lines to its stderr)."""
        found: dict[str, Callable[[], float]] = {}
        for i, pid in enumerate(self.worker_pids()):
            found[f"worker {i}"] = _meter(cpu_seconds, pid)
        found["nginx"] = _meter(tree_cpu_seconds, self.run.pid_of("nginx"))
        found["serve"] = _meter(cpu_seconds, self.run.proc.pid)
        return found


def _meter(measure: Callable[[int], float], pid: int) -> Callable[[], float]:
    return lambda: measure(pid)


def start_stack(workers: int, store: str, sim_url: str) -> ServeStack:
    """``aeries serve`` on a free port, with the settings a deployment of several workers
    needs: the signing secret (links made here work on every worker) and a researcher secret
    (local mode off, as bench_sessions configures the app)."""
    port = free_port()
    env = worker_env(
        AERIES_BASE_URL=sim_url,
        AERIES_SECRET=AERIES_SECRET,
        AERIES_RESEARCHER_SECRET_HASH=researcher_secret_hash(RESEARCHER_SECRET),
    )
    args = ["--workers", str(workers), "--store", store, "--port", str(port)]
    run = start_serve(args, env, timeout=180.0)
    if run.proc.poll() is not None:
        raise RuntimeError(f"aeries serve {' '.join(args)} did not start: {run.stderr()}")
    urls = []
    for i in range(workers):
        line = next(x for x in run.lines if re.match(rf"\s*worker {i}: pid", x))
        found = re.search(r"(http://\S+) \(direct", line)
        assert found, line
        urls.append(found.group(1))
    return ServeStack(workers, run, port, urls)


# --- rows in the store ----------------------------------------------------------------------


def store_counts(db: Database, accounts: Sequence[str]) -> dict[str, dict[str, int]]:
    """account → {kind of row in EXPECTED_ROWS: how many the store holds} (portable SQL)."""
    counts: dict[str, dict[str, int]] = {a: {} for a in accounts}
    if not accounts:
        return counts
    marks = ", ".join("?" * len(accounts))
    params = list(accounts)
    queries = {
        "conversations": (
            f"SELECT user_id, 'conversations', count(*) FROM conversations "
            f"WHERE user_id IN ({marks}) GROUP BY user_id"
        ),
        "messages": (
            "SELECT c.user_id, CASE m.role WHEN 'user' THEN 'user messages' "
            "WHEN 'assistant' THEN 'answers' ELSE m.role END, count(*) "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            f"WHERE c.user_id IN ({marks}) AND m.role IN ('user', 'assistant') "
            "GROUP BY c.user_id, m.role"
        ),
        "exchanges": (
            "SELECT user_id, 'chat exchanges', count(*) FROM exchanges "
            f"WHERE source = 'chat' AND user_id IN ({marks}) GROUP BY user_id"
        ),
    }
    for sql in queries.values():
        for account, kind, count in db.rows(sql, params):
            counts[str(account)][str(kind)] = int(count)
    return counts


@dataclass
class RowCheck:
    """What the store holds against what the sessions should have left: rows missing (lost),
    rows beyond the expected number (duplicated), and a line per session that is off."""

    sessions: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def check_rows(
    counts: Mapping[str, Mapping[str, int]],
    accounts: Iterable[str],
    expected: Mapping[str, int] = EXPECTED_ROWS,
) -> RowCheck:
    """Compare each account's counts (``store_counts``) with ``expected``; an account the
    counts do not mention at all has lost everything. Kinds not expected are not looked at."""
    check = RowCheck()
    for account in accounts:
        check.sessions += 1
        have = counts.get(account, {})
        off = []
        for kind, want in expected.items():
            got = have.get(kind, 0)
            check.lost += max(0, want - got)
            check.duplicated += max(0, got - want)
            if got != want:
                off.append(f"{got} {kind} (expected {want})")
        if off:
            check.problems.append(f"{account}: " + ", ".join(off))
    return check


def settled_rows(
    db: Database, accounts: Sequence[str], settle_s: float = ROWS_SETTLE_S
) -> RowCheck:
    """``check_rows`` once nothing is missing, or after ``settle_s`` (a worker's writer may
    still hold the last rows when the batch ends); a duplicate never goes away, so it is
    reported as soon as no row is missing."""
    deadline = time.monotonic() + settle_s
    while True:
        check = check_rows(store_counts(db, accounts), accounts)
        if check.lost == 0 or time.monotonic() > deadline:
            return check
        time.sleep(0.5)


# --- report --------------------------------------------------------------------------------


@dataclass
class Measured:
    """One batch and what the store said after it."""

    batch: Batch
    rows: RowCheck
    incomplete: list[tuple[object, ...]]
    # Cores each meter used from the first message-1 submit to the last message-1 first token
    burst: dict[str, float] = field(default_factory=dict)
    burst_s: float = 0.0


def spread(batch: Batch) -> str:
    """How the batch's sessions spread over the workers: 'w0 21 / w1 19'."""
    seen = Counter(batch.workers)
    return " / ".join(f"w{w} {seen[w]}" for w in sorted(seen, key=str))


Results = dict[int, dict[str, Measured]]  # N → stack name → its batch


def _latency_table(results: Results) -> None:
    print(
        f"{'N':>3} {'stack':9} {'ok':>5} {'msg1 p50':>9} {'msg1 p95':>9} {'msg2 p50':>9} "
        f"{'msg2 p95':>9} {'end p50':>8} {'wall s':>7}  sessions per worker"
    )
    for n, by_stack in results.items():
        for name, m in by_stack.items():
            b = m.batch
            if not b.first:
                print(f"{n:>3} {name:9} no session completed")
                continue
            print(
                f"{n:>3} {name:9} {len(b.first):>2}/{n:<2} {_ms(b.first, 0.5):9.0f} "
                f"{_ms(b.first, 0.95):9.0f} {_ms(b.second, 0.5):9.0f} {_ms(b.second, 0.95):9.0f} "
                f"{_end(b.first + b.second):8.0f} {b.wall_s:7.1f}  {spread(b)}"
            )


def _cpu_table(results: Results) -> None:
    print("\nCPU seconds during each batch (and the machine's busy cores on average):")
    order = _meter_order(
        {k for by in results.values() for m in by.values() for k in m.batch.other_cpu_s}
    )
    print(f"{'N':>3} {'stack':9} " + " ".join(f"{k:>9}" for k in order) + f" {'busy cores':>10}")
    for n, by_stack in results.items():
        for name, m in by_stack.items():
            cpu = m.batch.other_cpu_s
            row = " ".join(f"{cpu[k]:9.1f}" if k in cpu else f"{'':>9}" for k in order)
            busy = cpu.get("machine", 0.0) / m.batch.wall_s if m.batch.wall_s else 0.0
            print(f"{n:>3} {name:9} {row} {busy:10.2f}")


def _burst_table(results: Results) -> None:
    print(
        "\nCores in use from the first message-1 submit to the last message-1 first token "
        "(sampled every 0.1 s; 'machine' is every process):"
    )
    metered = {k for by in results.values() for m in by.values() for k in m.burst}
    order = _meter_order(metered)
    print(f"{'N':>3} {'stack':9} {'window s':>8} " + " ".join(f"{k:>9}" for k in order))
    for n, by_stack in results.items():
        for name, m in by_stack.items():
            row = " ".join(f"{m.burst[k]:9.2f}" if k in m.burst else f"{'':>9}" for k in order)
            print(f"{n:>3} {name:9} {m.burst_s:8.2f} {row}")


def _meter_order(metered: set[str]) -> list[str]:
    """The workers first, then the rest in a fixed order."""
    return sorted(k for k in metered if k.startswith("worker")) + [
        k for k in ("nginx", "serve", "postgres", "sim", "client", "machine") if k in metered
    ]


def _ratio_table(results: Results) -> None:
    print("\n2 workers / 1 worker:")
    print(
        f"{'N':>3} {'msg1 p50':>9} {'msg1 p95':>9} {'msg2 p50':>9} {'msg2 p95':>9} {'end p50':>8}"
    )
    for n, by_stack in results.items():
        one, two = by_stack["1 worker"].batch, by_stack["2 workers"].batch
        if not (one.first and two.first):
            continue
        ratios = [_ms(two.first, q) / _ms(one.first, q) for q in (0.5, 0.95)] + [
            _ms(two.second, q) / _ms(one.second, q) for q in (0.5, 0.95)
        ]
        end = _end(two.first + two.second) / _end(one.first + one.second)
        print(f"{n:>3} " + " ".join(f"{r:9.2f}" for r in ratios) + f" {end:8.2f}")
    goal = results.get(GOAL_N)
    if goal and goal["1 worker"].batch.first and goal["2 workers"].batch.first:
        one, two = goal["1 worker"].batch, goal["2 workers"].batch
        r1 = _ms(two.first, 0.5) / _ms(one.first, 0.5)
        r2 = _ms(two.second, 0.5) / _ms(one.second, 0.5)
        met = "met" if max(r1, r2) <= GOAL_RATIO else "NOT met"
        print(
            f"goal (N = {GOAL_N}, first-token p50 ≤ {GOAL_RATIO}× one worker's): message 1 "
            f"{r1:.2f}×, message 2 {r2:.2f}× — {met}"
        )


def _rows_table(results: Results) -> None:
    per_session = ", ".join(f"{v} {k}" for k, v in EXPECTED_ROWS.items())
    print(f"\nRows in the store after each batch (per session: {per_session}):")
    for n, by_stack in results.items():
        for name, m in by_stack.items():
            r = m.rows
            incomplete = sum(int(str(row[2])) for row in m.incomplete)
            print(
                f"{n:>3} {name:9} {r.sessions} sessions checked: {r.lost} lost, "
                f"{r.duplicated} duplicated; {incomplete} answers not ok/stop"
            )
            for problem in r.problems[:10]:
                print(f"      {problem}", file=sys.stderr)
            for status, finish, count in m.incomplete:
                print(f"      {count} answers ended {status}/{finish}", file=sys.stderr)
            for failure in m.batch.failures:
                print(f"N={n} {name}: session failed: {failure}", file=sys.stderr)


def _sim_verdict(results: Results) -> None:
    shares = [
        m.batch.other_cpu_s.get("sim", 0.0) / m.batch.wall_s
        for by in results.values()
        for m in by.values()
        if m.batch.wall_s
    ]
    if not shares:
        return
    worst = max(shares)
    verdict = (
        "near a whole core: the one simulator process may be what limits"
        if worst > SIM_LIMIT_CORES
        else "under one core, but on the same 2 cores as the workers"
    )
    print(f"\nsimulator CPU: at most {worst:.2f} of a core over a batch ({verdict})")


def report(results: Results, args: argparse.Namespace) -> None:
    print(
        f"\nsimulator: TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, {args.tokens} tokens; "
        f"aeries serve on one PostgreSQL store; {os.cpu_count()} cores shared by all; {today()}"
    )
    _latency_table(results)
    _cpu_table(results)
    _burst_table(results)
    _ratio_table(results)
    _rows_table(results)
    _sim_verdict(results)


# --- the run -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="20,40", help="comma-separated N values")
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=15.0)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per script run")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds between an answer's end and message 2"
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="aeries-bench-workers-"))
    sim = SimProcess(work)
    stacks: list[ServeStack] = []
    results: Results = {}
    with PostgresServer.temporary() as server:
        store = server.create_database("aeries")
        # Every batch of both commands, and a warm-up session per worker.
        links = make_links(store, 2 * sum(counts) + sum(WORKER_COUNTS))
        db = Database(store)
        postgres = postmaster_pid(server)
        try:
            sim.start()
            sim.configure(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, tokens=args.tokens)
            stacks = [start_stack(w, store, sim.base_url) for w in WORKER_COUNTS]
            assert sim.proc is not None
            sim_pid = sim.proc.pid
            shared: dict[str, Callable[[], float]] = {
                "postgres": lambda: tree_cpu_seconds(postgres),
                "sim": lambda: cpu_seconds(sim_pid),
                "client": time.process_time,
                "machine": machine_busy_seconds,
            }
            subjects = {}
            for stack in stacks:
                # Warm-up: one session on each worker straight at its port (the first run of a
                # server builds its caches; through the proxy, the hash might skip a worker).
                for i, url in enumerate(stack.worker_urls):
                    warm_up(
                        Subject(f"{stack.name} w{i}", url, "aeries.prompt", links), args.timeout
                    )
                subjects[stack.name] = Subject(
                    stack.name, stack.url, "aeries.prompt", links, stack.worker_pids, COOKIE
                )
            for i, n in enumerate(counts):
                results[n] = {}
                for stack in stacks if i % 2 == 0 else stacks[::-1]:
                    meters = shared | stack.meters()
                    with Sampler(meters) as sampler:
                        batch = measure_batch(sim, subjects[stack.name], n, args, meters)
                    accounts = [a for a in batch.accounts if a is not None]
                    rows = settled_rows(db, accounts)
                    incomplete = incomplete_answers(db, accounts)
                    measured = Measured(batch, rows, incomplete)
                    window = first_token_window(batch)
                    if window is not None:
                        measured.burst = window_cores(sampler.samples, *window)
                        measured.burst_s = window[1] - window[0]
                    results[n][stack.name] = measured
                    print(
                        f"      rows: {rows.lost} lost, {rows.duplicated} duplicated over "
                        f"{rows.sessions} sessions; sessions per worker {spread(batch)}",
                        flush=True,
                    )
        finally:
            for stack in stacks:
                stop_serve(stack.run)
            sim.stop()
        try:
            ordered = {
                n: {s.name: r[s.name] for s in stacks if s.name in r} for n, r in results.items()
            }
            report(ordered, args)
            split_report(
                db,
                {n: {k: m.batch for k, m in r.items()} for n, r in ordered.items()},
                [s.name for s in stacks],
            )
        finally:
            db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
