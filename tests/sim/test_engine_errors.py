"""Errors after the 200, as vLLM 0.33 streams them: before any output (no role chunk) and
mid-answer (finish_reason "error"), each one event then [DONE], nothing after."""

from __future__ import annotations

import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MSGS, chat, compact, payloads, record, sse_events

EARLY = {
    "grammar_error": (
        400,
        "The provided JSON schema contains features not supported by xgrammar.",
        "BadRequestError",
        "BadRequestError",
    ),
    "engine_error": (500, "", "InternalServerError", "InternalServerError"),
    "engine_paused": (
        503,
        "Generation is paused. Please retry after it resumes.",
        "InternalServerError",
        "ServiceUnavailableError",
    ),
    "engine_dead": (
        500,
        "The server had an error while processing your request.",
        "InternalServerError",
        "InternalServerError",
    ),
}
SLOW = {"ttft_ms": 300}


def _error(code: int, message: str, kind: str) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


@pytest.mark.parametrize("fault", sorted(EARLY))
def test_error_before_any_output_is_one_event_then_done(live: SimServer, fault: str) -> None:
    code, message, kind, _ = EARLY[fault]
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "sim": {"fault": fault, **SLOW}}
    body["stream_options"] = {"include_usage": True}
    status, events = sse_events(live.url, body)
    assert status == 200
    assert [text for _, text in events] == [compact(_error(code, message, kind)), "[DONE]"]
    sent = record(live.url, live.stats.responses[-1].id)
    assert sent["events"][0]["t"] - sent["arrival"] < 0.1  # at once: nothing was generated
    assert live.wait_for(lambda s: s.errors == 1 and s.running == 0 and s.completed == 0)


@pytest.mark.parametrize("fault", sorted(EARLY))
def test_openai_client_raises_with_the_code_and_no_chunk(client: openai.OpenAI, fault: str) -> None:
    code, message, kind, _ = EARLY[fault]
    received = []
    with pytest.raises(openai.APIError) as error:
        for chunk in chat(client, stream=True, extra_body={"sim": {"fault": fault}}):
            received.append(chunk)
    assert received == [] and not isinstance(error.value, openai.APIStatusError)
    assert error.value.body == _error(code, message, kind)["error"]
    assert error.value.message == (message or "An error occurred during streaming")


@pytest.mark.parametrize("fault", sorted(EARLY))
def test_non_streaming_gets_the_http_error(client: openai.OpenAI, fault: str) -> None:
    code, message, _, kind = EARLY[fault]
    with pytest.raises(openai.APIStatusError) as error:
        chat(client, extra_body={"sim": {"fault": fault}})
    assert error.value.status_code == code
    assert error.value.body == _error(code, message, kind)["error"]


@pytest.mark.parametrize("after", [0, 3])
def test_midstream_error_comes_after_the_role_chunk_and_ends_the_stream(
    live: SimServer, after: int
) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True}
    body |= {"stream_options": {"include_usage": True}, "sim": {"fault": "midstream_error"}}
    body["sim"]["fault_after"] = after
    status, events = sse_events(live.url, body)
    assert status == 200 and events[-1][1] == "[DONE]"
    role, *content = payloads(events[:-2] + events[-1:])
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(content) == after and all(c["choices"][0]["finish_reason"] is None for c in content)
    error = _error(500, "Internal server error", "InternalServerError")
    assert events[-2][1] == compact(error)  # no finish chunk, no usage chunk
    assert live.wait_for(lambda s: s.errors == 1 and s.running == 0)


def test_midstream_error_non_streaming_is_500(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as error:
        chat(client, extra_body={"sim": {"fault": "midstream_error"}})
    assert error.value.body == _error(500, "Internal server error", "InternalServerError")["error"]


def test_server_error_is_the_dead_engine_preflight(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as error:
        chat(client, stream=True, extra_body={"sim": {"fault": "server_error"}})
    assert error.value.body == _error(*EARLY["engine_dead"][:3])["error"]
