"""Real processes for the serving tests: Streamlit workers and nginx assembled from
``aeries.serve``'s pieces, ``aeries serve`` itself as a subprocess, and a websocket session that
carries the proxy's cookie and records what the page drew.

Nothing here stands in for nginx or Streamlit: the workers run ``streamlit run app.py`` and the
proxy is Debian's nginx with the configuration ``aeries serve`` writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from aeries.serve.nginx import (
    COOKIE,
    WORKER_HEADER,
    ProxyConfig,
    check_config,
    find_nginx,
    start_nginx,
    unprivileged_user,
    write_config,
)
from aeries.serve.process import Child, pid_alive, stop_all
from aeries.serve.workers import Worker, free_port, streamlit_args, wait_until_healthy
from bench.ws_client import WsSession

ROOT = Path(__file__).resolve().parents[2]
UPLOAD_MB = 2  # small, so a test can send one byte too many cheaply


def worker_env(**extra: str) -> dict[str, str]:
    """This environment without any AERIES_/STREAMLIT_ setting of the machine, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AERIES_", "STREAMLIT_"))}
    return env | extra


class ProxyStack:
    """N Streamlit workers, each on its own DuckDB file in ``workdir``, behind nginx.

    Built from the same functions ``aeries serve`` uses, minus its refusal of DuckDB for more
    than one worker (each worker here has a file of its own, which is all these tests need)."""

    def __init__(self, workdir: Path, workers: int, base_url: str) -> None:
        self.workdir = workdir
        self.base_url = base_url
        self.log: TextIO = (workdir / "processes.log").open("a", encoding="utf-8")
        # Outside pytest's own folders (closed to others), as `aeries serve` makes it: nginx's
        # workers run as nobody and walk down to their temporary folders. A space in the name:
        # the configuration quotes its paths.
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="aeries serve test "))
        if unprivileged_user() is not None:
            self.runtime_dir.chmod(0o711)
        self.workers = [Worker(i, free_port(), workdir, out=self.log) for i in range(workers)]
        self.nginx = Child("nginx", workdir / "nginx.log", out=self.log)
        self.port = free_port()
        self.cfg = ProxyConfig(
            runtime_dir=self.runtime_dir,
            listen_address="127.0.0.1",
            listen_port=self.port,
            backends=tuple(("127.0.0.1", w.port) for w in self.workers),
            max_upload_mb=UPLOAD_MB,
            run_as=unprivileged_user(),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyStack:
        try:
            env = worker_env(AERIES_BASE_URL=self.base_url)
            for worker in self.workers:
                args = streamlit_args(ROOT / "app.py", worker.port, max_upload=UPLOAD_MB)
                store = str(self.workdir / f"worker{worker.index}.duckdb")
                worker.start(args, root=ROOT, env=env, store=store)
            never = threading.Event()
            wait_until_healthy(
                [(w, "127.0.0.1", w.port) for w in self.workers], timeout=90, stop=never
            )
            write_config(self.cfg)
            binary = find_nginx()
            check_config(binary, self.cfg)
            start_nginx(binary, self.cfg, self.nginx)
            wait_until_healthy([(self.nginx, "127.0.0.1", self.port)], timeout=20, stop=never)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        stop_all([self.nginx, *self.workers], grace_s=10.0, hurry=threading.Event())
        self.log.close()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def worker(self) -> str | None:
        return self.headers.get(WORKER_HEADER)

    def cookie(self, name: str) -> str | None:
        """The value a Set-Cookie header of this reply gives ``name``."""
        for header in self.headers.get_all("Set-Cookie") or []:
            key, _, rest = header.partition("=")
            if key.strip() == name:
                return rest.split(";", 1)[0]
        return None


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One HTTP request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = dict(headers or {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its content type."""
    boundary = secrets.token_hex(12)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, f"multipart/form-data; boundary={boundary}"


# --- a websocket session through the proxy -------------------------------------------------


class PageSession(WsSession):
    """A Streamlit session that sends the proxy's cookie with its handshake, notes which worker
    nginx says answered, and records the session id and what the page drew: headings, widget
    labels, markdown, and whether there is a chat input."""

    def __init__(self, base_url: str, cookie: str | None = None) -> None:
        super().__init__(base_url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else None)
        self.cookie = cookie
        self.session_id: str | None = None
        self.texts: list[str] = []
        self.kinds: set[str] = set()
        self.pages: list[str] = []

    @property
    def worker(self) -> str | None:
        """The worker nginx named in the websocket handshake's answer."""
        return None if self.response_headers is None else self.response_headers.get(WORKER_HEADER)

    async def load(self, timeout: float = 60.0) -> None:
        """Run the page (a page load's rerun) and wait until the run ends, whatever it drew."""
        msg = BackMsg()
        self._client_state(msg)
        await self._send(msg, None)
        await self.wait_end(timeout)

    def _handle(self, msg: ForwardMsg, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        elif kind == "navigation":
            self.pages = [page.page_name for page in msg.navigation.app_pages]
        super()._handle(msg, now)

    def _delta(self, msg: ForwardMsg, now: float) -> None:
        if msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            kind = element.WhichOneof("type")
            if kind is not None:
                self.kinds.add(kind)
                proto = getattr(element, kind)
                for attr in ("body", "label"):
                    text = getattr(proto, attr, None)
                    if isinstance(text, str) and text:
                        self.texts.append(text)
        super()._delta(msg, now)


def run(coro: Any) -> Any:
    """Run one coroutine to its end, in an event loop of its own on a thread of its own: an
    earlier test in the run (Playwright's sync API) may leave a loop running on this thread,
    and asyncio.run refuses to start inside one."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --- `aeries serve` as a subprocess --------------------------------------------------------


@dataclass
class ServeRun:
    """A running ``python -m aeries serve``: its process, and what its start-up lines said."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def pid_of(self, name: str) -> int:
        """The pid the announcement gives ``name`` ('worker 0', 'nginx')."""
        for line in self.lines:
            found = re.match(rf"\s*{re.escape(name)}: pid (\d+)", line)
            if found:
                return int(found.group(1))
        raise AssertionError(f"no pid for {name} in {self.lines}")

    @property
    def runtime_dir(self) -> Path:
        for line in self.lines:
            found = re.search(r"config (\S+)/nginx\.conf", line)
            if found:
                return Path(found.group(1))
        raise AssertionError(f"no runtime directory in {self.lines}")

    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)


def _pump(stream: TextIO, into: list[str], lines: queue.Queue[str | None] | None) -> None:
    for line in stream:
        into.append(line.rstrip("\n"))
        if lines is not None:
            lines.put(line.rstrip("\n"))
    if lines is not None:
        lines.put(None)


def start_serve(args: list[str], env: Mapping[str, str], timeout: float = 60.0) -> ServeRun:
    """Start ``python -m aeries serve <args>`` from the project root and wait for its
    'Press Ctrl-C' line (or its exit, for a refusal)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aeries", "serve", *args],
        cwd=ROOT,
        env=dict(env) | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_ = ServeRun(proc)
    assert proc.stdout is not None and proc.stderr is not None
    threading.Thread(target=_pump, args=(proc.stdout, run_.lines, run_._queue), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, run_.stderr_lines, None), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = run_._queue.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            stop_serve(run_)
            raise AssertionError(
                f"aeries serve did not start in {timeout} s: {run_.stderr()}"
            ) from None
        if line is None or line.startswith("Press Ctrl-C"):
            return run_


def stop_serve(run_: ServeRun, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    """Signal ``aeries serve`` and wait for its exit code (killed if it hangs)."""
    if run_.proc.poll() is None:
        run_.proc.send_signal(signum)
    try:
        return run_.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        run_.proc.kill()
        run_.proc.wait(5)
        raise


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …), from /proc."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(OSError):
                    for child in (task / "children").read_text().split():
                        found.append(int(child))
                        todo.append(int(child))
    return found


def alive(pids: list[int]) -> list[int]:
    """The ones of ``pids`` still running."""
    return [pid for pid in pids if pid_alive(pid)]


@contextlib.contextmanager
def listening(port: int) -> Iterator[None]:
    """Something else listening on 127.0.0.1:port for the duration."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield
