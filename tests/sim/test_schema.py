"""Structured output: JSON that satisfies (or, on request, breaks) the schema."""

from __future__ import annotations

import json
import re

import openai
import pytest

from aeries.sim import schema as sim_schema
from aeries.sim.text import REFUSAL, rng_for
from tests.sim.helpers import (
    JSON_SCHEMA_FORMAT,
    SCHEMA,
    chat,
    content_of,
    stream_chunks,
    violations,
)


def test_json_schema_output_is_valid_and_streamed_in_pieces(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, response_format=JSON_SCHEMA_FORMAT)
    pieces = [c.choices[0].delta.content for c in chunks[1:-1]]  # between role and EOS
    assert all(0 < len(p) <= 4 for p in pieces) and len(pieces) > 5
    value = json.loads("".join(pieces))
    assert violations(SCHEMA, value) == []
    again = chat(client, response_format=JSON_SCHEMA_FORMAT).choices[0].message.content
    assert json.loads(again) == value


def test_schema_generator_covers_refs_and_variants() -> None:
    schema = {
        "$defs": {
            "Tag": {
                "type": "object",
                "properties": {"label": {"const": "x"}},
                "required": ["label"],
            }
        },
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 2},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "exclusiveMinimum": 3}]},
            "when": {"type": "string", "format": "date"},
        },
        "required": ["tags", "maybe", "when"],
    }
    for seed in range(20):
        value = sim_schema.generate(schema, rng_for(seed))
        assert len(value["tags"]) >= 2 and value["tags"][0] == {"label": "x"}
        assert isinstance(value["maybe"], int) and value["maybe"] > 3
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", value["when"])


def test_json_object_and_guided_json(client: openai.OpenAI) -> None:
    obj = chat(client, response_format={"type": "json_object"}).choices[0].message.content
    assert isinstance(json.loads(obj), dict)
    ignored = chat(client, extra_body={"guided_json": SCHEMA})
    with pytest.raises(ValueError):
        json.loads(ignored.choices[0].message.content)  # vLLM 0.33 ignores guided_json


def test_invalid_json_and_schema_violation_faults(client: openai.OpenAI) -> None:
    broken = chat(
        client, response_format=JSON_SCHEMA_FORMAT, extra_body={"sim": {"fault": "invalid_json"}}
    )
    with pytest.raises(ValueError):
        json.loads(broken.choices[0].message.content)
    wrong = chat(
        client,
        response_format=JSON_SCHEMA_FORMAT,
        extra_body={"sim": {"fault": "schema_violation"}},
    )
    problems = violations(SCHEMA, json.loads(wrong.choices[0].message.content))
    assert "$.sentiment: missing" in problems
    assert any("out of range" in p for p in problems)


def test_refusal_is_plain_text_even_for_structured_output(client: openai.OpenAI) -> None:
    sim = {"sim": {"fault": "refusal"}}
    assert chat(client, extra_body=sim).choices[0].message.content == REFUSAL
    chunks = stream_chunks(client, response_format=JSON_SCHEMA_FORMAT, extra_body=sim)
    assert content_of(chunks) == REFUSAL
