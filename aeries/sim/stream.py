"""Sending a planned answer over time: SSE pacing, the non-streaming answer, faults, bookkeeping.

`chat` decides everything an answer will send (a `Plan`) before the first byte; this module
waits for an engine slot, sends the plan's steps on their schedule, ends it the way its ending
or fault says, and books the outcome in the stats, the metrics and the response record. The
bytes themselves come from `protocol`.

A stream, as vLLM sends it: the role chunk with the first engine output (the first token), each
step's chunk at its token's time, the finish chunk (for "stop" the EOS step, one ITL after the
last text), the usage chunk with `include_usage`, then `[DONE]`. An engine error before any
output is one error event and `[DONE]`, sent at once; `midstream_error` (finish_reason "error")
comes after the role chunk and what was sent, with no finish or usage chunk after it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from aeries.sim import protocol
from aeries.sim.answer import Ending, Step, Token, reasoning_count, texts
from aeries.sim.config import EARLY_ERROR_FAULTS, SimModel
from aeries.sim.engine import Schedule
from aeries.sim.state import ResponseRecord, SimHost

STALL_SECONDS = 600.0


class SimDrop(Exception):
    """Raised after the headers went out so that uvicorn closes the socket without a clean end."""


@dataclass
class Plan:
    """Everything one response will send, decided before the first byte."""

    model: SimModel
    envelope: protocol.Envelope
    prompt_tokens: int
    tokens: list[Token]  # everything the model would generate, to its EOS
    ending: Ending
    steps: list[Step]
    fault: str | None
    schedule: Schedule
    parser: bool  # the server runs a reasoning parser
    reasoning_open: bool  # the parser starts in reasoning
    include_reasoning: bool = True
    include_usage: bool = False
    continuous_usage: bool = False
    metrics: bool = False  # per-request metrics on the usage chunk / in the body
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        self.fingerprint = protocol.fingerprint(self.model)

    @property
    def generated(self) -> list[Token]:
        return self.tokens[: self.ending.end]

    @property
    def completion_tokens(self) -> int:
        return self.ending.end

    @property
    def reasoning_tokens(self) -> int | None:
        """What the usage's details report: None without a reasoning parser."""
        if not self.parser:
            return None
        return reasoning_count(self.generated, parser=True, reasoning_open=self.reasoning_open)

    @property
    def last_slot(self) -> int:
        """The slot of the last engine output: the last token, or the abort after it."""
        return self.ending.end if self.ending.kind == "abort" else self.ending.end - 1

    def timing(self) -> dict[str, float | None]:
        """vLLM's per-request metrics, from this plan's schedule."""
        first = self.schedule.due(0)
        last = self.schedule.due(self.last_slot)
        s = self.schedule
        return protocol.timing_metrics(s.queued, s.scheduled, first, last, self.completion_tokens)


def _continuous(plan: Plan, tokens: int, reasoning: int) -> dict[str, Any] | None:
    if not plan.continuous_usage:
        return None
    return protocol.continuous_usage(plan.prompt_tokens, tokens, reasoning if plan.parser else None)


def _step_events(plan: Plan, index: int) -> list[bytes]:
    """The SSE events of step `index`: the role chunk before the first, the end after the last."""
    step = plan.steps[index]
    events = []
    if index == 0:
        events.append(protocol.role_chunk(plan.envelope, _continuous(plan, 0, 0)))
    if step.delta is not None:
        fingerprint = None
        if step.finish_reason is not None and not plan.include_usage:
            fingerprint = plan.fingerprint
        usage = _continuous(plan, step.tokens, step.reasoning_tokens)
        chunk = protocol.delta_chunk(
            plan.envelope, step.delta, step.finish_reason, step.stop_reason, usage, fingerprint
        )
        events.append(chunk)
    payloads = [protocol.sse(event) for event in events]
    if step.finish_reason is not None:
        if plan.include_usage:
            counts = protocol.usage(plan.prompt_tokens, step.tokens, plan.reasoning_tokens)
            metrics = plan.timing() if plan.metrics else None
            usage_chunk = protocol.usage_chunk(plan.envelope, counts, plan.fingerprint, metrics)
            payloads.append(protocol.sse(usage_chunk))
        payloads.append(protocol.DONE)
    return payloads


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


