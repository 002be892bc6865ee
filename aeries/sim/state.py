"""What the server keeps across requests, and the view of it the request handlers get.

The handlers (`chat`, `stream`) reach the server through `request.app.state.sim`; they only need
its config, stats and metrics, so they see it as a `SimHost` and never import the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from aeries.sim.config import SimConfig
from aeries.sim.metrics import SimMetrics

REQUESTS_LOG_LIMIT = 1000


@dataclass
class SimStats:
    """Counters of chat requests; updated from the server thread, read from any thread."""

    requests: int = 0
    completed: int = 0
    disconnects: int = 0
    errors: int = 0
    running: int = 0
    last_request: dict[str, Any] | None = None  # the last /v1/chat/completions JSON body received
    requests_log: list[dict[str, Any]] = field(default_factory=list)  # bodies, the last 1000
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(self, body: dict[str, Any] | None) -> None:
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
        """The counters as one JSON-ready dict (what `GET /sim/stats` answers)."""
        with self._lock:
            return {
                f.name: list(getattr(self, f.name))
                if f.name == "requests_log"
                else getattr(self, f.name)
                for f in fields(self)
                if not f.name.startswith("_")
            }


class SimHost(Protocol):
    """The server as the request handlers see it (`SimServer` is one)."""

    config: SimConfig
    stats: SimStats
    metrics: SimMetrics
