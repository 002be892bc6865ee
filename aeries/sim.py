"""A stand-in for a vLLM 0.33 OpenAI-compatible server, for tests, benchmarks and the offline demo.

It is a real HTTP server on loopback (Starlette served by uvicorn in a daemon thread), so the real
`openai` client talks to it exactly as it talks to vLLM: same endpoints, SSE framing, chunk
shapes, error bodies, usage, reasoning deltas and metrics names. Latency, length and failures
are set by `SimConfig` (server-wide, mutable at runtime) or per request with
`extra_body={"sim": {...}}` (vLLM ignores unknown fields, so such code also runs against vLLM).

    with SimServer(SimConfig(ttft_ms=50)) as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="x", max_retries=0)

Per-request knobs (the `sim` dict): ttft_ms, itl_ms, tokens, reasoning_tokens, fault,
fault_after, reply. Faults: context_length (400), unknown_model (404), server_error (500),
midstream_error (error event then [DONE]), stall (silence until the client leaves), drop (socket
closed mid-body), health_503, invalid_json, schema_violation, refusal.

CLI: `python -m aeries.sim --port 8000 --ttft-ms 150 --itl-ms 20` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aeries.sim_chat import FAULTS, chat_completions
from aeries.sim_metrics import SimMetrics
from aeries.sim_stream import SimDrop, error_response

__all__ = ["FAULTS", "SimConfig", "SimModel", "SimServer", "SimStats", "main"]

ADMIN_FIELDS = (
    "ttft_ms", "itl_ms", "tokens", "reasoning_tokens", "seed",
    "fault", "fault_after", "reply", "health_ok",
)  # fmt: skip
REQUESTS_LOG_LIMIT = 1000
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class SimModel:
    """One served model."""

    id: str
    max_model_len: int = 8192
    reasoning: bool = False  # emits reasoning deltas while thinking is on (Qwen3-style)
    ttft_scale: float = 1.0  # per-model latency multipliers, so models differ in the demo
    itl_scale: float = 1.0


def _default_models() -> list[SimModel]:
    return [
        SimModel("sim-llama-3.1-8b"),
        SimModel("sim-qwen3-8b", reasoning=True),
        SimModel("sim-mistral-7b", max_model_len=4096, ttft_scale=1.6, itl_scale=1.3),
    ]


@dataclass
class SimConfig:
    """Server-wide behaviour; the server reads it at each request, so changes apply to the next."""

    models: list[SimModel] = field(default_factory=_default_models)
    ttft_ms: float = 150.0
    itl_ms: float = 20.0
    tokens: int = 200  # content tokens when max_tokens is not given; reasoning tokens come extra
    reasoning_tokens: int = 40
    seed: int = 0
    fault: str | None = None  # applied to every chat request; see FAULTS
    fault_after: int = 5  # content tokens sent before a mid-stream fault
    reply: str | None = None  # exact content answer (tokenised into pieces), for e2e tests
    health_ok: bool = True


@dataclass
class SimStats:
    """Counters of chat requests; updated from the server thread, read from any thread."""

    requests: int = 0
    completed: int = 0
    disconnects: int = 0
    errors: int = 0
    running: int = 0
    last_request: dict | None = None  # the last /v1/chat/completions JSON body received
    requests_log: list[dict] = field(default_factory=list)  # bodies, the last 1000
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(self, body: dict | None) -> None:
        with self._lock:
            self.requests += 1
            if body is not None:
                self.last_request = body
                self.requests_log.append(body)
                del self.requests_log[:-REQUESTS_LOG_LIMIT]

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def reset(self) -> None:
        """Zero the counters; `running` is kept since those requests are still in flight."""
        with self._lock:
            self.requests = self.completed = self.disconnects = self.errors = 0
            self.last_request = None
            self.requests_log = []

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                f.name: list(getattr(self, f.name))
                if f.name == "requests_log"
                else getattr(self, f.name)
                for f in fields(self)
                if not f.name.startswith("_")
            }


def _model_card(model: SimModel, created: int) -> dict[str, Any]:
    permission = {
        "id": f"modelperm-{uuid.uuid4().hex}",
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    return {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": model.id,
        "parent": None,
        "max_model_len": model.max_model_len,
        "permission": [permission],
    }


async def _models(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    created = int(time.time())
    data = [_model_card(model, created) for model in sim.config.models]
    return JSONResponse({"object": "list", "data": data})


async def _health(request: Request) -> Response:
    config: SimConfig = request.app.state.sim.config
    healthy = config.health_ok and config.fault != "health_503"
    return Response(status_code=200 if healthy else 503)


async def _metrics(request: Request) -> Response:
    sim: SimServer = request.app.state.sim
    text = sim.metrics.render(model.id for model in sim.config.models)
    return PlainTextResponse(text, media_type=METRICS_CONTENT_TYPE)


async def _admin_stats(request: Request) -> Response:
    return JSONResponse(request.app.state.sim.stats.snapshot())


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
        return error_response(400, "Body must be a JSON object.", "BadRequestError")
    unknown = sorted(set(update) - set(ADMIN_FIELDS))
    if unknown:
        return error_response(400, f"Unknown config fields: {unknown}.", "BadRequestError")
    fault = update.get("fault")
    if fault is not None and fault not in FAULTS:
        return error_response(400, f"Unknown fault {fault!r}.", "BadRequestError", "fault")
    for name, value in update.items():
        setattr(sim.config, name, value)
    return JSONResponse({name: getattr(sim.config, name) for name in ADMIN_FIELDS})


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI-style JSON for unknown paths and methods, as vLLM answers them."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    return JSONResponse({"detail": detail}, status_code=status)


def build_app(sim: SimServer) -> Starlette:
    """The ASGI app serving `sim` (its config, stats and metrics)."""
    app = Starlette(
        routes=[
            Route("/v1/models", _models, methods=["GET"]),
            Route("/health", _health, methods=["GET"]),
            Route("/metrics", _metrics, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/sim/stats", _admin_stats, methods=["GET"]),
            Route("/sim/config", _admin_config, methods=["POST"]),
            Route("/sim/reset", _admin_reset, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sim = sim
    return app


THREAD_PREFIX = "aeries-sim-"


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

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or SimConfig()
        self.host = host
        self.port = port
        self.stats = SimStats()
        self.metrics = SimMetrics()
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

    def start(self, log_config: dict | None = None, timeout: float = 10.0) -> SimServer:
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


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aeries.sim", description="Serve a simulated vLLM 0.33 OpenAI API."
    )
    defaults = SimConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms)
    parser.add_argument("--itl-ms", type=float, default=defaults.itl_ms)
    parser.add_argument("--tokens", type=int, default=defaults.tokens)
    parser.add_argument("--reasoning-tokens", type=int, default=defaults.reasoning_tokens)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--model",
        action="extend",
        nargs="+",
        metavar="ID",
        help="served model ids (default: three sim models); ids containing 'qwen3', '-r1' "
        "or 'think' are reasoning models",
    )
    parser.add_argument("--fault", choices=sorted(FAULTS))
    parser.add_argument("--fault-after", type=int, default=defaults.fault_after)
    parser.add_argument("--max-model-len", type=int, help="context length of every model")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser.parse_args(argv)


def _is_reasoning_id(model_id: str) -> bool:
    lowered = model_id.lower()
    return any(marker in lowered for marker in ("qwen3", "-r1", "think"))


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the CLI flags describe."""
    if args.model:
        models = [
            SimModel(model_id, reasoning=_is_reasoning_id(model_id)) for model_id in args.model
        ]
    else:
        models = _default_models()
    if args.max_model_len:
        for model in models:
            model.max_model_len = args.max_model_len
    return SimConfig(
        models=models,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        reasoning_tokens=args.reasoning_tokens,
        seed=args.seed,
        fault=args.fault,
        fault_after=args.fault_after,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground until SIGINT or SIGTERM."""
    args = _parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log_config = dict(uvicorn.config.LOGGING_CONFIG)
    server = SimServer(config_from_args(args), host=args.host, port=args.port)
    try:
        server.start(log_config=log_config)
    except OSError as exc:
        print(f"aeries.sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("uvicorn").setLevel(args.log_level.upper())
    print(server.base_url, flush=True)
    models = ", ".join(model.id for model in server.config.models)
    print(f"serving {models} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
