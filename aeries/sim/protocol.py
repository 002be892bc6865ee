"""The wire format: every body, chunk and event the simulator sends, shaped the way vLLM 0.33 does.

Chat chunks and the usage chunk, the non-streaming completion, error bodies (HTTP and mid-stream),
`/v1/models`, `/health`, unknown paths and the admin config view are all built here and nowhere
else; the other modules decide *what* to send and *when*.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from aeries.sim.config import ADMIN_FIELDS, SimConfig, SimModel

SSE_MEDIA_TYPE = "text/event-stream"
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DONE = b"data: [DONE]\n\n"
CLIENT_CLOSED = 499  # the status nobody reads: the client left before the answer was ready
TRUNCATED_BODY = b'{"id": "chatcmpl-'  # the start of a completion a dropped connection cuts
MIDSTREAM_MESSAGE = "The engine failed while generating this response (simulated)."


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


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


def context_length_message(max_len: int, prompt_tokens: int, max_tokens: int | None) -> str:
    """vLLM's wording for a request that does not fit the model's context window."""
    head = f"This model's maximum context length is {max_len} tokens. However, "
    if max_tokens is None:
        tail = (
            f"your prompt contains {prompt_tokens} input tokens. "
            "Please reduce the length of the input messages."
        )
    else:
        tail = (
            f"you requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the "
            f"messages, {max_tokens} in the completion). "
            "Please reduce the length of the messages or completion."
        )
    return head + tail


def unknown_model_message(model_id: str) -> str:
    return f"The model `{model_id}` does not exist."


def http_error_body(detail: Any) -> dict[str, Any]:
    """FastAPI's body for unknown paths and methods, as vLLM answers them."""
    return {"detail": detail}


# --- streaming ---------------------------------------------------------------------------------


def sse(payload: Any) -> bytes:
    """One server-sent event carrying `payload` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


def chunk(
    envelope: Envelope, choices: list[dict[str, Any]], usage_counts: dict[str, int] | None = None
) -> bytes:
    """A `chat.completion.chunk` event; `choices == []` with `usage` is the usage chunk."""
    payload: dict[str, Any] = {
        "id": envelope.id,
        "object": "chat.completion.chunk",
        "created": envelope.created,
        "model": envelope.model,
        "choices": choices,
    }
    if usage_counts is not None:
        payload["usage"] = usage_counts
    return sse(payload)


def role_choice() -> dict[str, Any]:
    """The first choice of a stream: the role, with empty content."""
    return {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }


def delta_choice(kind: str, text: str, finish_reason: str | None = None) -> dict[str, Any]:
    """A choice whose delta carries one piece (`kind` is "content" or "reasoning"); the last one
    of the answer has a `finish_reason` and a `stop_reason`."""
    choice: dict[str, Any] = {"index": 0, "delta": {kind: text}, "logprobs": None}
    choice["finish_reason"] = finish_reason
    if finish_reason is not None:
        choice["stop_reason"] = None
    return choice


def error_event(status: int, message: str, kind: str) -> bytes:
    """vLLM's failure after the 200 went out: an error event, then [DONE]."""
    return sse(error_body(status, message, kind)) + DONE


# --- whole bodies ------------------------------------------------------------------------------


def completion(
    envelope: Envelope,
    content: str | None,
    reasoning: str | None,
    finish_reason: str,
    usage_counts: dict[str, int],
) -> dict[str, Any]:
    """The non-streaming `chat.completion` body."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": [],
        "reasoning": reasoning,
    }
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": None,
    }
    return {
        "id": envelope.id,
        "object": "chat.completion",
        "created": envelope.created,
        "model": envelope.model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage_counts | {"prompt_tokens_details": None},
        "prompt_logprobs": None,
        "kv_transfer_params": None,
    }


def model_card(model: SimModel, created: int) -> dict[str, Any]:
    """One entry of `/v1/models`, with vLLM's `max_model_len` and permission record."""
    permission = {
        "id": f"modelperm-{uuid.uuid4().hex}",
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
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": model.id,
        "parent": None,
        "max_model_len": model.max_model_len,
        "permission": [permission],
    }


def model_list(models: list[SimModel]) -> dict[str, Any]:
    """The `/v1/models` body."""
    created = now()
    return {"object": "list", "data": [model_card(model, created) for model in models]}


def health_response(healthy: bool) -> Response:
    """`/health`: an empty 200, or 503 while unhealthy."""
    return Response(status_code=200 if healthy else 503)


def admin_config(config: SimConfig) -> dict[str, Any]:
    """`POST /sim/config`'s answer: the scalar config fields an admin may change, as they are."""
    return {name: getattr(config, name) for name in ADMIN_FIELDS}
