"""What the observer asks the model for, and strict validation of what comes back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

EXTRACTOR = "observer"
VERSION = "1"

ASPECTS: dict[str, list[str]] = {
    "verbosity": ["none", "concise", "detailed"],
    "format": ["none", "prose", "bullets", "tables", "code", "step_by_step"],
    "tone": ["none", "casual", "formal", "friendly", "direct"],
    "expertise": ["none", "beginner", "intermediate", "expert"],
}
INTENTS = ["question", "task", "chitchat", "feedback", "other"]

# Flat on purpose: small models follow flat schemas far more reliably than nested ones.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
        "satisfaction": {"type": "number", "minimum": 0, "maximum": 1},
        "topics": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        **{f"pref_{a}": {"type": "string", "enum": values} for a, values in ASPECTS.items()},
        "corrected": {"type": "boolean"},
        "correction": {"type": "string"},
        "intent": {"type": "string", "enum": INTENTS},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": [
        "sentiment",
        "satisfaction",
        "topics",
        *[f"pref_{a}" for a in ASPECTS],
        "corrected",
        "correction",
        "intent",
        "confidence",
    ],
    "additionalProperties": False,
}

SYSTEM_PROMPT = """You observe a conversation between a user and an AI assistant, to learn how \
to serve this user better. You get the assistant's previous answer (may be empty), the user's \
latest message, and the assistant's reply to it. Return JSON only, following the schema:
- sentiment: the user's tone in their latest message, -1 (negative) to 1 (positive).
- satisfaction: how satisfied the user seems with the PREVIOUS answer, 0 to 1 (0.5 if unknown).
- topics: up to 3 short topic labels (1-3 words, lower case) of the user's message.
- pref_verbosity, pref_format, pref_tone, pref_expertise: a preference the user STATED or \
clearly showed about how answers should be; "none" when they did not.
- corrected: whether the user corrected a mistake of the assistant; correction: what the \
correct fact or instruction is, in one short sentence ("" if none).
- intent: what the user wants. confidence: your confidence in this whole reading, 0 to 1."""

PROMPT_HASH = hashlib.sha256(
    (SYSTEM_PROMPT + json.dumps(SCHEMA, sort_keys=True)).encode()
).hexdigest()[:16]

RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "observation", "schema": SCHEMA}}

_REFUSALS = ("i'm sorry", "i am sorry", "i can't", "i cannot", "as an ai")


class ObservationError(ValueError):
    """The observer's answer could not be used; ``reason`` is a short machine-readable kind."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Observation:
    """A validated observation."""

    sentiment: float
    satisfaction: float
    topics: list[str]
    preferences: dict[str, str]
    corrected: bool
    correction: str
    intent: str
    confidence: float
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ObservationError("schema", f"{key} is not a number")
    if not low <= value <= high:
        raise ObservationError("schema", f"{key}={value} outside [{low}, {high}]")
    return float(value)


def _choice(data: dict[str, Any], key: str, allowed: list[str]) -> str:
    value = data[key]
    if value not in allowed:
        raise ObservationError("schema", f"{key}={value!r} not one of {allowed}")
    return str(value)


def parse_observation(text: str) -> Observation:
    """Validate the model's answer against SCHEMA; ObservationError says what was wrong."""
    stripped = text.strip()
    if not stripped:
        raise ObservationError("empty", "the observer returned no text")
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if stripped.lower().startswith(_REFUSALS):
            raise ObservationError("refusal", stripped[:200]) from None
        raise ObservationError("invalid_json", f"{exc.msg} at {exc.pos}") from None
    if not isinstance(data, dict):
        raise ObservationError("schema", "the answer is not a JSON object")
    missing = [k for k in SCHEMA["required"] if k not in data]
    if missing:
        raise ObservationError("schema", f"missing {', '.join(missing)}")
    topics = data["topics"]
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ObservationError("schema", "topics is not a list of strings")
    if not isinstance(data["corrected"], bool) or not isinstance(data["correction"], str):
        raise ObservationError("schema", "corrected/correction have the wrong type")
    prefs = {a: _choice(data, f"pref_{a}", values) for a, values in ASPECTS.items()}
    return Observation(
        sentiment=_number(data, "sentiment", -1, 1),
        satisfaction=_number(data, "satisfaction", 0, 1),
        topics=[" ".join(t.lower().split())[:60] for t in topics[:3] if t.strip()],
        preferences={a: v for a, v in prefs.items() if v != "none"},
        corrected=data["corrected"],
        correction=" ".join(data["correction"].split())[:300],
        intent=_choice(data, "intent", INTENTS),
        confidence=_number(data, "confidence", 0, 1),
        raw=data,
    )


def observer_messages(previous_answer: str | None, user_text: str, answer: str) -> list[dict]:
    """The observer's request: the instructions, then the exchange as JSON (truncated)."""
    payload = {
        "previous_answer": (previous_answer or "")[:2000],
        "user_message": user_text[:4000],
        "assistant_reply": answer[:2000],
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]
