"""Constants and helpers shared by the simulator tests."""

from __future__ import annotations

import re
from typing import Any

import openai

LLAMA, QWEN, MISTRAL = "sim-llama-3.1-8b", "sim-qwen3-8b", "sim-mistral-7b"
MSGS = [{"role": "user", "content": "Summarise the main results of the sleep study."}]
FAST = {"ttft_ms": 20.0, "itl_ms": 2.0, "tokens": 20}
SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "sarcastic": {"type": "boolean"},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "author": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
            "required": ["name"],
        },
    },
    "required": ["sentiment", "score", "stars", "author"],
}
JSON_SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "review", "schema": SCHEMA}}


def chat(client: openai.OpenAI, model: str = LLAMA, messages=MSGS, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=messages, **kwargs)


def stream_chunks(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    return list(chat(client, stream=True, **kwargs))


def content_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def violations(schema: dict, value: Any, path: str = "$") -> list[str]:
    """A tiny JSON Schema check: type, enum, required, properties, items, ranges, sizes."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if kinds and not any(checks[k](value) for k in kinds):
        return [f"{path}: {value!r} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in enum"]
    errors = []
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        errors.append(f"{path}: {value} out of range")
    if isinstance(value, dict):
        errors += [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += violations(sub, value[key], f"{path}.{key}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items")
        for i, item in enumerate(value):
            errors += violations(schema.get("items", {}), item, f"{path}[{i}]")
    return errors


def metric(text: str, name: str, model: str = LLAMA, extra: str = "") -> float:
    """The value of one sample in a Prometheus exposition."""
    labels = rf'model_name="{re.escape(model)}"[^}}]*{re.escape(extra)}[^}}]*'
    pattern = rf"^{re.escape(name)}\{{{labels}\}} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} for {model} not exposed"
    return float(match.group(1))
