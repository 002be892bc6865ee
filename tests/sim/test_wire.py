"""Small wire details copied from vLLM 0.33: ids, the full non-streaming body, validation
messages with their suffix, pydantic's "Bad Request", the served aliases."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MSGS, QWEN, chat, payloads, sse_events


def _post(live: SimServer, **body: Any) -> httpx2.Response:
    return httpx2.post(f"{live.base_url}/chat/completions", json={"messages": MSGS, **body})


def test_non_streaming_body_has_every_key_and_no_tool_calls(live: SimServer) -> None:
    body = _post(live, model=LLAMA, max_tokens=3).json()
    assert list(body) == [
        "id", "object", "created", "model", "choices", "service_tier", "system_fingerprint",
        "usage", "prompt_logprobs", "prompt_token_ids", "prompt_text", "kv_transfer_params",
        "ec_transfer_params", "metrics",
    ]  # fmt: skip
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{16}", body["id"])
    assert re.fullmatch(r"vllm-0\.33\.0-[0-9a-f]{8}", body["system_fingerprint"])
    assert body["metrics"] is None and body["kv_transfer_params"] is None
    choice = body["choices"][0]
    assert list(choice) == [
        "index", "message", "logprobs", "finish_reason", "stop_reason", "token_ids",
        "routed_experts", "weight_versions",
    ]  # fmt: skip
    assert list(choice["message"]) == [
        "role", "content", "refusal", "annotations", "audio", "function_call", "reasoning",
    ]  # fmt: skip
    assert body["usage"] == {
        "prompt_tokens": body["usage"]["prompt_tokens"],
        "total_tokens": body["usage"]["prompt_tokens"] + 3,
        "completion_tokens": 3,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    thought = _post(live, model=QWEN).json()["usage"]["completion_tokens_details"]
    assert thought == {"reasoning_tokens": 42}  # with a reasoning parser


def test_request_ids_follow_the_header_then_the_body(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "max_tokens": 2}
    first = payloads(sse_events(live.url, body, headers={"X-Request-Id": "abc-1"})[1])[0]
    assert first["id"] == "chatcmpl-abc-1"
    assert _post(live, request_id="r42", max_tokens=1).json()["id"] == "chatcmpl-r42"
    cards = httpx2.get(f"{live.base_url}/models").json()["data"]
    assert all(re.fullmatch(r"modelperm-[0-9a-f]{16}", c["permission"][0]["id"]) for c in cards)


@pytest.mark.parametrize(
    ("field", "value", "message", "param"),
    [
        ("temperature", 2.5, "temperature must be in [0, 2], got 2.5. "
         "(parameter=temperature, value=2.5)", "temperature"),
        ("temperature", 3, "temperature must be in [0, 2], got 3.0. "
         "(parameter=temperature, value=3.0)", "temperature"),
        ("temperature", -1, "temperature must be non-negative, got -1.0. "
         "(parameter=temperature, value=-1.0)", "temperature"),
        ("top_p", 1.5, "top_p must be in (0, 1], got 1.5. (parameter=top_p, value=1.5)", "top_p"),
        ("max_tokens", 0, "max_tokens must be at least 1, got 0. "
         "(parameter=max_tokens, value=0)", "max_tokens"),
        ("presence_penalty", 3, "presence_penalty must be in [-2, 2], got 3.0.", None),
    ],
)  # fmt: skip
def test_sampling_errors_carry_vllm_suffix(
    client: openai.OpenAI, field: str, value: float, message: str, param: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, **{field: value})
    assert error.value.body == {
        "message": message,
        "type": "BadRequestError",
        "param": param,
        "code": 400,
    }


def test_stream_options_need_stream(live: SimServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, stream_options={"include_usage": True})
    assert error.value.body == {
        "message": "Stream options can only be defined when `stream=True`. "
        "(parameter=stream_options)",
        "type": "BadRequestError",
        "param": "stream_options",
        "code": 400,
    }
    assert _post(live, model=LLAMA, stream_options={}, max_tokens=1).status_code == 200


def test_type_errors_are_pydantic_bad_requests(live: SimServer) -> None:
    answer = _post(live, model=LLAMA, temperature="abc")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "Bad Request" and error["param"] == "body.temperature"
    assert error["message"].startswith("1 validation error:\n  {'type': 'float_parsing', 'loc': ")
    assert _post(live, model=LLAMA, temperature="0.5", max_tokens=1).status_code == 200  # lax
    missing = httpx2.post(f"{live.base_url}/chat/completions", json={"model": LLAMA}).json()
    assert missing["error"]["param"] == "body.messages"
    assert "'type': 'missing'" in missing["error"]["message"]
    two = _post(live, model=LLAMA, temperature="x", stream_interval=0).json()["error"]
    assert two["message"].startswith("2 validation errors:\n")


def test_a_request_without_model_gets_the_first_served_model(live: SimServer) -> None:
    assert _post(live, max_tokens=1).json()["model"] == LLAMA


def test_continuous_usage_sets_its_details_even_to_null(live: SimServer) -> None:
    body = {"model": LLAMA, "messages": MSGS, "stream": True, "max_tokens": 2}
    body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
    role, token, last, final = payloads(sse_events(live.url, body)[1])
    prompt = final["usage"]["prompt_tokens"]
    assert list(role)[-3:] == ["usage", "prompt_token_ids", "prompt_text"]
    assert role["usage"] == {
        "prompt_tokens": prompt,
        "total_tokens": prompt,
        "completion_tokens": 0,
        "completion_tokens_details": None,
    }
    assert list(token)[-2:] == ["usage", "kv_transfer_params"]
    assert token["usage"]["completion_tokens"] == 1 and last["usage"]["completion_tokens"] == 2
    assert "completion_tokens_details" not in final["usage"]  # nulls dropped on the last one
