"""Many sessions at once: Aeries' chat page against the minimal chat page, without a browser.

One simulator (TTFT 100 ms, ITL 15 ms, 300 tokens per answer, as in issue 14) serves two
``streamlit run`` processes: Aeries' ``app.py`` and ``bench/minimal_chat_page.py`` (the
openai stream handed to ``st.write_stream``). For each N in ``--sessions``, N concurrent
sessions (asyncio, ``bench.ws_client.WsSession``: Streamlit's websocket protocol, no browser)
each open the page, wait until every session's page is loaded, then send a first message,
wait for its run to end, send a second message (at once, or after ``--pause`` seconds) and
wait again. Both apps are measured at each N in the same run, one after the other,
alternating which goes first; before each batch the simulator is left to go idle (Aeries'
observer calls it after each answer, so with no pause message 2 meets that call).

Measured per session and message, on the client: submit (the ``rerun_script`` BackMsg going
out) → the first websocket delta with answer text (first token), submit → the end of the
script run, and the websocket bytes received from submit to that end (bytes per answer).
Printed per N and app: first-token p50/p95 for message 1 (a freshly loaded page) and
message 2 (a conversation with history), the end of the run p50, bytes per answer p50, and
the ratios Aeries / minimal.

Identity: each Aeries session is its own participant, opened with a personal link
(``?p=<token>``) made as ``tests/helpers.participant_link`` makes one: the accounts are
created in the database before the app starts, and the app signs links with ``AERIES_SECRET``
set here. A researcher secret is configured (so local mode is off), as in a deployment.

    python -m bench.bench_sessions --sessions 1,5,10,20

Client and servers share this machine's cores, so the figures include the client's own
parsing of every frame.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aeries.serve.nginx import WORKER_HEADER
from aeries.store.db import Database
from bench._common import pct, today
from bench.ws_client import Turn, WsSession
from tests.e2e.helpers import RESEARCHER_SECRET, AppProcess, SimProcess

BASELINE_PAGE = "bench/minimal_chat_page.py"
AERIES_SECRET = "bench_sessions signing secret, not for production"
QUESTIONS = ("Tell me about the history of tea.", "And how is it grown today?")


@dataclass
class Subject:
    """One app under test (at ``url``) and the personal links still unused for it."""

    name: str
    url: str
    chat_key: str | None
    # (query string, account id), one per session to come
    links: list[tuple[str, str]] = field(default_factory=list)
    # The processes whose CPU is the app's (asked at each batch: they start after this is made)
    pids: Callable[[], list[int]] = list
    # Behind `aeries serve`: the proxy's sticky cookie. Each session first loads the page over
    # HTTP as a browser does (nginx sets the cookie there), then opens its websocket with it.
    cookie_name: str | None = None

    def take_link(self) -> tuple[str, str | None]:
        return self.links.pop() if self.links else ("", None)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())


@dataclass
class Batch:
    """The turns of one batch: N sessions against one app."""

    n: int
    first: list[Turn] = field(default_factory=list)
    second: list[Turn] = field(default_factory=list)
    accounts: list[str | None] = field(default_factory=list)  # the session of first[i]
    workers: list[str | None] = field(default_factory=list)  # the worker of first[i], if named
    failures: list[str] = field(default_factory=list)
    cpu_s: float = 0.0  # the app processes' CPU time (user + system) during the batch
    wall_s: float = 0.0
    other_cpu_s: dict[str, float] = field(default_factory=dict)  # the other meters' CPU time


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_links(target: str | Path, count: int) -> list[tuple[str, str]]:
    """``count`` participants in the store at ``target`` (a DuckDB file or a postgresql://
    URL; migrated here): their personal link's query string and account id."""
    from urllib.parse import urlencode

    from aeries.auth import name_key, participant_token
    from aeries.auth.tokens import load_or_create_key
    from aeries.store.migrations import migrate
    from aeries.store.users import create_account

    # Derived from AERIES_SECRET (which the apps get too): no key file is read or made.
    key = load_or_create_key(Path("unused.key"), AERIES_SECRET)
    db = Database(target)
    try:
        migrate(db)
        links = []
        for i in range(count):
            name = f"bench-{i:03d}"
            account = create_account(db, name, name_key(name), "invite")
            token = participant_token(key, account.id, account.link_epoch)
            links.append((urlencode({"p": token}), account.id))
    finally:
        db.close()
    return links


