"""Structured-output side of the simulator: JSON values that satisfy (or break) a JSON Schema.

Covers what chat apps send: object/properties/required, string/number/integer/boolean/array/null,
enum/const, minimum/maximum (also exclusive), minItems/maxItems, minLength/maxLength, items,
nested objects, local $ref into $defs, allOf (merged), anyOf/oneOf and type lists (first choice).
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from aeries.sim.text import generate_pieces

_MAX_DEPTH = 8
_FORMATS = {
    "date": "2024-05-17",
    "date-time": "2024-05-17T12:00:00Z",
    "time": "12:00:00",
    "email": "someone@example.org",
    "uri": "https://example.org/item",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
}


def resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow local $ref pointers, merge allOf and pick the first anyOf/oneOf branch."""
    for _ in range(_MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        if isinstance(schema.get("$ref"), str):
            schema = _pointer(root, schema["$ref"])
        elif schema.get("allOf"):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged.update(resolve(part, root))
            schema = merged
        elif schema.get("anyOf") or schema.get("oneOf"):
            schema = _first_branch(schema.get("anyOf") or schema["oneOf"], root)
        else:
            return schema
    return schema if isinstance(schema, dict) else {}


def _pointer(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node


def _first_branch(branches: list[Any], root: dict[str, Any]) -> Any:
    """The first branch that is not plain null (real models rarely answer null)."""
    for branch in branches:
        if resolve(branch, root).get("type") != "null":
            return branch
    return branches[0]


def schema_type(schema: dict[str, Any]) -> str:
    """The JSON type a schema asks for (the first non-null one of a type list)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind:
        return str(kind)
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def generate(
    schema: Any, rng: random.Random, root: dict[str, Any] | None = None, depth: int = 0
) -> Any:
    """A value valid for `schema`, chosen by `rng`."""
    root = schema if root is None else root
    node = resolve(schema, root)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return rng.choice(node["enum"])
    kind = schema_type(node)
    if kind == "object":
        return _object(node, rng, root, depth)
    if kind == "array":
        return _array(node, rng, root, depth)
    if kind in ("number", "integer"):
        return _number(node, rng, integer=kind == "integer")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(node, rng)


def _object(
    node: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int
) -> dict[str, Any]:
    required = set(node.get("required") or [])
    out: dict[str, Any] = {}
    for name, sub in (node.get("properties") or {}).items():
        if name in required or (depth < _MAX_DEPTH and rng.random() < 0.7):
            out[name] = generate(sub, rng, root, depth + 1)
    return out


def _array(node: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> list[Any]:
    low = int(node.get("minItems", 0 if depth >= _MAX_DEPTH else 1))
    high = int(node.get("maxItems", max(low, 3)))
    count = rng.randint(low, max(low, high))
    items = node.get("items") or {"type": "string"}
    enum = resolve(items, root).get("enum")
    if node.get("uniqueItems") and enum:
        return rng.sample(list(enum), min(count, len(enum)))
    return [generate(items, rng, root, depth + 1) for _ in range(count)]


def _bounds(node: dict[str, Any], integer: bool) -> tuple[float, float]:
    step = 1 if integer else 0.01
    low = node.get("minimum")
    high = node.get("maximum")
    if isinstance(node.get("exclusiveMinimum"), int | float):
        low = node["exclusiveMinimum"] + step
    if isinstance(node.get("exclusiveMaximum"), int | float):
        high = node["exclusiveMaximum"] - step
    if low is None:
        return (0.0, 100.0) if high is None else (float(high) - 100.0, float(high))
    if high is None:
        return float(low), float(low) + 100.0
    return float(low), float(high)


def _number(node: dict[str, Any], rng: random.Random, integer: bool) -> int | float:
    low, high = _bounds(node, integer)
    if integer:
        return rng.randint(math.ceil(low), max(math.ceil(low), math.floor(high)))
    value = round(rng.uniform(low, high), 2)
    return min(max(value, low), high)


def _string(node: dict[str, Any], rng: random.Random) -> str:
    if node.get("format") in _FORMATS:
        return _FORMATS[node["format"]]
    text = "".join(generate_pieces(rng, rng.randint(3, 8), markdown=False)).strip()
    low = int(node.get("minLength", 0))
    high = int(node.get("maxLength", max(low, 200)))
    while len(text) < low:
        text += " more"
    return text[:high]


def violate(schema: Any, value: Any, root: dict[str, Any] | None = None) -> Any:
    """`value` (valid for `schema`) changed so that it is no longer valid, still as JSON."""
    root = schema if root is None else root
    node = resolve(schema, root)
    if not isinstance(value, dict):
        return {"unexpected": value} if schema_type(node) != "object" else [value]
    broken = dict(value)
    changed = False
    required = node.get("required") or []
    if required and required[0] in broken:
        del broken[required[0]]
        changed = True
    for name, sub in (node.get("properties") or {}).items():
        if name in broken and _break_field(resolve(sub, root), broken, name):
            changed = True
            break
    return broken if changed else [broken]


def _break_field(node: dict[str, Any], target: dict[str, Any], name: str) -> bool:
    """Push one field out of its allowed range or enum; False when it has neither."""
    if "maximum" in node or "exclusiveMaximum" in node:
        target[name] = (node["maximum"] if "maximum" in node else node["exclusiveMaximum"]) + 1
    elif "minimum" in node or "exclusiveMinimum" in node:
        target[name] = (node["minimum"] if "minimum" in node else node["exclusiveMinimum"]) - 1
    elif node.get("enum"):
        target[name] = "not-a-listed-option"
    else:
        return False
    return True


def dumps(value: Any) -> str:
    """JSON the way a model writes it: one line, spaces after separators."""
    return json.dumps(value, ensure_ascii=False)


def truncated_json(text: str) -> str:
    """A prefix of `text` that does not parse (a response cut off mid-value)."""
    cut = text[: max(1, len(text) * 3 // 5)]
    while True:
        try:
            json.loads(cut)
        except ValueError:
            return cut
        cut = cut + "," if not cut.endswith(",") else "{" + cut
