"""Answers the server ends itself: finish_reason "abort" and "repetition", as vLLM 0.33 sends
them."""

from __future__ import annotations

import httpx2
import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MSGS, QWEN, chat, metric, payloads, record, sse_events


def _stream(live: SimServer, model: str = LLAMA, **sim: object) -> list[dict]:
    body = {"model": model, "messages": MSGS, "stream": True, "sim": {"itl_ms": 20, **sim}}
    body["stream_options"] = {"include_usage": True}
    status, events = sse_events(live.url, body)
    assert status == 200
    return payloads(events)


def test_abort_after_some_tokens_sends_empty_content(live: SimServer) -> None:
    role, *content, aborted, usage = _stream(live, fault="server_abort", fault_after=3)
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"]["content"] != "" for c in content] == [True] * 3
    assert aborted["choices"][0] == {
        "index": 0,
        "delta": {"content": ""},
        "logprobs": None,
        "finish_reason": "abort",
        "stop_reason": None,
        "token_ids": None,
        "weight_versions": None,
    }
    assert usage["usage"]["completion_tokens"] == 3  # the abort carries no token
    times = [e["t"] for e in record(live.url, role["id"])["events"]]
    assert 0.015 < times[4] - times[3] < 0.04  # the slot after the last token
    assert live.wait_for(lambda s: s.completed == 1 and s.running == 0)


def test_abort_before_any_token_sends_an_empty_delta(live: SimServer) -> None:
    role, aborted, usage = _stream(live, fault="server_abort", fault_after=0)
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert (
        aborted["choices"][0]["delta"] == {} and aborted["choices"][0]["finish_reason"] == "abort"
    )
    assert usage["usage"]["completion_tokens"] == 0


def test_abort_after_reasoning_with_the_parser(live: SimServer) -> None:
    *_, aborted, usage = _stream(live, QWEN, fault="server_abort", fault_after=2)
    assert aborted["choices"][0]["delta"] == {"content": ""}
    assert usage["usage"]["completion_tokens"] == 1 + 42 + 1 + 2
    assert usage["usage"]["completion_tokens_details"] == {"reasoning_tokens": 42}


def test_abort_non_streaming_keeps_the_partial_answer(client: openai.OpenAI) -> None:
    answer = chat(client, extra_body={"sim": {"fault": "server_abort", "fault_after": 4}})
    assert answer.choices[0].finish_reason == "abort" and answer.usage.completion_tokens == 4
    whole = chat(client).choices[0].message.content
    assert whole.startswith(answer.choices[0].message.content)


def test_repetition_fault_ends_on_real_text(live: SimServer, client: openai.OpenAI) -> None:
    *content, last, usage = _stream(live, fault="repetition", fault_after=6)
    assert last["choices"][0]["delta"]["content"]
    assert last["choices"][0]["finish_reason"] == "repetition"
    assert last["choices"][0]["stop_reason"] == "repetition_detected"
    assert usage["usage"]["completion_tokens"] == 6 == len(content)  # role + 5, then this one
    answer = chat(client, extra_body={"sim": {"fault": "repetition", "fault_after": 6}})
    assert answer.choices[0].finish_reason == "repetition"
    assert answer.choices[0].model_extra["stop_reason"] == "repetition_detected"


def test_repetition_detection_field_stops_a_repeating_answer(client: openai.OpenAI) -> None:
    reply = {"sim": {"reply": "la la la la la la la la. Done"}}
    detect = {"max_pattern_size": 2, "min_count": 3}
    answer = chat(client, extra_body=reply | {"repetition_detection": detect})
    assert answer.choices[0].message.content == "la la la la"  # " la" three times in a row
    assert answer.choices[0].finish_reason == "repetition"
    assert answer.usage.completion_tokens == 4
    plain = chat(client, extra_body=reply)  # vLLM only detects when the request asks
    assert plain.choices[0].finish_reason == "stop"
    assert plain.choices[0].message.content == "la la la la la la la la. Done"


@pytest.mark.parametrize(
    ("detect", "message"),
    [
        (
            {"max_pattern_size": 2, "min_count": 1},
            "min_count must be >= 2 to detect repetitive patterns in engine output. If you do "
            "not wish to detect repetitive patterns, set max_pattern_size to 0.",
        ),
        (
            {"max_pattern_size": 1, "min_pattern_size": 3, "min_count": 2},
            "max_pattern_size, min_pattern_size must be >=0, with min_pattern_size <= "
            "max_pattern_size. Set both to 0 to disable repetitive pattern detection.",
        ),
    ],
)
def test_invalid_repetition_detection_is_400(
    client: openai.OpenAI, detect: dict, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, extra_body={"repetition_detection": detect})
    assert error.value.body == {
        "message": message,
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


def test_metrics_count_abort_and_repetition(live: SimServer, client: openai.OpenAI) -> None:
    before = httpx2.get(f"{live.url}/metrics").text
    chat(client, extra_body={"sim": {"fault": "server_abort"}})
    chat(client, extra_body={"sim": {"fault": "repetition"}})
    after = httpx2.get(f"{live.url}/metrics").text
    for reason in ("abort", "repetition"):
        label = f'finished_reason="{reason}"'
        rise = metric(after, "vllm:request_success_total", extra=label)
        assert rise - metric(before, "vllm:request_success_total", extra=label) == 1
