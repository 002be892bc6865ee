"""Exchange rows: every call to a model, whatever its source and however it ended."""

from __future__ import annotations

import json
from typing import Any

from aeries.calls import NO_STUDY, CallResult, ChatRequest, ServerMetrics, StudyRef
from aeries.config import public_url
from aeries.store.writer import Insert, Writer
from aeries.vocabulary import Source


def exchange_row(
    request: ChatRequest,
    result: CallResult,
    *,
    source: Source,
    user_id: str | None = None,
    conversation_id: str | None = None,
    message_id: str | None = None,
    persona_id: str | None = None,
    brief_enabled: bool | None = None,
    params: dict[str, Any] | None = None,
    study: StudyRef | None = None,
) -> dict[str, Any]:
    """The ``exchanges`` row for a finished call (never carries the API key)."""
    itl = result.itl_stats()
    all_params = request.sampling.as_params()
    if request.response_format:
        all_params["response_format"] = request.response_format.get("type")
    all_params.update(params or {})
    return {
        "id": result.id,
        "user_id": user_id,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "source": source,
        "endpoint": public_url(request.endpoint),
        "model": request.model,
        "persona_id": persona_id,
        "brief_enabled": brief_enabled,
        "params": json.dumps(all_params, ensure_ascii=False),
        "request_messages": json.dumps(request.messages, ensure_ascii=False),
        "response_text": result.content,
        "reasoning_text": result.reasoning or None,
        "status": result.status,
        "error": result.error,
        "error_kind": result.error_kind,
        "finish_reason": result.finish_reason,
        "started_at": result.started_at,
        "ttft_ms": result.ttft_ms,
        "e2e_ms": result.e2e_ms,
        "tpot_ms": result.tpot_ms,
        "itl_mean_ms": itl["mean"],
        "itl_p50_ms": itl["p50"],
        "itl_p95_ms": itl["p95"],
        "itl_max_ms": itl["max"],
        "chunk_count": result.chunk_count,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        **_server_columns(result.server),
        **(study.columns() if study else NO_STUDY),
    }


def _server_columns(server: ServerMetrics | None) -> dict[str, float | None]:
    """The server's own timings, NULL where it sent none (never 0)."""
    s = server or ServerMetrics()
    return {
        "server_queue_ms": s.queue_ms,
        "server_ttft_ms": s.ttft_ms,
        "server_generation_ms": s.generation_ms,
        "server_mean_itl_ms": s.mean_itl_ms,
        "server_tokens_per_second": s.tokens_per_second,
    }


def log_exchange(writer: Writer, row: dict[str, Any]) -> None:
    """Hand an exchange row to the background writer."""
    writer.submit(Insert("exchanges", row))
