"""What the simulator serves and how it behaves: models, server-wide config, per-request knobs.

`SimConfig` is read at each request, so a change (in code or through `POST /sim/config`) applies
to the next one; a request's `sim` dict overrides it for that request only (`knobs_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAULTS = frozenset(
    {
        "context_length",
        "unknown_model",
        "midstream_error",
        "stall",
        "drop",
        "server_error",
        "health_503",
        "invalid_json",
        "schema_violation",
        "refusal",
    }
)
CUT_FAULTS = frozenset({"midstream_error", "stall", "drop"})  # faults that end a started answer
ADMIN_FIELDS = (
    "ttft_ms", "itl_ms", "tokens", "reasoning_tokens", "seed",
    "fault", "fault_after", "reply", "health_ok",
)  # fmt: skip
KNOB_FIELDS = ("ttft_ms", "itl_ms", "tokens", "reasoning_tokens", "fault", "fault_after", "reply")
REASONING_MARKERS = ("qwen3", "-r1", "think")


@dataclass
class SimModel:
    """One served model."""

    id: str
    max_model_len: int = 8192
    reasoning: bool = False  # emits reasoning deltas while thinking is on (Qwen3-style)
    ttft_scale: float = 1.0  # per-model latency multipliers, so models differ in the demo
    itl_scale: float = 1.0


def default_models() -> list[SimModel]:
    return [
        SimModel("sim-llama-3.1-8b"),
        SimModel("sim-qwen3-8b", reasoning=True),
        SimModel("sim-mistral-7b", max_model_len=4096, ttft_scale=1.6, itl_scale=1.3),
    ]


def is_reasoning_id(model_id: str) -> bool:
    """Whether a model id names a reasoning model (contains 'qwen3', '-r1' or 'think')."""
    lowered = model_id.lower()
    return any(marker in lowered for marker in REASONING_MARKERS)


@dataclass
class SimConfig:
    """Server-wide behaviour; the server reads it at each request, so changes apply to the next."""

    models: list[SimModel] = field(default_factory=default_models)
    ttft_ms: float = 150.0
    itl_ms: float = 20.0
    tokens: int = 200  # content tokens when max_tokens is not given; reasoning tokens come extra
    reasoning_tokens: int = 40
    seed: int = 0
    fault: str | None = None  # applied to every chat request; see FAULTS
    fault_after: int = 5  # content tokens sent before a mid-stream fault
    reply: str | None = None  # exact content answer (tokenised into pieces), for e2e tests
    health_ok: bool = True


@dataclass
class Knobs:
    """Behaviour of one request: the server config, overridden by the body's `sim` dict."""

    ttft_ms: float
    itl_ms: float
    tokens: int
    reasoning_tokens: int
    fault: str | None
    fault_after: int
    reply: str | None


_KNOB_TYPES: dict[str, type[float] | type[int]] = {
    "ttft_ms": float,
    "itl_ms": float,
    "tokens": int,
    "reasoning_tokens": int,
    "fault_after": int,
}


def knobs_for(config: SimConfig, overrides: Any) -> Knobs:
    """Config values overridden by a request's `sim` dict; ValueError/TypeError if malformed."""
    values = {name: getattr(config, name) for name in KNOB_FIELDS}
    if isinstance(overrides, dict):
        values.update({k: v for k, v in overrides.items() if k in KNOB_FIELDS})
    for name, cast in _KNOB_TYPES.items():
        values[name] = cast(values[name])
    if values["reply"] is not None:
        values["reply"] = str(values["reply"])
    return Knobs(**values)
