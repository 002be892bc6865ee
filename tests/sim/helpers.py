"""Constants and helpers shared by the simulator tests."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import httpx2
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


def sse_events(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, list[tuple[float, str]]]:
    """POST `body` and read the raw SSE body line by line: the status and, per `data:` line,
    (time.perf_counter() when it was read, the text after "data: "); for an HTTP error, its
    body as the one event."""
    events: list[tuple[float, str]] = []
    with httpx2.stream(
        "POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=timeout
    ) as response:
        if response.status_code != 200:  # an HTTP error: its JSON body
            return response.status_code, [(time.perf_counter(), response.read().decode())]
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: "), line
                events.append((time.perf_counter(), line.removeprefix("data: ")))
        return response.status_code, events


def payloads(events: list[tuple[float, str]]) -> list[dict[str, Any]]:
    """The JSON payloads of `events`, checking that [DONE] comes last and once."""
    assert events[-1][1] == "[DONE]" and all(text != "[DONE]" for _, text in events[:-1])
    return [json.loads(text) for _, text in events[:-1]]


def compact(payload: Any) -> str:
    """`payload` serialised the way vLLM (pydantic) writes it: compact, non-ASCII kept."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def is_output(choice: dict[str, Any]) -> bool:
    """vllm bench's `_choice_has_streamed_output`."""
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return False
    if delta.get("content") or delta.get("reasoning") or delta.get("tool_calls"):
        return True
    return delta.get("content") == "" and "role" not in delta


def bench_timings(
    start: float, events: list[tuple[float, str]], completion_tokens: int
) -> dict[str, Any]:
    """TTFT, E2EL, TPOT (s) and the ITLs by vllm bench's rule, from timed SSE events."""
    times = [
        t
        for t, text in events
        if text != "[DONE]" and any(is_output(c) for c in json.loads(text).get("choices", []))
    ]
    ttft, e2el = times[0] - start, times[-1] - start
    return {
        "ttft": ttft,
        "e2el": e2el,
        "tpot": (e2el - ttft) / (completion_tokens - 1),
        "itl": [b - a for a, b in itertools.pairwise(times)],
    }


def record(url: str, response_id: str) -> dict[str, Any]:
    """The simulator's record of one answer (GET /sim/responses?id=…)."""
    found = httpx2.get(f"{url}/sim/responses", params={"id": response_id})
    assert found.status_code == 200, found.text
    return found.json()