def _perf_offset() -> float:
    """What to add to a loop time to get `time.perf_counter()`."""
    return time.perf_counter() - asyncio.get_running_loop().time()


class _Tracker:
    """Holds the engine slot, and books the outcome in stats, metrics and record exactly once."""

    def __init__(self, sim: SimHost, plan: Plan, stream: bool) -> None:
        self.sim, self.plan = sim, plan
        self.offset = _perf_offset()
        self.record = sim.stats.record_response(
            ResponseRecord(
                plan.envelope.id,
                plan.envelope.model,
                stream,
                plan.schedule.queued + self.offset,
            )
        )
        self.generated = 0  # tokens out so far
        self.scheduled = False
        self.limit = sim.config.max_num_seqs

    async def schedule(self) -> None:
        """Wait for a slot (vLLM's queue), then start the schedule."""
        slots = self.sim.engine.slots(self.plan.model.name)
        self.sim.stats.add(waiting=1)
        try:
            await slots.acquire(self.limit)
        finally:
            self.sim.stats.add(waiting=-1)
        self.scheduled = True
        self.plan.schedule.start(asyncio.get_running_loop().time())
        self.sim.metrics.scheduled(self.plan.model.name)

    def sent(self, data: list[bytes], generated: int | None = None) -> bytes:
        blob = b"".join(data)
        self.record.sent(blob)
        if generated is not None:
            self.generated = generated
        return blob

    def finish(self, outcome: str, status: int = 200) -> None:
        """outcome: "ok" (a finish_reason went out), "abort" (client left) or "error"."""
        plan, schedule = self.plan, self.plan.schedule
        if self.scheduled:
            self.sim.engine.slots(plan.model.name).release(self.limit)
        counter = {"ok": "completed", "abort": "disconnects"}.get(outcome, "errors")
        self.sim.stats.add(running=-1, **{counter: 1})
        times = [schedule.due(i) for i in range(self.generated)] if self.scheduled else []
        end = times[-1] if times else asyncio.get_running_loop().time()
        reason = plan.ending.finish_reason if outcome == "ok" else outcome
        self.sim.metrics.finished(
            plan.model.name,
            reason or "error",
            self.generated,
            times[0] - schedule.queued if times else None,
            end - schedule.queued,
            [b - a for a, b in itertools.pairwise(times)],
            scheduled=self.scheduled,
        )
        record = self.record
        record.status = status
        record.finish_reason = plan.ending.finish_reason if outcome == "ok" else None
        record.completion_tokens = self.generated if outcome == "ok" else None
        stamps = {"queued": schedule.queued, "scheduled": schedule.scheduled}
        if self.scheduled and self.generated:
            stamps |= {"first_token": schedule.due(0), "last_token": schedule.due(plan.last_slot)}
        record.timestamps = {k: None if v is None else v + self.offset for k, v in stamps.items()}


def _engine_error(name: str, stream: bool) -> tuple[int, str, str]:
    status, message, stream_type, http_type = protocol.ENGINE_ERRORS[name]
    return status, message, stream_type if stream else http_type


