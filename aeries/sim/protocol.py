"""The wire format: every body, chunk and event the simulator sends, shaped the way vLLM 0.33 does.

Chat chunks and the usage chunk, the non-streaming completion, error bodies (HTTP and in-stream),
`/v1/models`, `/health`, unknown paths and the admin config view are all built here and nowhere
else; the other modules decide *what* to send and *when*.

vLLM serialises a chunk that has choices with `exclude_unset` (every field its code set is
there, nulls included: `prompt_token_ids`, `token_ids`, `kv_transfer_params`, …) and the usage
chunk (`choices: []`) with `exclude_none` too; keys follow the pydantic field order. The
non-streaming body is a full `model_dump()` (every key, `tool_calls` dropped when empty).
Validation messages are built in `validation`.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from aeries.sim.config import ADMIN_FIELDS, SimConfig, SimModel

VLLM_VERSION = "0.33.0"
SSE_MEDIA_TYPE = "text/event-stream"
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DONE = b"data: [DONE]\n\n"
CLIENT_CLOSED = 499  # the status nobody reads: the client left before the answer was ready
TRUNCATED_BODY = b'{"id": "chatcmpl-'  # the start of a completion a dropped connection cuts

# Engine errors: (status, message, type in a stream, type in an HTTP answer).
ENGINE_ERRORS: dict[str, tuple[int, str, str, str]] = {
    # VLLMValidationError from add_request: a schema xgrammar cannot compile
    "grammar_error": (
        400,
        "The provided JSON schema contains features not supported by xgrammar.",
        "BadRequestError",
        "BadRequestError",
    ),
    # EngineGenerateError: no message
    "engine_error": (500, "", "InternalServerError", "InternalServerError"),
    # RetryableRequestError while paused: "InternalServerError" in a stream
    "engine_paused": (
        503,
        "Generation is paused. Please retry after it resumes.",
        "InternalServerError",
        "ServiceUnavailableError",
    ),
    # EngineDeadError's client message
    "engine_dead": (
        500,
        "The server had an error while processing your request.",
        "InternalServerError",
        "InternalServerError",
    ),
    # finish_reason "error" (GenerationError), after the role chunk
    "midstream_error": (500, "Internal server error", "InternalServerError", "InternalServerError"),
}


def random_uuid() -> str:
    """vLLM's `random_uuid()`: the low 64 bits of a UUID4 as 16 hex digits."""
    return f"{uuid.uuid4().int & ((1 << 64) - 1):016x}"


def completion_id(header: str | None = None, body_id: Any = None) -> str:
    """`chatcmpl-` + the X-Request-Id header, else the body's `request_id`, else 16 hex."""
    if header is not None:
        return f"chatcmpl-{header}"
    if isinstance(body_id, str):
        return f"chatcmpl-{body_id}"
    return f"chatcmpl-{random_uuid()}"


def fingerprint(model: SimModel) -> str:
    """`system_fingerprint` in vLLM's default mode: `vllm-<version>-<hash8>` of the config."""
    config = json.dumps([model.id, model.max_model_len, list(model.names), model.reasoning_parser])
    return f"vllm-{VLLM_VERSION}-{hashlib.sha256(config.encode()).hexdigest()[:8]}"


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Envelope:
    """What every chunk and the completion of one response repeat: id, creation time, model."""

    model: str
    id: str = field(default_factory=completion_id)
    created: int = field(default_factory=now)


# --- errors ------------------------------------------------------------------------------------


