"""The Streamlit worker processes: ``python -m streamlit run app.py`` on loopback ports.

Each worker runs from the project root, so it reads the project's ``.streamlit/config.toml``
(and secrets) exactly as a plain ``streamlit run app.py`` does; the flags passed here only pin
what the supervisor depends on: the port, loopback, no browser, no file watcher (a server in
production does not reload on edits, and watching costs CPU), and the upload limit nginx is
configured with. This module never imports Streamlit: the supervisor only starts it.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import threading
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from aeries.serve.process import Child, describe_status

WORKER_HOST = "127.0.0.1"
HEALTH_PATH = "/_stcore/health"
DEFAULT_MAX_UPLOAD_MB = 200  # Streamlit's own default for server.maxUploadSize
UPLOAD_ENV = "STREAMLIT_SERVER_MAX_UPLOAD_SIZE"


class WorkerError(RuntimeError):
    """A worker did not start, or stopped answering."""


def free_port(host: str = WORKER_HOST) -> int:
    """A TCP port on ``host`` nobody listens on right now (a worker told to use a port that is
    taken by then exits at once, which the start-up check reports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def max_upload_mb(root: Path, env: Mapping[str, str] | None = None) -> int:
    """Streamlit's ``server.maxUploadSize`` as the workers would resolve it: the environment
    variable, else the project's .streamlit/config.toml, else the user's, else 200 MB. The
    workers are then given this value explicitly, so nginx and Streamlit cannot disagree."""
    env = os.environ if env is None else env
    raw = env.get(UPLOAD_ENV)
    if raw is not None and raw.strip():
        return _positive_mb(raw, UPLOAD_ENV)
    for path in (root / ".streamlit" / "config.toml", Path.home() / ".streamlit" / "config.toml"):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise WorkerError(f"{path} could not be read as TOML: {exc}") from None
        server = data.get("server")
        if isinstance(server, dict) and "maxUploadSize" in server:
            return _positive_mb(server["maxUploadSize"], f"server.maxUploadSize in {path}")
    return DEFAULT_MAX_UPLOAD_MB


def _positive_mb(value: object, where: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise WorkerError(f"{where} must be a whole number of megabytes, got {value!r}.") from None
    if number < 1:
        raise WorkerError(f"{where} must be at least 1 (megabytes), got {value!r}.")
    return number


def streamlit_args(
    app: Path,
    port: int,
    *,
    max_upload: int,
    public_host: str | None = None,
    public_port: int | None = None,
) -> list[str]:
    """The command line of one worker."""
    args = [sys.executable, "-m", "streamlit", "run", str(app)]
    args += ["--server.port", str(port), "--server.address", WORKER_HOST]
    args += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    args += ["--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    args += ["--server.maxUploadSize", str(max_upload)]
    if public_host is not None and public_port is not None:
        # The address people use (the proxy's): Streamlit prints it and names it in the
        # CORS header of uploads, instead of the worker's private port.
        args += ["--browser.serverAddress", public_host, "--browser.serverPort", str(public_port)]
    return args


class Worker(Child):
    """One Streamlit process, numbered ``index``."""

    def __init__(self, index: int, port: int, log_dir: Path, *, out: TextIO | None = None) -> None:
        super().__init__(f"worker {index}", log_dir / f"worker-{index}.log", out=out)
        self.index = index
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{WORKER_HOST}:{self.port}"

    def start(self, args: Sequence[str], *, root: Path, env: Mapping[str, str], store: str) -> None:
        """Start the worker from ``root`` with ``env`` plus its number and the store."""
        own = dict(env)
        own["AERIES_WORKER"] = str(self.index)
        own["AERIES_DB"] = store
        own["PYTHONUNBUFFERED"] = "1"  # its log lines reach us as they are written
        self.spawn(args, cwd=root, env=own)


def answers_health(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether ``GET /_stcore/health`` on host:port answers 200."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", HEALTH_PATH)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_until_healthy(
    children: Sequence[tuple[Child, str, int]], *, timeout: float, stop: threading.Event
) -> None:
    """Wait until every (child, host, port) answers its health check.

    Raises WorkerError naming the child if one exits first or the time runs out; returns early
    (leaving the rest to the caller) once ``stop`` is set."""
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending:
        if stop.is_set():
            return
        for item in list(pending):
            child, host, port = item
            code = child.poll()
            if code is not None:
                child.finish_output()
                raise WorkerError(
                    f"{child.name} {describe_status(code)} before it answered {HEALTH_PATH} "
                    f"on {host}:{port}. Its last lines:\n{child.tail_text()}"
                )
            if answers_health(host, port, timeout=min(1.0, max(0.1, deadline - time.monotonic()))):
                pending.remove(item)
        if pending and time.monotonic() > deadline:
            names = ", ".join(child.name for child, _, _ in pending)
            raise WorkerError(
                f"{names} did not answer {HEALTH_PATH} within {timeout:.0f} s. Last lines of "
                f"{pending[0][0].name}:\n{pending[0][0].tail_text()}"
            )
        if pending:
            stop.wait(0.1)