def proxy_visit(url: str, cookie_name: str) -> tuple[str, str | None]:
    """GET the page through the proxy without cookies, as a new browser does: the sticky
    cookie nginx sets, and the worker its answer names."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            key, _, rest = header.partition("=")
            if key.strip() == cookie_name:
                return rest.split(";", 1)[0], response.headers.get(WORKER_HEADER)
    finally:
        conn.close()
    raise RuntimeError(f"the proxy at {url} set no {cookie_name} cookie")


async def _session(
    subject: Subject, loaded: asyncio.Barrier, batch: Batch, timeout: float, pause: float
) -> None:
    waited = False
    try:
        query, account = subject.take_link()
        headers: dict[str, str] = {}
        visited: str | None = None
        if subject.cookie_name is not None:
            cookie, visited = await asyncio.to_thread(proxy_visit, subject.url, subject.cookie_name)
            headers = {"Cookie": f"{subject.cookie_name}={cookie}"}
        async with WsSession(subject.url, subject.chat_key, headers=headers) as session:
            assert session.response_headers is not None
            worker = session.response_headers.get(WORKER_HEADER)
            if visited is not None and worker != visited:
                raise RuntimeError(
                    f"not sticky: the page came from worker {visited}, the "
                    f"websocket went to {worker}"
                )
            try:
                await session.open(query, timeout)
            finally:
                waited = True
                await loaded.wait()  # every session's page loaded (or failed): then all send
            turns = []
            for i, text in enumerate(QUESTIONS):
                if i and pause:
                    await asyncio.sleep(pause)  # reading the answer before writing again
                turn = await session.submit(text)
                await session.wait_end(timeout)
                if turn.first_text_at is None:
                    raise RuntimeError(f"no answer text for {text!r}; errors: {session.errors}")
                turns.append(turn)
            if session.errors:
                raise RuntimeError("; ".join(session.errors))
            batch.first.append(turns[0])
            batch.second.append(turns[1])
            batch.accounts.append(account)
            batch.workers.append(worker)
    finally:
        if not waited:  # the connection failed: do not keep the others waiting
            await loaded.wait()


async def run_batch(subject: Subject, n: int, timeout: float, pause: float = 0.0) -> Batch:
    """N sessions at once against ``subject``."""
    batch = Batch(n)
    loaded = asyncio.Barrier(n)
    done = await asyncio.gather(
        *(_session(subject, loaded, batch, timeout, pause) for _ in range(n)),
        return_exceptions=True,
    )
    batch.failures = [f"{type(e).__name__}: {e}" for e in done if isinstance(e, BaseException)]
    return batch


def wait_sim_idle(sim: SimProcess, timeout: float = 90.0) -> float:
    """Wait until the simulator has served nothing for 1 s (Aeries' observer calls it after
    each answer); returns the seconds waited."""
    start = time.monotonic()
    idle_since = None
    while time.monotonic() - start < timeout:
        stats = sim.stats()
        if stats.get("running", 0) == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 1.0:
                break
        else:
            idle_since = None
        time.sleep(0.1)
    return time.monotonic() - start


def _pid_of(app: AppProcess) -> Callable[[], list[int]]:
    return lambda: [app.proc.pid] if app.proc is not None else []


def warm_up(subject: Subject, timeout: float) -> None:
    """One session, unmeasured: the first run of a server builds its caches."""
    warm = asyncio.run(run_batch(subject, 1, timeout))
    if warm.failures:
        raise RuntimeError(f"{subject.name} warm-up failed: {warm.failures[0]}")


def measure_batch(
    sim: SimProcess,
    subject: Subject,
    n: int,
    args: argparse.Namespace,
    meters: Mapping[str, Callable[[], float]] | None = None,
) -> Batch:
    """One batch of N sessions once the simulator is idle, with the app's CPU time and that of
    each of ``meters`` (name → CPU seconds so far) over the batch; prints a line."""
    meters = meters or {}
    waited = wait_sim_idle(sim)
    started = time.monotonic()
    cpu_before = subject.cpu_seconds()
    others_before = {name: meter() for name, meter in meters.items()}
    batch = asyncio.run(run_batch(subject, n, args.timeout, args.pause))
    batch.cpu_s = subject.cpu_seconds() - cpu_before
    batch.other_cpu_s = {name: meter() - others_before[name] for name, meter in meters.items()}
    batch.wall_s = time.monotonic() - started
    print(
        f"N={n:>3} {subject.name:9} {len(batch.first)}/{n} sessions in {batch.wall_s:.1f} s, "
        f"app CPU {batch.cpu_s:.1f} s (waited {waited:.1f} s for the simulator to go idle)",
        flush=True,
    )
    return batch


def _ms(turns: list[Turn], q: float) -> float:
    return pct([t.first_text_ms for t in turns if t.first_text_ms is not None], q)


def _end(turns: list[Turn]) -> float:
    return statistics.median(t.end_ms for t in turns if t.end_ms is not None)


def _kb(batch: Batch) -> float:
    return statistics.median(t.bytes_received for t in batch.first + batch.second) / 1000


def report(results: dict[int, dict[str, Batch]], args: argparse.Namespace) -> None:
    print(
        f"\nsimulator: TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, {args.tokens} tokens; "
        f"pause before message 2 {args.pause:g} s; websocket client, {today()}"
    )
    head = (
        f"{'N':>3} {'app':8} {'msg1 p50':>9} {'msg1 p95':>9} {'msg2 p50':>9} {'msg2 p95':>9} "
        f"{'end p50':>8} {'KB/answer':>9}"
    )
    print(head)
    for n, by_app in results.items():
        for name, b in by_app.items():
            if not b.first:
                print(f"{n:>3} {name:8} no session completed")
                continue
            print(
                f"{n:>3} {name:8} {_ms(b.first, 0.5):9.0f} {_ms(b.first, 0.95):9.0f} "
                f"{_ms(b.second, 0.5):9.0f} {_ms(b.second, 0.95):9.0f} "
                f"{_end(b.first + b.second):8.0f} {_kb(b):9.1f}"
            )
    print("\nAeries / minimal:")
    print(f"{'N':>3} {'msg1 p50':>9} {'msg1 p95':>9} {'msg2 p50':>9} {'msg2 p95':>9} {'bytes':>7}")
    for n, by_app in results.items():
        a, m = by_app["Aeries"], by_app["minimal"]
        if not (a.first and m.first):
            continue
        print(
            f"{n:>3} {_ms(a.first, 0.5) / _ms(m.first, 0.5):9.2f} "
            f"{_ms(a.first, 0.95) / _ms(m.first, 0.95):9.2f} "
            f"{_ms(a.second, 0.5) / _ms(m.second, 0.5):9.2f} "
            f"{_ms(a.second, 0.95) / _ms(m.second, 0.95):9.2f} {_kb(a) / _kb(m):7.2f}"
        )
    for n, by_app in results.items():
        for name, b in by_app.items():
            for failure in b.failures:
                print(f"N={n} {name}: session failed: {failure}", file=sys.stderr)


@dataclass
class Split:
    """Where one first token's wait went, from the client's clock and the app's own row."""

    before_ms: float  # submit → the request sent (the page's work before it)
    ttft_ms: float  # request sent → first chunk (the model server, as Aeries logged it)
    after_ms: float  # first chunk → answer text on the client (drawing and sending it)