def error_body(status: int, message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    """vLLM's error body: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def error_response(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    """An error answered before the stream starts, with `status` and vLLM's body."""
    return JSONResponse(error_body(status, message, kind, param), status_code=status)


def http_error_body(detail: Any) -> dict[str, Any]:
    """FastAPI's body for unknown paths and methods, as vLLM answers them."""
    return {"detail": detail}


# --- streaming ---------------------------------------------------------------------------------


def sse(payload: Any) -> bytes:
    """One server-sent event carrying `payload` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def error_event(status: int, message: str, kind: str) -> bytes:
    """An error after the 200 went out (the caller sends [DONE] after it)."""
    return sse(error_body(status, message, kind))


def _details(reasoning_tokens: int | None) -> dict[str, int] | None:
    return None if reasoning_tokens is None else {"reasoning_tokens": reasoning_tokens}


def usage(
    prompt_tokens: int, completion_tokens: int, reasoning_tokens: int | None = None
) -> dict[str, Any]:
    """The final usage chunk's `usage` (nulls dropped; the details only with a parser)."""
    counts: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
    if reasoning_tokens is not None:
        counts["completion_tokens_details"] = _details(reasoning_tokens)
    return counts


def continuous_usage(
    prompt_tokens: int, completion_tokens: int, reasoning_tokens: int | None
) -> dict[str, Any]:
    """`usage` on each chunk with `continuous_usage_stats`: its details are set, even to null."""
    counts = usage(prompt_tokens, completion_tokens)
    counts["completion_tokens_details"] = _details(reasoning_tokens)
    return counts


def _head(envelope: Envelope, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "object": "chat.completion.chunk",
        "created": envelope.created,
        "model": envelope.model,
        "choices": choices,
    }


def role_chunk(envelope: Envelope, usage_counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The first chunk of a stream, sent with the first engine output: role, empty content."""
    choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    payload = _head(envelope, [choice])
    if usage_counts is not None:
        payload["usage"] = usage_counts
    return payload | {"prompt_token_ids": None, "prompt_text": None}


def delta_chunk(
    envelope: Envelope,
    delta: dict[str, str],
    finish_reason: str | None = None,
    stop_reason: str | None = None,
    usage_counts: dict[str, Any] | None = None,
    system_fingerprint: str | None = None,
) -> dict[str, Any]:
    """A token chunk; the finish chunk adds `stop_reason` and `weight_versions` (and the
    fingerprint when no usage chunk follows)."""
    choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None}
    choice["finish_reason"] = finish_reason
    if finish_reason is not None:
        choice |= {"stop_reason": stop_reason, "token_ids": None, "weight_versions": None}
    else:
        choice["token_ids"] = None
    payload = _head(envelope, [choice])
    if usage_counts is not None:
        payload["usage"] = usage_counts
    if system_fingerprint is not None:
        payload["system_fingerprint"] = system_fingerprint
    return payload | {"kv_transfer_params": None}


def usage_chunk(
    envelope: Envelope,
    usage_counts: dict[str, Any],
    system_fingerprint: str,
    metrics: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    """The last chunk with `include_usage`: no choices, so every null is dropped."""
    payload = _head(envelope, [])
    payload |= {"usage": usage_counts, "system_fingerprint": system_fingerprint}
    if metrics is not None:
        payload["metrics"] = {k: v for k, v in metrics.items() if v is not None}
    return payload


def timing_metrics(
    queued: float, scheduled: float | None, first: float | None, last: float | None, tokens: int
) -> dict[str, float | None]:
    """vLLM's `build_per_request_timing_metrics` (times in seconds; None when not reached)."""

    def ms(start: float | None, end: float | None) -> float | None:
        return None if start is None or end is None else (end - start) * 1000

    generation = ms(first, last)
    inference = ms(scheduled, last)
    return {
        "time_to_first_token_ms": ms(scheduled, first),
        "generation_time_ms": generation,
        "queue_time_ms": ms(queued, scheduled),
        "mean_itl_ms": generation / (tokens - 1) if generation is not None and tokens > 1 else None,
        "tokens_per_second": tokens / inference * 1000 if inference else None,
    }


# --- whole bodies ------------------------------------------------------------------------------


def completion(
    envelope: Envelope,
    content: str | None,
    reasoning: str | None,
    finish_reason: str,
    stop_reason: str | None,
    usage_counts: dict[str, Any],
    system_fingerprint: str,
    metrics: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    """The non-streaming `chat.completion` body (every key; `tool_calls` absent when empty)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": reasoning,
    }
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
        "token_ids": None,
        "routed_experts": None,
        "weight_versions": None,
    }
    usage_full = {
        "prompt_tokens": usage_counts["prompt_tokens"],
        "total_tokens": usage_counts["total_tokens"],
        "completion_tokens": usage_counts["completion_tokens"],
        "prompt_tokens_details": None,
        "completion_tokens_details": usage_counts.get("completion_tokens_details"),
    }
    return {
        "id": envelope.id,
        "object": "chat.completion",
        "created": envelope.created,
        "model": envelope.model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": system_fingerprint,
        "usage": usage_full,
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None if metrics is None else metrics | {"speculative_decoding": None},
    }


def model_card(model: SimModel, name: str, created: int) -> dict[str, Any]:
    """One entry of `/v1/models`, with vLLM's `max_model_len` and permission record."""
    permission = {
        "id": f"modelperm-{random_uuid()}",
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
        "id": name,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": model.id,
        "parent": None,
        "max_model_len": model.max_model_len,
        "permission": [permission],
    }


def model_list(models: list[SimModel]) -> dict[str, Any]:
    """The `/v1/models` body: one card per served name."""
    created = now()
    cards = [model_card(model, name, created) for model in models for name in model.names]
    return {"object": "list", "data": cards}


def health_response(healthy: bool) -> Response:
    """`/health`: an empty 200, or 503 while unhealthy."""
    return Response(status_code=200 if healthy else 503)


def admin_config(config: SimConfig) -> dict[str, Any]:
    """`POST /sim/config`'s answer: the scalar config fields an admin may change, as they are."""
    return {name: getattr(config, name) for name in ADMIN_FIELDS}