async def stream(sim: SimHost, plan: Plan) -> AsyncIterator[bytes]:
    """SSE body. Cancellation or close here means the client went away (vLLM aborts then)."""
    tracker = _Tracker(sim, plan, stream=True)
    outcome = "abort"
    try:
        if plan.fault in EARLY_ERROR_FAULTS:  # raised by add_request: nothing was generated
            outcome = "error"
            status, message, kind = _engine_error(plan.fault, stream=True)
            yield tracker.sent([protocol.error_event(status, message, kind), protocol.DONE])
            return
        await tracker.schedule()
        for index, step in enumerate(plan.steps):
            await _sleep_until(plan.schedule.due(step.at))
            if step.finish_reason is not None:
                outcome = "ok"  # booked before the yield: the client may hang up after [DONE]
            yield tracker.sent(_step_events(plan, index), step.tokens)
        ending = plan.ending
        if ending.kind == "stall":
            await asyncio.sleep(STALL_SECONDS)  # cancelled when the client gives up
            outcome = "error"
        elif ending.kind in ("drop", "midstream_error"):
            await _sleep_until(plan.schedule.due(ending.end))
            outcome = "error"
            if ending.kind == "drop":
                raise SimDrop("connection dropped (simulated)")
            events = [] if plan.steps else [protocol.sse(protocol.role_chunk(plan.envelope))]
            status, message, kind = _engine_error("midstream_error", stream=True)
            events += [protocol.error_event(status, message, kind), protocol.DONE]
            yield tracker.sent(events)
    finally:
        tracker.finish(outcome)


async def complete(request: Request, sim: SimHost, plan: Plan) -> Response:
    """Non-streaming answer, sent when the last token would have been generated."""
    tracker = _Tracker(sim, plan, stream=False)
    if plan.fault in EARLY_ERROR_FAULTS:
        status, message, kind = _engine_error(plan.fault, stream=False)
        return _answer(tracker, "error", protocol.error_response(status, message, kind))
    if await _wait_or_disconnect(request, tracker.schedule()):
        tracker.finish("abort", protocol.CLIENT_CLOSED)
        return Response(status_code=protocol.CLIENT_CLOSED)
    ending = plan.ending
    deadline = plan.schedule.due(
        plan.last_slot if ending.kind in ("finish", "abort") else ending.end
    )
    if ending.kind == "stall":
        deadline = plan.schedule.queued + STALL_SECONDS
    if await _wait_or_disconnect(request, _sleep_until(deadline)):
        tracker.finish("abort", protocol.CLIENT_CLOSED)
        return Response(status_code=protocol.CLIENT_CLOSED)
    tracker.generated = ending.end
    if ending.kind == "drop":
        tracker.finish("error")
        return _DroppedResponse()
    if ending.kind == "midstream_error":
        status, message, kind = _engine_error("midstream_error", stream=False)
        return _answer(tracker, "error", protocol.error_response(status, message, kind))
    return _answer(tracker, "ok", JSONResponse(_completion_body(plan)))


def _answer(tracker: _Tracker, outcome: str, response: Response) -> Response:
    tracker.record.sent(bytes(response.body))
    tracker.finish(outcome, response.status_code)
    return response


def _completion_body(plan: Plan) -> dict[str, Any]:
    content, reasoning = texts(
        plan.generated,
        parser=plan.parser,
        reasoning_open=plan.reasoning_open,
        include_reasoning=plan.include_reasoning,
    )
    return protocol.completion(
        plan.envelope,
        content,
        reasoning,
        plan.ending.finish_reason or "stop",
        plan.ending.stop_reason,
        protocol.usage(plan.prompt_tokens, plan.completion_tokens, plan.reasoning_tokens),
        plan.fingerprint,
        plan.timing() if plan.metrics else None,
    )


async def _wait_or_disconnect(request: Request, waiting: Any) -> bool:
    """Await `waiting`; True (and `waiting` cancelled) if the client disconnected first."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    task = asyncio.ensure_future(waiting)
    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return task not in done


class _DroppedResponse(Response):
    """Starts a response, sends part of the body, then breaks the connection."""

    def __init__(self) -> None:
        super().__init__(protocol.TRUNCATED_BODY, media_type="application/json")
        self.headers["content-length"] = "4096"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        raise SimDrop("connection dropped (simulated)")
