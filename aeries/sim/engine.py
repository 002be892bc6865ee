"""The engine's schedule: how many requests generate at once, who waits, when each token comes.

vLLM's scheduler runs at most `max_num_seqs` requests of a model at once; the others wait in
arrival order. Here each served model has such `Slots` (`SimConfig.max_num_seqs`, None: no
limit), and a request's `Schedule` follows vLLM's request timestamps: queued at arrival,
scheduled when it gets a slot, its first token one prefill (TTFT) later, then one token per ITL.
All times are event-loop times (`loop.time()`, the monotonic clock).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


class Slots:
    """Up to `limit` holders at once, the others waiting first come, first served."""

    def __init__(self) -> None:
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _free(self, limit: int | None) -> bool:
        return limit is None or self.running < limit

    async def acquire(self, limit: int | None) -> None:
        """Return once a slot is held; cancellation while waiting leaves the queue."""
        if self._free(limit) and not self._waiting:
            self.running += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future in self._waiting:
                self._waiting.remove(future)
            elif future.done() and not future.cancelled():
                self.release(limit)  # granted just as the waiter left: pass it on
            raise

    def release(self, limit: int | None) -> None:
        self.running -= 1
        while self._waiting and self._free(limit):
            future = self._waiting.popleft()
            if not future.done():
                self.running += 1
                future.set_result(None)


class Engine:
    """The slots of every served model (created on first use)."""

    def __init__(self) -> None:
        self._slots: dict[str, Slots] = {}

    def slots(self, model: str) -> Slots:
        return self._slots.setdefault(model, Slots())

    def waiting(self, model: str) -> int:
        return self.slots(model).waiting


@dataclass
class Schedule:
    """One request's engine timestamps (vLLM's `RequestStateStats`), in loop time."""

    queued: float
    ttft: float  # prefill, seconds
    itl: float  # seconds
    scheduled: float | None = None

    def start(self, at: float) -> None:
        self.scheduled = at

    def due(self, slot: int) -> float:
        """When token `slot` is generated: the first one a prefill after scheduling."""
        start = self.queued if self.scheduled is None else self.scheduled
        return start + self.ttft + slot * self.itl
