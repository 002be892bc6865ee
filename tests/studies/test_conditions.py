"""Which served model a condition names, and what its turn sends (sampling, prompt)."""

from __future__ import annotations

from aeries.llm import ModelInfo, Sampling
from aeries.studies.conditions import _sampling, condition_model
from aeries.studies.spec import Condition

A = ModelInfo("http://gpu-a:8000/v1", "llama", 8192)
B = ModelInfo("http://gpu-b:8000/v1/", "llama", 8192)
Q = ModelInfo("http://gpu-b:8000/v1", "qwen", 32768)


def test_a_condition_without_a_model_takes_the_first_served() -> None:
    assert condition_model([Q, A], Condition("x")) is Q


def test_a_named_model_is_found_on_the_named_endpoint_only() -> None:
    assert condition_model([A, B, Q], Condition("x", model="llama")) is A
    on_b = Condition("x", model="llama", endpoint="http://gpu-b:8000/v1")
    assert condition_model([A, B, Q], on_b) is B  # a trailing slash does not matter
    assert condition_model([A, Q], on_b) is None  # llama is not served there


def test_a_model_nobody_serves_gives_none() -> None:
    assert condition_model([A, Q], Condition("x", model="mistral")) is None
    assert condition_model([], Condition("x")) is None


def test_the_condition_overrides_only_what_it_sets() -> None:
    base = Sampling(temperature=0.7, top_p=0.9, max_tokens=512, thinking=True)
    changed = _sampling(Condition("x", temperature=0.0, thinking=False), base)
    assert changed == Sampling(temperature=0.0, top_p=0.9, max_tokens=512, thinking=False)
    assert _sampling(Condition("x"), base) == base
