"""Every failure of a model call, mapped to a message a researcher can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

import openai

from aeries.vocabulary import http_error_kind

RESTING = "Aeries is resting. Try again in a moment."

# vLLM has worded this two ways: "This model's maximum context length is N tokens. However,
# your prompt contains M input tokens" and "You passed P input tokens and requested M output
# tokens. However, the model's context length is only N tokens".
_CONTEXT = re.compile(r"context length is (?:only )?(\d+) tokens", re.IGNORECASE)
_PROMPT = re.compile(
    r"(?:prompt contains|you requested|you passed) (\d+)(?: input)? tokens", re.IGNORECASE
)


@dataclass(frozen=True)
class ErrorInfo:
    """A failure: a short kind for analytics, a clear message, and the server's own words."""

    kind: str
    message: str
    detail: str | None = None


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)


def _context_message(detail: str, model: str) -> str:
    limit = _CONTEXT.search(detail)
    asked = _PROMPT.search(detail)
    if limit and asked:
        sizes = f" ({asked.group(1)} tokens asked; the model holds {limit.group(1)})"
    elif limit:
        sizes = f" (the model holds {limit.group(1)} tokens)"
    else:
        sizes = ""
    return (
        f"This conversation is too long for {model}{sizes}. Shorten your message, start a "
        "new conversation, or lower the history window or max tokens."
    )


def describe_error(exc: BaseException, *, model: str, partial: bool = False) -> ErrorInfo:
    """Map an exception raised by a call (before or during streaming) to an ErrorInfo."""
    kept = " The partial answer was kept." if partial else ""
    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo(
            "timeout",
            f"The model server stopped sending (timed out).{kept} Try again.",
            str(exc),
        )
    if isinstance(exc, openai.APIConnectionError):
        if partial:
            return ErrorInfo(
                "connection_lost",
                f"The connection to the model server broke mid-answer.{kept}",
                str(exc.__cause__ or exc),
            )
        return ErrorInfo("server_down", RESTING, str(exc.__cause__ or exc))
    if isinstance(exc, openai.NotFoundError):
        return ErrorInfo(
            "unknown_model",
            f"The model `{model}` is not served by this endpoint. Pick another model.",
            _server_message(exc),
        )
    if isinstance(exc, openai.BadRequestError):
        detail = _server_message(exc)
        if "context length" in detail.lower():
            return ErrorInfo("context_length", _context_message(detail, model), detail)
        return ErrorInfo("bad_request", f"The model server refused the request: {detail}", detail)
    if isinstance(exc, openai.APIStatusError):
        detail = _server_message(exc)
        return ErrorInfo(
            http_error_kind(exc.status_code),
            f"The model server answered with an error ({exc.status_code}): {detail}",
            detail,
        )
    if isinstance(exc, openai.APIError):
        # Raised while iterating when vLLM sends a `data: {"error": ...}` event mid-stream.
        detail = _server_message(exc)
        return ErrorInfo(
            "midstream_error", f"The model failed mid-answer: {detail.rstrip('.')}.{kept}", detail
        )
    return ErrorInfo(
        "connection_lost",
        f"The connection to the model server broke mid-answer.{kept}"
        if partial
        else "The model server could not be reached properly. Try again.",
        f"{type(exc).__name__}: {exc}",
    )
