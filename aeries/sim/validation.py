"""Checking a chat request the way vLLM 0.33 does, in its order, with its messages.

1. Pydantic (FastAPI answers 400 "Bad Request", `param` "body.<field>", "N validation
   error(s):" …); its `mode="before"` validators raise vLLM errors that bypass that handler
   (`stream_options` without `stream`), as does `repetition_detection`'s own check.
2. The model (404 with the served aliases), then the engine preflight (`server_error` fault).
3. The renderer: `max_tokens` > max_model_len, then a prompt longer than max_model_len (the
   tokenizer truncates at N+1, so the count reads "at least N+1").
4. The budget: `min(max_tokens, max_model_len − prompt)`, silently (the answer ends "length").
5. Sampling parameters (`SamplingParams._verify_args`), where a budget of 0 (a prompt filling
   the context) fails as `max_tokens must be at least 1, got 0`.

vLLM's `VLLMValidationError` appends ` (parameter=…, value=…)` when it knows them; so do these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from aeries.sim import protocol
from aeries.sim.config import FAULTS, Knobs, SimConfig, SimModel
from aeries.sim.text import count_prompt_tokens

FLOAT_FIELDS = ("frequency_penalty", "presence_penalty", "temperature", "top_p")
INT_FIELDS = ("max_tokens", "max_completion_tokens", "stream_interval")
NOT_AN_OBJECT = {
    "type": "model_attributes_type",
    "loc": "body",
    "msg": "Input should be a valid dictionary or object to extract fields from",
    "input": "<body>",
}  # a body that is not a JSON object


@dataclass(frozen=True)
class Checked:
    """A request that passed: the model it names, its prompt length and its token budget."""

    model: SimModel
    prompt_tokens: int
    budget: int
    params: dict[str, Any]  # the numeric fields as pydantic coerced them


def with_suffix(message: str, parameter: str | None = None, value: Any = None) -> str:
    """`VLLMValidationError.__str__`: the message, then ` (parameter=…, value=…)` if known."""
    extras = [f"parameter={parameter}"] if parameter is not None else []
    extras += [f"value={value}"] if value is not None else []
    return f"{message} ({', '.join(extras)})" if extras else message


def bad_request(message: str, parameter: str | None = None, value: Any = None) -> JSONResponse:
    """A `VLLMValidationError` answered before the stream: 400 "BadRequestError"."""
    text = with_suffix(message, parameter, value)
    return protocol.error_response(400, text, "BadRequestError", parameter)


def _summary(value: Any) -> str:
    """How vLLM echoes a rejected `input` (containers described, not rendered)."""
    if isinstance(value, list | tuple | set | dict):
        return f"<{type(value).__name__} of {len(value)} items>"
    return str(value)[:200]


def pydantic_error(errors: list[dict[str, Any]]) -> JSONResponse:
    """FastAPI's RequestValidationError as vLLM's handler answers it."""
    label = "error" if len(errors) == 1 else "errors"
    lines = "".join(f"  {error}\n" for error in errors[:10])
    message = f"{len(errors)} validation {label}:\n{lines}".rstrip()
    param = str(errors[0]["loc"])
    return protocol.error_response(400, message, "Bad Request", param)


def _field_error(kind: str, name: str, msg: str, value: Any, ctx: Any = None) -> dict[str, Any]:
    error = {"type": kind, "loc": f"body.{name}", "msg": msg, "input": _summary(value)}
    return error if ctx is None else error | {"ctx": ctx}


def _coerce(name: str, value: Any, errors: list[dict[str, Any]]) -> Any:
    """Pydantic's lax coercion of a numeric field; appends an error and returns None if it fails."""
    if name in FLOAT_FIELDS:
        if isinstance(value, bool | int | float):
            return float(value)
        if not isinstance(value, str):
            errors.append(_field_error("float_type", name, "Input should be a valid number", value))
            return None
        try:
            return float(value)
        except ValueError:
            msg = "Input should be a valid number, unable to parse string as a number"
            errors.append(_field_error("float_parsing", name, msg, value))
            return None
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        msg = "Input should be a valid integer, got a number with a fractional part"
        errors.append(_field_error("int_from_float", name, msg, value))
        return None
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if isinstance(value, str):
        msg = "Input should be a valid integer, unable to parse string as an integer"
        errors.append(_field_error("int_parsing", name, msg, value))
    else:
        errors.append(_field_error("int_type", name, "Input should be a valid integer", value))
    return None


def _pydantic(body: dict[str, Any]) -> tuple[dict[str, Any], JSONResponse | None]:
    """Stage 1: the request model's validators and field types."""
    if body.get("stream_options") and not body.get("stream"):
        message = "Stream options can only be defined when `stream=True`."
        return {}, bad_request(message, "stream_options")
    errors: list[dict[str, Any]] = []
    messages = body.get("messages")
    if "messages" not in body:
        errors.append(
            {
                "type": "missing",
                "loc": "body.messages",
                "msg": "Field required",
                "input": _summary(body),
            }
        )
    elif not isinstance(messages, list):
        errors.append(
            _field_error("list_type", "messages", "Input should be a valid list", messages)
        )
    elif not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        msg = "Input should be a valid dictionary with a string 'role'"
        errors.append(_field_error("model_type", "messages", msg, messages))
    params: dict[str, Any] = {}
    for name in (*FLOAT_FIELDS, *INT_FIELDS):
        if body.get(name) is not None:
            params[name] = _coerce(name, body[name], errors)
    interval = params.get("stream_interval")
    if interval is not None and interval < 1:
        msg = "Input should be greater than or equal to 1"
        errors.append(
            _field_error("greater_than_equal", "stream_interval", msg, interval, {"ge": 1})
        )
    if errors:
        return params, pydantic_error(errors)
    return params, _repetition_error(body.get("repetition_detection"))


