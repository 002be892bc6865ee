"""`POST /v1/chat/completions` of the simulator: the request checked (`validation`), then planned.

The plan fixes, before the first byte, every token the model generates (`answer.compose`),
where generation stops (`answer.natural_ending`, or the fault's ending), how the stream groups
the tokens into chunks and what each delta carries (`answer.steps`: `stream_interval`, the
server's reasoning parser), and the schedule those chunks follow.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from aeries.sim import protocol, schema, validation
from aeries.sim.answer import compose, cut_ending, natural_ending, steps
from aeries.sim.config import CUT_FAULTS, Knobs, SimConfig, knobs_for
from aeries.sim.engine import Schedule
from aeries.sim.state import SimHost
from aeries.sim.stream import Plan, complete, stream
from aeries.sim.text import (
    REFUSAL,
    generate_pieces,
    message_text,
    reasoning_pieces,
    rng_for,
    split_fixed,
    split_pieces,
)

JSON_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["answer", "confidence"],
}  # what `response_format={"type": "json_object"}` answers with


async def chat_completions(request: Request) -> Response:
    """The chat endpoint: answers like vLLM, with the timing and faults the config asks for."""
    sim: SimHost = request.app.state.sim
    arrival = asyncio.get_running_loop().time()
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        sim.stats.record_request(None)
        return _failed(sim, validation.pydantic_error([validation.NOT_AN_OBJECT]))
    sim.stats.record_request(body)
    try:
        knobs = knobs_for(sim.config, body.get("sim"))
    except (TypeError, ValueError) as exc:
        return _failed(sim, validation.bad_request(f"Invalid sim knobs: {exc}.", "sim"))
    checked = validation.check(body, sim.config, knobs)
    if isinstance(checked, JSONResponse):
        return _failed(sim, checked)
    plan = _build_plan(request, body, sim.config, knobs, checked, arrival)
    sim.stats.add(running=1)
    sim.metrics.started(plan.model.name, plan.prompt_tokens)
    if body.get("stream"):
        return StreamingResponse(stream(sim, plan), media_type=protocol.SSE_MEDIA_TYPE)
    return await complete(request, sim, plan)


def _failed(sim: SimHost, response: Response) -> Response:
    sim.stats.add(errors=1)
    return response


def _thinking_enabled(body: dict[str, Any]) -> bool:
    kwargs = body.get("chat_template_kwargs")
    return not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)


def _build_plan(
    request: Request,
    body: dict[str, Any],
    config: SimConfig,
    knobs: Knobs,
    checked: validation.Checked,
    arrival: float,
) -> Plan:
    model = checked.model
    messages = body["messages"]
    seed_parts = (config.seed, body.get("seed"), model.id, messages, body.get("response_format"))
    thinking = _thinking_enabled(body)
    reasoning = None
    if model.reasoning and thinking:
        topic = message_text(messages[-1].get("content")) if messages else ""
        rng = rng_for("reasoning", *seed_parts)
        reasoning = reasoning_pieces(rng, knobs.reasoning_tokens, topic)
    tokens = compose(reasoning, _content(body, knobs, rng_for("content", *seed_parts)))
    repetition = body.get("repetition_detection")
    detect = repetition if isinstance(repetition, dict) else None  # validated: int fields
    ending = natural_ending(tokens, checked.budget, detect)
    if knobs.fault in CUT_FAULTS or knobs.fault == "repetition":
        ending = cut_ending(tokens, ending, knobs.fault, knobs.fault_after)
    parser = model.reasoning_parser is not None
    interval = max(config.stream_interval, checked.params.get("stream_interval") or 1)
    include_reasoning = body.get("include_reasoning") is not False
    raw_options = body.get("stream_options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    include_usage = bool(options.get("include_usage"))
    request_id = protocol.completion_id(request.headers.get("x-request-id"), body.get("request_id"))
    return Plan(
        model=model,
        envelope=protocol.Envelope(model.name, request_id),
        prompt_tokens=checked.prompt_tokens,
        tokens=tokens,
        ending=ending,
        steps=steps(
            tokens,
            ending,
            interval,
            parser=parser,
            reasoning_open=parser and thinking,
            include_reasoning=include_reasoning,
        ),
        fault=knobs.fault,
        schedule=Schedule(
            arrival,
            ttft=max(knobs.ttft_ms, 0.0) * model.ttft_scale / 1000,
            itl=max(knobs.itl_ms, 0.0) * model.itl_scale / 1000,
        ),
        parser=parser,
        reasoning_open=parser and thinking,
        include_reasoning=include_reasoning,
        include_usage=include_usage,
        continuous_usage=include_usage and bool(options.get("continuous_usage_stats")),
        metrics=config.per_request_metrics and (body.get("n") or 1) == 1,
    )


def _response_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON Schema a `response_format` asks for; None when it asks for free text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return JSON_OBJECT_SCHEMA
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    found = spec.get("schema") if isinstance(spec, dict) else None
    return found if isinstance(found, dict) else {}


def _content(body: dict[str, Any], knobs: Knobs, rng: random.Random) -> list[str]:
    """The answer's pieces: refusal, scripted reply, structured JSON or prose."""
    if knobs.fault == "refusal":
        return split_pieces(REFUSAL)
    if knobs.reply is not None:
        return split_pieces(knobs.reply)
    wanted = _response_schema(body.get("response_format"))
    if wanted is None:
        return generate_pieces(rng, knobs.tokens)
    value = schema.generate(wanted, rng)
    if knobs.fault == "schema_violation":
        value = schema.violate(wanted, value)
    text = schema.dumps(value)
    if knobs.fault == "invalid_json":
        text = schema.truncated_json(text)
    return split_fixed(text)
