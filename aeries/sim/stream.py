"""Sending a planned answer over time: SSE pacing, the non-streaming answer, faults, bookkeeping.

`chat` decides everything an answer will send (a `Plan`) before the first byte; this module sends
it on a fixed schedule, cuts it where a fault says, and books the outcome in the stats and metrics.
The bytes themselves come from `protocol`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from aeries.sim import protocol
from aeries.sim.config import CUT_FAULTS, SimModel
from aeries.sim.state import SimHost

STALL_SECONDS = 600.0


class SimDrop(Exception):
    """Raised after the headers went out so that uvicorn closes the socket without a clean end."""


@dataclass
class Plan:
    """Everything one response will send, decided before the first byte."""

    model: SimModel
    prompt_tokens: int
    pieces: list[tuple[str, str]]  # (delta field, text): "reasoning" or "content"
    finish_reason: str
    fault: str | None
    cut: int  # pieces sent before a mid-stream fault takes over
    ttft: float  # seconds
    itl: float  # seconds
    include_usage: bool
    continuous_usage: bool
    envelope: protocol.Envelope = field(init=False)

    def __post_init__(self) -> None:
        self.envelope = protocol.Envelope(self.model.id)

    @property
    def completion_tokens(self) -> int:
        return sum(1 for _, text in self.pieces if text)

    def due(self, arrival: float, index: int) -> float:
        """Loop time at which piece `index` is due (a fixed schedule, so jitter cannot add up)."""
        return arrival + self.ttft + index * self.itl

    def text(self, kind: str) -> str:
        return "".join(text for field_name, text in self.pieces if field_name == kind)


def _piece_events(plan: Plan, index: int, final: bool) -> bytes:
    """The SSE events for piece `index`: preceded by the role chunk, followed by the ending."""
    sent = sum(1 for _, text in plan.pieces[: index + 1] if text)
    usage = protocol.usage(plan.prompt_tokens, sent) if plan.continuous_usage else None
    events = []
    if index == 0:
        first_usage = protocol.usage(plan.prompt_tokens, 0) if plan.continuous_usage else None
        events.append(protocol.chunk(plan.envelope, [protocol.role_choice()], first_usage))
    kind, text = plan.pieces[index]
    choice = protocol.delta_choice(kind, text, plan.finish_reason if final else None)
    events.append(protocol.chunk(plan.envelope, [choice], usage))
    if final:
        if plan.include_usage:
            total = protocol.usage(plan.prompt_tokens, plan.completion_tokens)
            events.append(protocol.chunk(plan.envelope, [], total))
        events.append(protocol.DONE)
    return b"".join(events)


def _error_events(plan: Plan, role_first: bool) -> bytes:
    """vLLM's failure mid-stream: an error event, then [DONE], on the 200 response."""
    events = []
    if role_first:
        events.append(protocol.chunk(plan.envelope, [protocol.role_choice()]))
    events.append(protocol.error_event(500, protocol.MIDSTREAM_MESSAGE, "InternalServerError"))
    return b"".join(events)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


class _Tracker:
    """Collects what was sent and books the outcome in the stats and metrics exactly once."""

    def __init__(self, sim: SimHost, plan: Plan, arrival: float) -> None:
        self.sim, self.plan, self.arrival = sim, plan, arrival
        self.times: list[float] = []
        self.generated = 0

    def sent(self, index: int, at: float | None = None) -> None:
        self.times.append(asyncio.get_running_loop().time() if at is None else at)
        self.generated += 1 if self.plan.pieces[index][1] else 0

    def finish(self, outcome: str) -> None:
        """outcome: "ok", "abort" (client went away) or "error"."""
        counter = {"ok": "completed", "abort": "disconnects"}.get(outcome, "errors")
        self.sim.stats.add(running=-1, **{counter: 1})
        end = self.times[-1] if self.times else asyncio.get_running_loop().time()
        self.sim.metrics.finished(
            self.plan.model.id,
            self.plan.finish_reason if outcome == "ok" else outcome,
            self.generated,
            self.times[0] - self.arrival if self.times else None,
            end - self.arrival,
            [b - a for a, b in zip(self.times, self.times[1:], strict=False)],
        )


async def stream(sim: SimHost, plan: Plan, arrival: float) -> AsyncIterator[bytes]:
    """SSE body. Cancellation or close here means the client went away (vLLM aborts then)."""
    tracker = _Tracker(sim, plan, arrival)
    outcome = "abort"
    count = plan.cut if plan.fault in CUT_FAULTS else len(plan.pieces)
    try:
        for index in range(count):
            await _sleep_until(plan.due(arrival, index))
            final = plan.fault not in CUT_FAULTS and index == count - 1
            if final:
                outcome = "ok"  # booked before the yield: the client may hang up right after [DONE]
            tracker.sent(index)
            yield _piece_events(plan, index, final)
        if plan.fault == "stall":
            await asyncio.sleep(STALL_SECONDS)  # cancelled when the client gives up
            outcome = "error"
        elif plan.fault in CUT_FAULTS:
            await _sleep_until(plan.due(arrival, count))
            outcome = "error"
            if plan.fault == "drop":
                raise SimDrop("connection dropped (simulated)")
            yield _error_events(plan, role_first=count == 0)
    finally:
        tracker.finish(outcome)


async def complete(request: Request, sim: SimHost, plan: Plan, arrival: float) -> Response:
    """Non-streaming answer, sent when the last token would have been generated."""
    tracker = _Tracker(sim, plan, arrival)
    faulty = plan.fault in CUT_FAULTS
    generated = plan.cut if faulty else len(plan.pieces)
    deadline = plan.due(arrival, plan.cut if faulty else generated - 1)
    if plan.fault == "stall":
        deadline = arrival + STALL_SECONDS
    if await _sleep_or_disconnect(request, deadline):
        tracker.finish("abort")
        return Response(status_code=protocol.CLIENT_CLOSED)
    for index in range(generated):
        tracker.sent(index, plan.due(arrival, index))
    if faulty:
        tracker.finish("error")
        if plan.fault == "drop":
            return _DroppedResponse()
        return protocol.error_response(500, protocol.MIDSTREAM_MESSAGE, "InternalServerError")
    tracker.finish("ok")
    return JSONResponse(_completion_body(plan))


def _completion_body(plan: Plan) -> dict[str, Any]:
    reasoning = plan.text("reasoning") or None
    has_content = any(kind == "content" for kind, _ in plan.pieces)
    content = plan.text("content") if has_content or reasoning is None else None
    return protocol.completion(
        plan.envelope,
        content,
        reasoning,
        plan.finish_reason,
        protocol.usage(plan.prompt_tokens, plan.completion_tokens),
    )


async def _sleep_or_disconnect(request: Request, deadline: float) -> bool:
    """Sleep until `deadline`; True if the client disconnected first."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    sleeper = asyncio.ensure_future(_sleep_until(deadline))
    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        watcher.cancel()
    return watcher in done


class _DroppedResponse(Response):
    """Starts a response, sends part of the body, then breaks the connection."""

    def __init__(self) -> None:
        super().__init__(protocol.TRUNCATED_BODY, media_type="application/json")
        self.headers["content-length"] = "4096"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        raise SimDrop("connection dropped (simulated)")