def first_token_splits(db: Database, batch: Batch) -> tuple[list[Split], list[Split]]:
    """Each Aeries session's two turns matched to its chat exchanges (one account per
    session, so the k-th exchange is the k-th message)."""
    splits: tuple[list[Split], list[Split]] = ([], [])
    for account, *turns in zip(batch.accounts, batch.first, batch.second, strict=True):
        rows = db.rows(
            "SELECT started_at, ttft_ms FROM exchanges WHERE user_id = ? AND source = 'chat' "
            "ORDER BY started_at",
            [account],
        )
        for turn, row, out in zip(turns, rows, splits, strict=False):
            started, ttft = row
            if turn.first_text_ms is None or ttft is None:
                continue
            before = (started.timestamp() - turn.sent_wall) * 1e3
            out.append(Split(before, ttft, turn.first_text_ms - before - ttft))
    return splits


def incomplete_answers(
    db: Database, accounts: Sequence[str] | None = None
) -> list[tuple[object, ...]]:
    """Aeries' chat answers (of ``accounts``, else all) that did not end normally (the figures
    count only whole answers: a client that sent the wrong widget values would show up here as
    short answers). Portable SQL: the same on DuckDB and PostgreSQL."""
    sql = (
        "SELECT status, finish_reason, count(*) FROM exchanges WHERE source = 'chat' "
        "AND (status <> 'ok' OR finish_reason IS DISTINCT FROM 'stop')"
    )
    params: list[object] = []
    if accounts is not None:
        if not accounts:
            return []
        sql += f" AND user_id IN ({', '.join('?' * len(accounts))})"
        params = list(accounts)
    return db.rows(sql + " GROUP BY status, finish_reason", params)


