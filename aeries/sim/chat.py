"""`POST /v1/chat/completions` of the simulator: validation the way vLLM does it, and planning."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from aeries.sim import protocol, schema
from aeries.sim.config import FAULTS, Knobs, SimConfig, SimModel, knobs_for
from aeries.sim.state import SimHost
from aeries.sim.stream import Plan, complete, stream
from aeries.sim.text import (
    REFUSAL,
    count_prompt_tokens,
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
        return _failed(sim, _bad("Request body must be a JSON object."))
    sim.stats.record_request(body)
    try:
        knobs = knobs_for(sim.config, body.get("sim"))
    except (TypeError, ValueError) as exc:
        return _failed(sim, _bad(f"Invalid sim knobs: {exc}.", "sim"))
    plan_or_error = _plan(body, sim.config, knobs)
    if isinstance(plan_or_error, Response):
        return _failed(sim, plan_or_error)
    plan = plan_or_error
    sim.stats.add(running=1)
    sim.metrics.started(plan.model.id, plan.prompt_tokens)
    if body.get("stream"):
        return StreamingResponse(stream(sim, plan, arrival), media_type=protocol.SSE_MEDIA_TYPE)
    return await complete(request, sim, plan, arrival)


def _failed(sim: SimHost, response: Response) -> Response:
    sim.stats.add(errors=1)
    return response


def _plan(body: dict[str, Any], config: SimConfig, knobs: Knobs) -> Plan | Response:
    """Check the request the way vLLM does (model, parameters, context) and plan the answer."""
    if knobs.fault is not None and knobs.fault not in FAULTS:
        known = ", ".join(sorted(FAULTS))
        return _bad(f"Unknown sim fault {knobs.fault!r}; known: {known}.", "sim")
    if knobs.fault == "server_error":
        return protocol.error_response(500, "The engine failed (simulated).", "InternalServerError")
    model_id = body.get("model") or config.models[0].id
    model = next((m for m in config.models if m.id == model_id), None)
    if model is None or knobs.fault == "unknown_model":
        message = protocol.unknown_model_message(model_id)
        return protocol.error_response(404, message, "NotFoundError", "model")
    invalid = _invalid_parameters(body)
    if invalid is not None:
        return invalid
    prompt_tokens = count_prompt_tokens(body["messages"])
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    max_tokens = int(requested) if requested is not None else None
    if knobs.fault == "context_length":
        return context_error(model.max_model_len, max(prompt_tokens, model.max_model_len + 1), None)
    if prompt_tokens >= model.max_model_len or (
        max_tokens is not None and prompt_tokens + max_tokens > model.max_model_len
    ):
        return context_error(model.max_model_len, prompt_tokens, max_tokens)
    budget = max_tokens if max_tokens is not None else model.max_model_len - prompt_tokens
    return _build_plan(body, config, knobs, model, prompt_tokens, budget)


def _invalid_parameters(body: dict[str, Any]) -> Response | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _bad("messages must be a non-empty list of messages.", "messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return _bad("Each message must be an object with a string 'role'.", "messages")
    checks = (
        ("temperature", lambda v: v >= 0, "must be non-negative"),
        ("top_p", lambda v: 0 < v <= 1, "must be in (0, 1]"),
        ("max_tokens", lambda v: v >= 1 and v == int(v), "must be at least 1"),
        ("max_completion_tokens", lambda v: v >= 1 and v == int(v), "must be at least 1"),
    )
    for name, ok, rule in checks:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
            return _bad(f"{name} {rule}, got {value}.", name)
    return None


def _bad(message: str, param: str | None = None) -> JSONResponse:
    return protocol.error_response(400, message, "BadRequestError", param)


def context_error(max_len: int, prompt_tokens: int, max_tokens: int | None) -> JSONResponse:
    """400 for a request that does not fit the model's context window (vLLM's wording)."""
    return _bad(protocol.context_length_message(max_len, prompt_tokens, max_tokens))


def _thinking(body: dict[str, Any], model: SimModel) -> bool:
    kwargs = body.get("chat_template_kwargs")
    enabled = not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)
    return model.reasoning and enabled


def _build_plan(
    body: dict[str, Any],
    config: SimConfig,
    knobs: Knobs,
    model: SimModel,
    prompt_tokens: int,
    budget: int,
) -> Plan:
    messages = body["messages"]
    seed_parts = (config.seed, body.get("seed"), model.id, messages, body.get("response_format"))
    pieces: list[tuple[str, str]] = []
    if _thinking(body, model):
        topic = message_text(messages[-1].get("content"))
        thinking = reasoning_pieces(
            rng_for("reasoning", *seed_parts), knobs.reasoning_tokens, topic
        )
        pieces += [("reasoning", text) for text in thinking]
    reasoning_count = len(pieces)
    pieces += [("content", text) for text in _content(body, knobs, rng_for("content", *seed_parts))]
    finish_reason = "stop"
    if len(pieces) > budget:
        pieces, finish_reason = pieces[:budget], "length"
    raw_options = body.get("stream_options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    include_usage = bool(options.get("include_usage"))
    return Plan(
        model=model,
        prompt_tokens=prompt_tokens,
        pieces=pieces or [("content", "")],
        finish_reason=finish_reason,
        fault=knobs.fault,
        cut=min(reasoning_count + max(knobs.fault_after, 0), len(pieces)),
        ttft=max(knobs.ttft_ms, 0.0) * model.ttft_scale / 1000,
        itl=max(knobs.itl_ms, 0.0) * model.itl_scale / 1000,
        include_usage=include_usage,
        continuous_usage=include_usage and bool(options.get("continuous_usage_stats")),
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
