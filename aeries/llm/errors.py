"""Every failure of a model call, mapped to a message a researcher can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

import openai

from aeries.vocabulary import ErrorKind, http_error_kind

RESTING = "Aeries is resting. Try again in a moment."

# vLLM has worded a too-long conversation three ways. 0.33: "This model's maximum context
# length is N tokens. However, your prompt contains [at least] M input tokens, which exceeds
# this limit even without any output tokens" (the count is capped at N + 1, hence "at least");
# older releases: "... your prompt contains M input tokens" or "You passed P input tokens and
# requested M output tokens. However, the model's context length is only N tokens". Only the
# older wordings count the answer's budget: on 0.33 a smaller max tokens cannot help, since it
# lowers an over-long budget itself and ends the answer with finish_reason "length".
_CONTEXT = re.compile(r"context length is (?:only )?(\d+) tokens", re.IGNORECASE)
_PROMPT = re.compile(
    r"(?:prompt contains|you requested|you passed) (at least )?(\d+)(?: input)? tokens",
    re.IGNORECASE,
)
_PROMPT_ONLY = "even without any output tokens"
# 0.33: max_tokens larger than the whole context, and a prompt that fills it exactly (vLLM then
# computes a budget of 0 and rejects that, naming max_tokens even when none was sent).
_MAX_TOKENS = re.compile(
    r"(max_tokens|max_completion_tokens)=(\d+) cannot be greater than max_model_len=(\d+)"
)
_NO_ROOM = "max_tokens must be at least 1, got 0"
# What the openai client puts in an in-stream error whose message is empty.
_OPENAI_STREAM_PLACEHOLDER = "An error occurred during streaming"


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
        count = int(asked.group(2)) - 1 if asked.group(1) else int(asked.group(2))
        more = "more than " if asked.group(1) else ""
        sizes = f" ({more}{count} tokens asked; the model holds {limit.group(1)})"
    elif limit:
        sizes = f" (the model holds {limit.group(1)} tokens)"
    else:
        sizes = ""
    fixes = (
        "or lower the history window"
        if _PROMPT_ONLY in detail
        else ("or lower the history window or max tokens")
    )
    return (
        f"This conversation is too long for {model}{sizes}. Shorten your message, start a "
        f"new conversation, {fixes}."
    )


def _length_error(detail: str, model: str) -> ErrorInfo | None:
    """A request vLLM refused for its length, if it is one."""
    if "context length" in detail.lower():
        return ErrorInfo("context_length", _context_message(detail, model), detail)
    too_many = _MAX_TOKENS.search(detail)
    if too_many:
        asked, limit = too_many.group(2), too_many.group(3)
        return ErrorInfo(
            "max_tokens",
            f"Max tokens ({asked}) is more than {model} can hold in all ({limit} tokens, "
            f"question included). Lower Max tokens to at most {limit} (Model & sampling).",
            detail,
        )
    if _NO_ROOM in detail:
        return ErrorInfo(
            "context_length",
            f"This conversation fills the whole context of {model}, leaving no room for an "
            "answer. Shorten your message, start a new conversation, or lower the history "
            "window.",
            detail,
        )
    return None


def _stream_error(exc: openai.APIError, *, model: str, output: bool, kept: str) -> ErrorInfo:
    """An ``{"error": …}`` event inside a stream (after the HTTP 200). vLLM sends it with the
    status it would have answered: 400 for a request only the engine could judge (a JSON schema
    xgrammar cannot compile, logits-processor arguments), 503 while generation is paused, 500
    when the engine failed (often with an empty message)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    code = body.get("code")
    detail = _server_message(exc)
    if detail == _OPENAI_STREAM_PLACEHOLDER:
        detail = ""
    if code == 400 and not output:
        length = _length_error(detail, model)
        if length is not None:
            return length
        return ErrorInfo(
            "bad_request",
            f"The model server refused the request before answering: {detail or 'no reason given'}",
            detail,
        )
    if code == 503 and not output:
        return ErrorInfo(
            "server_busy",
            "The model server is paused or too busy and did not answer. Try again in a moment."
            + (f" ({detail.rstrip('.')}.)" if detail else ""),
            detail,
        )
    if not output:
        return ErrorInfo(
            "server_failed",
            "The model server failed before answering"
            + (f": {detail.rstrip('.')}." if detail else ".")
            + " Try again.",
            detail or None,
        )
    return ErrorInfo(
        "midstream_error",
        f"The model failed mid-answer: {(detail or 'no reason given').rstrip('.')}.{kept}",
        detail,
    )


def describe_error(
    exc: BaseException, *, model: str, partial: bool = False, output: bool | None = None
) -> ErrorInfo:
    """Map an exception raised by a call (before or during streaming) to an ErrorInfo.

    ``partial``: some text arrived and is kept; ``output``: any output chunk arrived (an
    answer may have started with nothing visible yet); it defaults to ``partial``."""
    if output is None:
        output = partial
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
        length = _length_error(detail, model)
        if length is not None:
            return length
        return ErrorInfo("bad_request", f"The model server refused the request: {detail}", detail)
    if isinstance(exc, openai.APIStatusError):
        detail = _server_message(exc)
        return ErrorInfo(
            http_error_kind(exc.status_code),
            f"The model server answered with an error ({exc.status_code}): {detail}",
            detail,
        )
    if isinstance(exc, openai.APIError):
        # Raised while iterating when vLLM sends a `data: {"error": ...}` event in the stream.
        return _stream_error(exc, model=model, output=output, kept=kept)
    return ErrorInfo(
        "connection_lost",
        f"The connection to the model server broke mid-answer.{kept}"
        if partial
        else "The model server could not be reached properly. Try again.",
        f"{type(exc).__name__}: {exc}",
    )


def server_ending(kind: ErrorKind, *, partial: bool) -> ErrorInfo:
    """An answer the server ended early (finish_reason ``abort`` or ``repetition``)."""
    kept = " What arrived is kept; regenerate it for a whole answer." if partial else ""
    if kind == "repetition":
        message = "The model server stopped this answer because it began repeating itself."
        return ErrorInfo(kind, message + kept, "finish_reason: repetition")
    message = (
        "The model server stopped this answer before the end (it was paused, drained or "
        "shutting down)."
    )
    return ErrorInfo(kind, message + (kept or " Try again in a moment."), "finish_reason: abort")
