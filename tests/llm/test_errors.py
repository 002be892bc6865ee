"""What Aeries says for each way vLLM 0.33 refuses or fails a request, from the wire shapes in
vLLM's own serving code (see docs/timings.md and the simulator's faults for the streams)."""

from __future__ import annotations

import httpx2
import openai
import pytest

from aeries.llm import describe_error
from aeries.llm.errors import server_ending

REQUEST = httpx2.Request("POST", "http://h/v1/chat/completions")


def bad_request(message: str, param: str | None = None) -> openai.BadRequestError:
    """A 400 answered before the stream (pydantic or the renderer's validation)."""
    body = {"message": message, "type": "BadRequestError", "param": param, "code": 400}
    response = httpx2.Response(400, request=REQUEST, json={"error": body})
    return openai.BadRequestError(message, response=response, body=body)


def stream_error(code: int, message: str, kind: str = "BadRequestError") -> openai.APIError:
    """An `{"error": …}` event inside a 200 stream, as the openai client raises it: with an
    empty message it substitutes its own placeholder."""
    body = {"message": message, "type": kind, "param": None, "code": code}
    return openai.APIError(message or "An error occurred during streaming", REQUEST, body=body)


PROMPT_TOO_LONG = (
    "This model's maximum context length is 4096 tokens. However, your prompt contains at least "
    "4097 input tokens, which exceeds this limit even without any output tokens. Please reduce "
    "the length of the input prompt. (parameter=input_tokens, value=4097)"
)


def test_a_prompt_longer_than_the_context_on_033():
    info = describe_error(bad_request(PROMPT_TOO_LONG, "input_tokens"), model="m")
    assert info.kind == "context_length"
    assert "more than 4096 tokens asked; the model holds 4096" in info.message
    # On 0.33 a smaller max tokens cannot help: vLLM lowers the answer's budget itself.
    assert "max tokens" not in info.message.lower()
    assert "history window" in info.message


def test_max_tokens_larger_than_the_whole_context():
    detail = (
        "max_tokens=5000 cannot be greater than max_model_len=4096. Please request fewer output "
        "tokens. (parameter=max_tokens, value=5000)"
    )
    info = describe_error(bad_request(detail, "max_tokens"), model="m")
    assert info.kind == "max_tokens"
    assert "Max tokens (5000)" in info.message and "at most 4096" in info.message


def test_a_prompt_that_fills_the_context_exactly():
    detail = "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"
    info = describe_error(bad_request(detail, "max_tokens"), model="m")
    assert info.kind == "context_length"
    assert "no room for an answer" in info.message


def test_an_in_stream_400_before_any_output_says_what_was_wrong():
    message = "The provided JSON schema contains features not supported by xgrammar."
    info = describe_error(stream_error(400, message), model="m", output=False)
    assert info.kind == "bad_request"
    assert "refused the request before answering" in info.message and "xgrammar" in info.message
    assert "mid-answer" not in info.message


def test_an_in_stream_503_is_busy_or_paused():
    message = "Generation is paused. Please retry after it resumes."
    info = describe_error(stream_error(503, message, "InternalServerError"), model="m")
    assert info.kind == "server_busy"
    assert "paused or too busy" in info.message and "Try again" in info.message


def test_an_engine_failure_before_any_output_with_an_empty_message():
    info = describe_error(stream_error(500, "", "InternalServerError"), model="m", output=False)
    assert info.kind == "server_failed"
    assert info.message == "The model server failed before answering. Try again."
    assert "An error occurred during streaming" not in info.message  # openai's placeholder
    assert info.detail is None


def test_an_engine_failure_after_output_is_mid_answer():
    exc = stream_error(500, "Internal server error", "InternalServerError")
    info = describe_error(exc, model="m", partial=True)
    assert info.kind == "midstream_error"
    assert info.message.startswith("The model failed mid-answer: Internal server error.")
    assert "partial answer was kept" in info.message
    # Output arrived (reasoning only, nothing visible): still mid-answer, nothing kept to show.
    quiet = describe_error(exc, model="m", partial=False, output=True)
    assert quiet.kind == "midstream_error" and "kept" not in quiet.message


@pytest.mark.parametrize(("kind", "words"), [("server_abort", "paused"), ("repetition", "repeat")])
def test_server_endings_say_why_and_what_was_kept(kind, words):
    kept = server_ending(kind, partial=True)
    assert kept.kind == kind and words in kept.message and "What arrived is kept" in kept.message
    assert "kept" not in server_ending(kind, partial=False).message
