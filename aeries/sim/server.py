"""The simulator's HTTP server: routes, the admin endpoints, and `SimServer` on a loopback port.

Uvicorn serves the Starlette app from a daemon thread. The handlers read the server through
`request.app.state.sim` (a `SimHost`), so a change to `SimServer.config` applies to the next
request.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aeries.sim import protocol
from aeries.sim.chat import chat_completions
from aeries.sim.config import ADMIN_FIELDS, FAULTS, SimConfig
from aeries.sim.engine import Engine
from aeries.sim.metrics import SimMetrics
from aeries.sim.state import SimStats
from aeries.sim.stream import SimDrop

THREAD_PREFIX = "aeries-sim-"


async def _models(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    return JSONResponse(protocol.model_list(sim.config.served()))


async def _health(request: Request) -> Response:
    config: SimConfig = request.app.state.sim.config
    return protocol.health_response(config.health_ok and config.fault != "health_503")


async def _metrics(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    text = sim.metrics.render(model.name for model in sim.config.served())
    return PlainTextResponse(text, media_type=protocol.METRICS_MEDIA_TYPE)


async def _admin_stats(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    return JSONResponse(sim.stats.snapshot())


async def _admin_responses(request: Request) -> Response:
    """The last answers as sent: `?id=chatcmpl-…` for one (404 if unknown), else all."""
    sim: SimServer = request.app.state.sim
    wanted = request.query_params.get("id")
    if wanted is None:
        return JSONResponse({"responses": sim.stats.responses_snapshot()})
    found = sim.stats.response(wanted)
    if found is None:
        return protocol.error_response(404, f"No response {wanted!r} on record.", "NotFoundError")
    return JSONResponse(found)


async def _admin_reset(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    sim.reset_stats()
    return JSONResponse(sim.stats.snapshot())


async def _admin_config(request: Request) -> Response:
    """Partial update of the scalar config fields; answers with the resulting values."""
    sim: SimServer = request.app.state.sim
    try:
        update = await request.json()
    except ValueError:
        update = None
    if not isinstance(update, dict):
        return _bad("Body must be a JSON object.")
    unknown = sorted(set(update) - set(ADMIN_FIELDS))
    if unknown:
        return _bad(f"Unknown config fields: {unknown}.")
    fault = update.get("fault")
    if fault is not None and fault not in FAULTS:
        return _bad(f"Unknown fault {fault!r}.", "fault")
    problem = _admin_problem(update)
    if problem is not None:
        return _bad(problem)
    for name, value in update.items():
        setattr(sim.config, name, value)
    return JSONResponse(protocol.admin_config(sim.config))


def _admin_problem(update: dict[str, Any]) -> str | None:
    """Why the engine settings of an admin update cannot apply, if they cannot."""
    interval = update.get("stream_interval", 1)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        return "stream_interval must be an integer of at least 1."
    seqs = update.get("max_num_seqs")
    if seqs is not None and (isinstance(seqs, bool) or not isinstance(seqs, int) or seqs < 1):
        return "max_num_seqs must be null or an integer of at least 1."
    if not isinstance(update.get("per_request_metrics", False), bool):
        return "per_request_metrics must be true or false."
    return None


def _bad(message: str, param: str | None = None) -> JSONResponse:
    return protocol.error_response(400, message, "BadRequestError", param)


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI-style JSON for unknown paths and methods, as vLLM answers them."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    return JSONResponse(protocol.http_error_body(detail), status_code=status)


def build_app(sim: SimServer) -> Starlette:
    """The ASGI app serving `sim` (its config, stats and metrics)."""
    app = Starlette(
        routes=[
            Route("/v1/models", _models, methods=["GET"]),
            Route("/health", _health, methods=["GET"]),
            Route("/metrics", _metrics, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/sim/stats", _admin_stats, methods=["GET"]),
            Route("/sim/responses", _admin_responses, methods=["GET"]),
            Route("/sim/config", _admin_config, methods=["POST"]),
            Route("/sim/reset", _admin_reset, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sim = sim
    return app


def _is_expected(exc: BaseException | None) -> bool:
    """A deliberate drop, or a stream cut by stop(): nothing worth a traceback."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_expected(inner) for inner in exc.exceptions)
    return isinstance(exc, SimDrop | asyncio.CancelledError)


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging tracebacks for the simulator's own drops and shutdowns."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = (record.threadName or "").startswith(THREAD_PREFIX)
        return not (ours and record.exc_info and _is_expected(record.exc_info[1]))


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


class SimServer:
    """The simulator on a loopback port, served from a daemon thread."""

    def __init__(
        self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimConfig()
        self.host = host
        self.port = port
        self.stats = SimStats()
        self.metrics = SimMetrics()
        self.engine = Engine()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL (for /health and /metrics)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ending in /v1."""
        return f"{self.url}/v1"

    def start(self, log_config: dict[str, Any] | None = None, timeout: float = 10.0) -> SimServer:
        """Bind (port 0 picks a free port), serve, and return once connections are accepted."""
        if self._thread is not None:
            return self
        _install_log_filter()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self),
            log_config=log_config,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            loop="asyncio",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"{THREAD_PREFIX}{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator failed to start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving; open streams (a stall, say) are cut rather than waited for."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        self.stats.reset()

    def wait_for(self, predicate: Callable[[SimStats], bool], timeout: float = 2.0) -> bool:
        """Poll `predicate(stats)` until it holds (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.stats):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
