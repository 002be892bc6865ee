"""Errors and faults: vLLM's error bodies, mid-stream failures, drops, stalls, disconnects."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import MSGS, chat


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as error:
        chat(client, model="gpt-nope")
    assert error.value.body == {
        "message": "The model `gpt-nope` does not exist. "
        "Valid aliases: sim-llama-3.1-8b, sim-qwen3-8b, sim-mistral-7b.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }
    with pytest.raises(openai.NotFoundError):
        chat(client, extra_body={"sim": {"fault": "unknown_model"}})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": -0.5},
        {"temperature": 2.5},
        {"top_p": 1.5},
        {"top_p": 0},
        {"max_tokens": 0},
        {"extra_body": {"sim": {"fault": "no-such-fault"}}},
        {"extra_body": {"sim": {"tokens": "many"}}},
    ],
)
def test_invalid_requests_are_400(client: openai.OpenAI, kwargs: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, **{"messages": MSGS, **kwargs})
    assert error.value.body["type"] == "BadRequestError"


def test_server_error_is_500(live: SimServer, client: openai.OpenAI) -> None:
    live.config.fault = "server_error"
    with pytest.raises(openai.InternalServerError) as error:
        chat(client, stream=True)
    assert error.value.status_code == 500 and error.value.body["type"] == "InternalServerError"


def test_midstream_error_raises_while_iterating(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(
        client, stream=True, extra_body={"sim": {"fault": "midstream_error", "fault_after": 4}}
    )
    received = []
    with pytest.raises(openai.APIError) as error:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert not isinstance(error.value, openai.APIConnectionError)
    assert error.value.body["type"] == "InternalServerError"
    assert len([r for r in received if r]) == 4
    assert live.wait_for(lambda s: s.errors == 1 and s.running == 0)  # counted after [DONE]
    assert live.stats.completed == 0


def test_drop_raises_while_iterating(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(client, stream=True, extra_body={"sim": {"fault": "drop", "fault_after": 3}})
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert "".join(received)  # partial content arrived before the drop
    assert live.wait_for(lambda s: s.errors == 1 and s.running == 0)
    assert chat(client).choices[0].finish_reason == "stop"  # the server lives on


def test_stall_hits_client_read_timeout_and_counts_disconnect(live: SimServer) -> None:
    quick = openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=0.5)
    stream = chat(quick, stream=True, extra_body={"sim": {"fault": "stall", "fault_after": 2}})
    received = []
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        for chunk in stream:
            received.append(chunk)
    assert 0.45 < time.perf_counter() - started < 2
    assert len(received) == 3  # role chunk + 2 content chunks
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0)


def test_client_close_counts_as_disconnect(live: SimServer, client: openai.OpenAI) -> None:
    stream = chat(client, stream=True, extra_body={"sim": {"tokens": 500, "itl_ms": 10}})
    iterator = iter(stream)
    for _ in range(3):
        next(iterator)
    assert live.stats.running == 1
    stream.close()
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0, timeout=2)
    assert live.stats.completed == 0


def test_non_streaming_disconnect_is_counted(live: SimServer) -> None:
    quick = openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        chat(quick, extra_body={"sim": {"ttft_ms": 2000}})
    assert live.wait_for(lambda s: s.disconnects == 1 and s.running == 0)
