"""The process-wide runtime: settings, database, writer, model clients and endpoints.

Built once per app process (the UI caches it). Endpoint rule: configured endpoints are used as
they are and never replaced; with none configured, a vLLM on localhost:8000 is used if it
answers, else the built-in simulator starts — one simulated vLLM server per model on its own
free loopback port, as a real deployment runs one `vllm serve` per model — and the UI says so.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aeries.auth import SignInThrottle, load_or_create_key
from aeries.config import DEFAULT_BASE_URL, Settings
from aeries.llm import (
    ClientPool,
    EndpointStatus,
    ModelInfo,
    answers,
    list_models,
    warm_up_client_stack,
)
from aeries.observer import Observer
from aeries.store.db import Database, store_errors
from aeries.store.inflight import STALE_S, InflightSweeper, recover_inflight
from aeries.store.migrations import migrate
from aeries.store.writer import Writer, replay_spills

if TYPE_CHECKING:
    from aeries.sim import SimServer

log = logging.getLogger(__name__)

_MODELS_TTL_S = 15.0
OBSERVER_DRAIN_S = 20.0  # at shutdown: long enough for an observer call to end (its timeout)


@dataclass
class Runtime:
    """Long-lived objects shared by every session of the app process."""

    settings: Settings
    db: Database
    writer: Writer
    pool: ClientPool
    endpoints: list[str]
    key: bytes = field(default=b"", repr=False)  # signs participant links, researcher sessions
    simulated: bool = False
    sims: list[SimServer] = field(default_factory=list)  # the built-in simulators, one per model
    observer: Observer | None = None
    sweeper: InflightSweeper | None = None  # on a shared store: other processes' leftovers
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    _status: list[EndpointStatus] = field(default_factory=list)
    _status_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def endpoint_status(self, refresh: bool = False) -> list[EndpointStatus]:
        """Each endpoint's health and models, re-read at most every 15 s (or on refresh)."""
        with self._lock:
            stale = time.monotonic() - self._status_at > _MODELS_TTL_S
            if refresh or stale or not self._status:
                key = self.settings.api_key
                self._status = [
                    list_models(url, key, client=self.pool.get(url)) for url in self.endpoints
                ]
                self._status_at = time.monotonic()
            return list(self._status)

    def models(self, refresh: bool = False) -> list[ModelInfo]:
        """Every model of every endpoint that answers."""
        return [m for s in self.endpoint_status(refresh) if s.ok for m in s.models]

    def find_model(self, model_id: str) -> ModelInfo | None:
        """The served model with this id, if any endpoint has it."""
        return next((m for m in self.models() if m.id == model_id), None)

    @property
    def closed(self) -> bool:
        """Whether close() has begun (a closed runtime is never handed out again)."""
        return self._closed

    def close(self) -> None:
        """Finish observing, flush pending writes, checkpoint and release the database, then
        the simulator (last: the observer may still be calling it). Runs at interpreter exit
        too (a clean stop, SIGTERM or Ctrl-C), so no observed answer is lost then."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.observer is not None:
            self.observer.close(OBSERVER_DRAIN_S)
        if self.sweeper is not None:
            self.sweeper.close()
        self.writer.close()
        self.db.close()
        for sim in self.sims:
            sim.stop()


def open_store(settings: Settings) -> tuple[Database, Writer]:
    """Open (and migrate) the database and start its writer; raises DatabaseLocked."""
    db = Database(settings.store_target)
    try:
        migrate(db)
        replay_spills(db)  # rows an earlier process kept on disk while the store failed
        # Answers a crash left half-streamed; on a shared store, only those of ended processes.
        recover_inflight(db, older_than_s=STALE_S if db.dialect == "postgres" else None)
        try:  # a copy of the file alone then holds the schema and every row
            db.checkpoint()
        except store_errors() as exc:  # e.g. a full disk: the writer says so; start anyway
            log.warning("Checkpoint at start failed: %s", exc)
    except Exception:
        db.close()
        raise
    return db, Writer(db)


def start_simulators() -> list[SimServer]:
    """The built-in vLLM simulator as a real deployment looks: one server per model, each on
    its own free loopback port, with its own flags (the reasoning model behind a reasoning
    parser). Answers are simulated."""
    from aeries.sim import SimServer, default_models, single_model_config  # lazily: a real
    # deployment never needs the simulator

    started: list[SimServer] = []
    try:
        for model in default_models():
            started.append(SimServer(single_model_config(model)).start())
    except Exception:
        for sim in started:
            sim.stop()
        raise
    return started


def build_runtime(settings: Settings) -> Runtime:
    """Open the store and resolve endpoints as described in the module docstring."""
    key = load_or_create_key(settings.key_path, settings.secret)
    db, writer = open_store(settings)
    warm_up_client_stack()
    pool = ClientPool(
        settings.api_key,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    if settings.endpoints_configured:
        rt = Runtime(settings, db, writer, pool, list(settings.base_urls), key)
    elif answers(DEFAULT_BASE_URL, settings.api_key):
        rt = Runtime(settings, db, writer, pool, [DEFAULT_BASE_URL], key)
    else:
        sims = start_simulators()
        log.warning("No vLLM configured or on localhost:8000; answers are simulated.")
        urls = [sim.base_url for sim in sims]
        rt = Runtime(settings, db, writer, pool, urls, key, simulated=True, sims=sims)
    rt.observer = Observer(
        writer,
        ClientPool(
            settings.api_key,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=min(20.0, settings.read_timeout_s),
        ),
        rt.find_model,
        observer_model=settings.observer_model,
        answers=pool.live,  # the answers people are reading: observations wait for them
    )
    if db.dialect == "postgres":
        rt.sweeper = InflightSweeper(db)
    # At exit, before the writer's own hook (exit hooks run last-in first); a weak reference,
    # so runtimes that tests build and close are not kept alive until exit.
    atexit.register(_close_at_exit, weakref.ref(rt))
    return rt


def _close_at_exit(ref: weakref.ref[Runtime]) -> None:
    rt = ref()
    if rt is not None:
        rt.close()