def _repetition_error(spec: Any) -> JSONResponse | None:
    """`RepetitionDetectionParams.__post_init__` (a vLLM error: no suffix)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        msg = "Input should be a dictionary or an instance of RepetitionDetectionParams"
        return pydantic_error([_field_error("dataclass_type", "repetition_detection", msg, spec)])
    sizes = [spec.get(k, 0) for k in ("max_pattern_size", "min_pattern_size", "min_count")]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
        msg = "Input should be a valid integer"
        return pydantic_error([_field_error("int_type", "repetition_detection", msg, spec)])
    max_size, min_size, min_count = sizes
    if max_size < 0 or min_size < 0 or min_size > max_size:
        return bad_request(
            "max_pattern_size, min_pattern_size must be >=0, with min_pattern_size <= "
            "max_pattern_size. Set both to 0 to disable repetitive pattern detection."
        )
    if max_size > 0 and min_count < 2:
        return bad_request(
            "min_count must be >= 2 to detect repetitive patterns in engine output. If you do "
            "not wish to detect repetitive patterns, set max_pattern_size to 0."
        )
    return None


def find_model(config: SimConfig, name: Any) -> SimModel | None:
    """The served model a request names; a request without a model gets the first."""
    served = config.served()
    if not name:
        return served[0]
    return next((m for m in served if name in m.names), None)


def unknown_model(config: SimConfig, name: Any) -> JSONResponse:
    aliases = ", ".join(n for m in config.served() for n in m.names)
    message = f"The model `{name}` does not exist. Valid aliases: {aliases}."
    return protocol.error_response(404, message, "NotFoundError", "model")


def prompt_too_long(max_len: int) -> JSONResponse:
    """The renderer's 400 for a prompt over the context; the count is capped at N+1."""
    message = (
        f"This model's maximum context length is {max_len} tokens. However, your prompt "
        f"contains at least {max_len + 1} input tokens, which exceeds this limit even without "
        "any output tokens. Please reduce the length of the input prompt."
    )
    return bad_request(message, "input_tokens", max_len + 1)


def _sampling_error(params: dict[str, Any], budget: int) -> JSONResponse | None:
    """`SamplingParams._verify_args`, in its order."""
    for name in ("presence_penalty", "frequency_penalty"):
        value = params.get(name)
        if value is not None and not -2.0 <= value <= 2.0:
            return bad_request(f"{name} must be in [-2, 2], got {value}.")
    temperature = params.get("temperature")
    if temperature is not None:
        rule = None
        if not math.isfinite(temperature):
            rule = "must be a finite number"
        elif temperature < 0:
            rule = "must be non-negative"
        elif temperature > 2:
            rule = "must be in [0, 2]"
        if rule is not None:
            return bad_request(
                f"temperature {rule}, got {temperature}.", "temperature", temperature
            )
    top_p = params.get("top_p")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        return bad_request(f"top_p must be in (0, 1], got {top_p}.", "top_p", top_p)
    if budget < 1:
        return bad_request(f"max_tokens must be at least 1, got {budget}.", "max_tokens", budget)
    return None


def check(body: dict[str, Any], config: SimConfig, knobs: Knobs) -> Checked | JSONResponse:
    """The request's model, prompt length and budget; or the error vLLM answers with."""
    if knobs.fault is not None and knobs.fault not in FAULTS:
        known = ", ".join(sorted(FAULTS))
        return bad_request(f"Unknown sim fault {knobs.fault!r}; known: {known}.", "sim")
    params, invalid = _pydantic(body)
    if invalid is not None:
        return invalid
    model = find_model(config, body.get("model"))
    if model is None or knobs.fault == "unknown_model":
        return unknown_model(config, body.get("model") or "")
    if knobs.fault == "server_error":  # the engine is dead: the preflight answers 500
        _, message, _, kind = protocol.ENGINE_ERRORS["engine_dead"]
        return protocol.error_response(500, message, kind)
    n = model.max_model_len
    field = "max_completion_tokens" if "max_completion_tokens" in params else "max_tokens"
    requested = params.get(field)
    if requested is not None and requested > n:
        message = (
            f"{field}={requested} cannot be greater than max_model_len={n}. "
            "Please request fewer output tokens."
        )
        return bad_request(message, field, requested)
    prompt_tokens = count_prompt_tokens(body["messages"])
    if prompt_tokens > n or knobs.fault == "context_length":
        return prompt_too_long(n)
    budget = n - prompt_tokens if requested is None else min(requested, n - prompt_tokens)
    invalid = _sampling_error(params, budget)
    if invalid is not None:
        return invalid
    return Checked(model, prompt_tokens, budget, params)