def split_report(
    db: Database, results: dict[int, dict[str, Batch]], names: Sequence[str] = ("Aeries",)
) -> None:
    """The first token's parts for the apps ``names`` (whose sessions are logged in ``db``)."""
    print("\nAeries' first token, p50 of each part (submit → request sent → first chunk → text):")
    print(f"{'N':>3} {'app':9} {'msg':>3} {'before':>7} {'model':>7} {'after':>7}")
    for n, by_app in results.items():
        for app in names:
            batch = by_app.get(app)
            if batch is None or not batch.first:
                continue
            for msg, splits in enumerate(first_token_splits(db, batch), start=1):
                if not splits:
                    continue
                parts = [
                    statistics.median(getattr(x, name) for x in splits)
                    for name in ("before_ms", "ttft_ms", "after_ms")
                ]
                print(f"{n:>3} {app:9} {msg:>3} " + " ".join(f"{p:7.0f}" for p in parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,5,10,20", help="comma-separated N values")
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=15.0)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per script run")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds between an answer's end and message 2"
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]

    work = Path(tempfile.mkdtemp(prefix="aeries-bench-sessions-"))
    db_path = work / "aeries.duckdb"
    links = make_links(db_path, sum(counts) + 1)  # +1: the warm-up session
    sim = SimProcess(work)
    aeries_app = AppProcess(
        work,
        sim.base_url,
        db_path,
        researcher_secret=RESEARCHER_SECRET,
        env={"AERIES_SECRET": AERIES_SECRET},
    )
    minimal_app = AppProcess(work, sim.base_url, work / "unused.duckdb", BASELINE_PAGE)
    apps = [aeries_app, minimal_app]
    aeries = Subject("Aeries", aeries_app.url, "aeries.prompt", links, _pid_of(aeries_app))
    minimal = Subject("minimal", minimal_app.url, None, pids=_pid_of(minimal_app))
    subjects = [aeries, minimal]
    results: dict[int, dict[str, Batch]] = {}
    try:
        sim.start()
        sim.configure(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, tokens=args.tokens)
        for app in apps:
            app.start()
        for subject in subjects:  # warm-up: the first run of each server builds its caches
            warm_up(subject, args.timeout)
        for i, n in enumerate(counts):
            results[n] = {}
            for subject in subjects if i % 2 == 0 else subjects[::-1]:
                results[n][subject.name] = measure_batch(sim, subject, n, args)
    finally:
        for app in apps:
            app.stop()
        sim.stop()
    ordered = {n: {s.name: r[s.name] for s in subjects} for n, r in results.items()}
    report(ordered, args)
    db = Database(db_path)  # Aeries' own log, read once the app has stopped
    try:
        split_report(db, ordered)
        for status, finish, count in incomplete_answers(db):
            print(f"Aeries: {count} answers ended {status}/{finish}, not ok/stop", file=sys.stderr)
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
