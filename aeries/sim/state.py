"""What the server keeps across requests, and the view of it the request handlers get.

The handlers (`chat`, `stream`) reach the server through `request.app.state.sim`; they only need
its config, stats, metrics and engine, so they see it as a `SimHost` and never import the server.

`SimStats.responses` keeps the last answers as sent (`ResponseRecord`): each SSE event (or the
JSON body) with the `time.perf_counter()` at which it was written, and the engine timestamps of
the request, so that tests can compute what a client should measure from the real send times.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from aeries.sim.config import SimConfig
from aeries.sim.engine import Engine
from aeries.sim.metrics import SimMetrics

REQUESTS_LOG_LIMIT = 1000
RESPONSES_LOG_LIMIT = 100  # answers kept with every event: bounded memory


@dataclass
class ResponseRecord:
    """One answer as it went out. Times are `time.perf_counter()` seconds (the monotonic clock
    on Linux, shared by every process on the machine)."""

    id: str
    model: str
    stream: bool
    arrival: float
    status: int = 200
    events: list[tuple[float, str]] = field(default_factory=list)  # (sent at, data line text)
    timestamps: dict[str, float | None] = field(default_factory=dict)  # queued, scheduled, …
    finish_reason: str | None = None
    completion_tokens: int | None = None

    def sent(self, data: bytes, at: float | None = None) -> None:
        """Book the SSE events in `data` (or a JSON body) as written now."""
        stamp = time.perf_counter() if at is None else at
        text = data.decode()
        if not self.stream:
            self.events.append((stamp, text))
            return
        for event in text.split("\n\n"):
            if event:
                self.events.append((stamp, event.removeprefix("data: ")))

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["events"] = [{"t": t, "data": text} for t, text in self.events]
        data["timestamps"] = dict(self.timestamps)
        return data


@dataclass
class SimStats:
    """Counters of chat requests; updated from the server thread, read from any thread."""

    requests: int = 0
    completed: int = 0
    disconnects: int = 0
    errors: int = 0
    running: int = 0  # in flight, waiting for a slot or generating
    waiting: int = 0  # of which waiting for a slot
    last_request: dict[str, Any] | None = None  # the last /v1/chat/completions JSON body received
    requests_log: list[dict[str, Any]] = field(default_factory=list)  # bodies, the last 1000
    responses: deque[ResponseRecord] = field(
        default_factory=lambda: deque(maxlen=RESPONSES_LOG_LIMIT)
    )  # answers as sent, the last 100
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(self, body: dict[str, Any] | None) -> None:
        with self._lock:
            self.requests += 1
            if body is not None:
                self.last_request = body
                self.requests_log.append(body)
                del self.requests_log[:-REQUESTS_LOG_LIMIT]

    def record_response(self, record: ResponseRecord) -> ResponseRecord:
        with self._lock:
            self.responses.append(record)
        return record

    def response(self, response_id: str) -> dict[str, Any] | None:
        """The record of the answer with this id (`chatcmpl-…`), as JSON-ready data."""
        with self._lock:
            found = [r for r in self.responses if r.id == response_id]
            return found[-1].as_dict() if found else None

    def responses_snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.as_dict() for record in self.responses]

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def reset(self) -> None:
        """Zero the counters; `running` and `waiting` are kept: those requests are in flight."""
        with self._lock:
            self.requests = self.completed = self.disconnects = self.errors = 0
            self.last_request = None
            self.requests_log = []
            self.responses.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as one JSON-ready dict (what `GET /sim/stats` answers; the responses
        are at `GET /sim/responses`)."""
        with self._lock:
            return {
                f.name: list(getattr(self, f.name))
                if f.name == "requests_log"
                else getattr(self, f.name)
                for f in fields(self)
                if not f.name.startswith("_") and f.name != "responses"
            }


class SimHost(Protocol):
    """The server as the request handlers see it (`SimServer` is one)."""

    config: SimConfig
    stats: SimStats
    metrics: SimMetrics
    engine: Engine
