"""vLLM 0.33's length rule: reject only max_tokens > max_model_len or a prompt over it;
otherwise lower the budget silently and end the answer with "length"."""

from __future__ import annotations

import openai
import pytest

from aeries.sim import SimServer
from aeries.sim.text import count_prompt_tokens
from tests.sim.helpers import LLAMA, MISTRAL, MSGS, chat, payloads, sse_events

PROMPT = count_prompt_tokens(MSGS)  # 15


def _too_long(n: int) -> dict[str, object]:
    return {
        "message": f"This model's maximum context length is {n} tokens. However, your prompt "
        f"contains at least {n + 1} input tokens, which exceeds this limit even without any "
        f"output tokens. Please reduce the length of the input prompt. "
        f"(parameter=input_tokens, value={n + 1})",
        "type": "BadRequestError",
        "param": "input_tokens",
        "code": 400,
    }


def test_context_length_fault_sends_the_prompt_too_long_error(
    live: SimServer, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as fault:
        chat(client, extra_body={"sim": {"fault": "context_length"}})
    assert fault.value.status_code == 400 and fault.value.body == _too_long(8192)
    assert live.stats.errors == 1 and live.stats.running == 0


def test_a_prompt_over_the_context_reads_at_least_n_plus_one(client: openai.OpenAI) -> None:
    huge = [{"role": "user", "content": "word " * 5000}]  # 5006 tokens; the tokenizer stops at N+1
    with pytest.raises(openai.BadRequestError) as prompt:
        chat(client, model=MISTRAL, messages=huge, max_tokens=10)
    assert prompt.value.body == _too_long(4096)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_over_max_model_len_is_rejected(client: openai.OpenAI, field: str) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, model=MISTRAL, temperature=3, **{field: 5000})  # checked before temperature
    assert error.value.body == {
        "message": f"{field}=5000 cannot be greater than max_model_len=4096. Please request "
        f"fewer output tokens. (parameter={field}, value=5000)",
        "type": "BadRequestError",
        "param": field,
        "code": 400,
    }


def test_a_prompt_filling_the_context_fails_as_max_tokens_0(
    live: SimServer, client: openai.OpenAI
) -> None:
    live.config.models[2].max_model_len = PROMPT
    for extra in ({}, {"max_tokens": 10}):
        with pytest.raises(openai.BadRequestError) as error:
            chat(client, model=MISTRAL, **extra)
        assert error.value.body == {
            "message": "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)",
            "type": "BadRequestError",
            "param": "max_tokens",
            "code": 400,
        }


def test_over_the_context_the_budget_is_clamped_and_ends_length(
    live: SimServer, client: openai.OpenAI
) -> None:
    live.config.models[2].max_model_len = PROMPT + 25
    live.config.tokens = 100
    answer = chat(client, model=MISTRAL, max_tokens=40)  # 15 + 40 > 40: clamped to 25
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 25
    answer = chat(client, model=MISTRAL)  # no max_tokens: the rest of the context
    assert answer.choices[0].finish_reason == "length" and answer.usage.completion_tokens == 25
    body = {"model": MISTRAL, "messages": MSGS, "stream": True, "max_tokens": PROMPT + 25}
    body["stream_options"] = {"include_usage": True}  # max_tokens == max_model_len passes
    *chunks, usage = payloads(sse_events(live.url, body)[1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert usage["usage"]["completion_tokens"] == 25 == len(chunks) - 1
    assert chat(client, model=LLAMA, max_tokens=8192 - PROMPT).usage.completion_tokens == 101
