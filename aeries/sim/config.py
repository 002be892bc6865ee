"""What the simulator serves and how it behaves: models, server-wide config, per-request knobs.

`SimConfig` is read at each request, so a change (in code or through `POST /sim/config`) applies
to the next one; a request's `sim` dict overrides it for that request only (`knobs_for`).

Two topologies. `single_model=True` is one vLLM process: it serves `models[0]` only, under its
served names (aliases that share its `max_model_len`; responses name the first), and separates
reasoning only when that model's server runs a reasoning parser (`SimModel.reasoning_parser`,
vLLM's `--reasoning-parser`). The default (multi-model) is a convenience: every model of
`models` on one port, each behaving as if it had its own server with its own flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Faults, by where they strike:
# - before the 200: server_error (HTTP 500), unknown_model (404), context_length (400, the
#   prompt-too-long message);
# - after the 200, before any output (one error event, then [DONE], no role chunk):
#   grammar_error (400, xgrammar), engine_error (500, empty message), engine_paused (503),
#   engine_dead (500);
# - after `fault_after` content tokens: midstream_error (vLLM's finish_reason=error: 500
#   "Internal server error" after the role chunk), stall, drop, server_abort (finish_reason
#   "abort"), repetition (finish_reason "repetition");
# - elsewhere: health_503, invalid_json, schema_violation, refusal.
EARLY_ERROR_FAULTS = frozenset({"grammar_error", "engine_error", "engine_paused", "engine_dead"})
CUT_FAULTS = frozenset({"midstream_error", "stall", "drop", "server_abort"})  # end a started answer
FAULTS = frozenset(
    {
        "context_length",
        "unknown_model",
        "server_error",
        "health_503",
        "invalid_json",
        "schema_violation",
        "refusal",
        "repetition",
        *EARLY_ERROR_FAULTS,
        *CUT_FAULTS,
    }
)
REASONING_PARSERS = frozenset({"qwen3"})
ADMIN_FIELDS = (
    "ttft_ms", "itl_ms", "tokens", "reasoning_tokens", "seed",
    "fault", "fault_after", "reply", "health_ok",
    "stream_interval", "max_num_seqs", "per_request_metrics",
)  # fmt: skip
KNOB_FIELDS = ("ttft_ms", "itl_ms", "tokens", "reasoning_tokens", "fault", "fault_after", "reply")
REASONING_MARKERS = ("qwen3", "-r1", "think")


@dataclass
class SimModel:
    """One served model, and the server flags of the vLLM process serving it.

    `id` is the model (vLLM's `--model`, the `root` of its cards); `served_names` are its
    `--served-model-name` aliases (default: the id). `reasoning` says whether the model thinks
    (emits `<think>…</think>` before its answer); `reasoning_parser` is its server's
    `--reasoning-parser` ("qwen3" or None): only with one does the thinking arrive as
    `reasoning` deltas, without one it arrives inside `content`, tags included.
    """

    id: str
    max_model_len: int = 8192
    reasoning: bool = False
    ttft_scale: float = 1.0  # per-model latency multipliers, so models differ in the demo
    itl_scale: float = 1.0
    served_names: tuple[str, ...] = ()
    reasoning_parser: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The names a request may use for this model; responses carry the first."""
        return self.served_names or (self.id,)

    @property
    def name(self) -> str:
        return self.names[0]


def default_models() -> list[SimModel]:
    return [
        SimModel("sim-llama-3.1-8b"),
        SimModel("sim-qwen3-8b", reasoning=True, reasoning_parser="qwen3"),
        SimModel("sim-mistral-7b", max_model_len=4096, ttft_scale=1.6, itl_scale=1.3),
    ]


def is_reasoning_id(model_id: str) -> bool:
    """Whether a model id names a thinking model (contains 'qwen3', '-r1' or 'think')."""
    lowered = model_id.lower()
    return any(marker in lowered for marker in REASONING_MARKERS)


@dataclass
class SimConfig:
    """Server-wide behaviour; the server reads it at each request, so changes apply to the next."""

    models: list[SimModel] = field(default_factory=default_models)
    ttft_ms: float = 150.0  # prefill: from scheduling to the first token
    itl_ms: float = 20.0
    tokens: int = 200  # content tokens when max_tokens is not given; reasoning tokens come extra
    reasoning_tokens: int = 40
    seed: int = 0
    fault: str | None = None  # applied to every chat request; see FAULTS
    fault_after: int = 5  # content tokens sent before a mid-stream fault
    reply: str | None = None  # exact content answer (tokenised into pieces), for e2e tests
    health_ok: bool = True
    single_model: bool = False  # serve models[0] only, as one vLLM process does
    stream_interval: int = 1  # vLLM's --stream-interval: tokens per chunk (first one alone)
    max_num_seqs: int | None = None  # requests generating at once per model; others queue
    per_request_metrics: bool = False  # vLLM's --enable-per-request-metrics

    def served(self) -> list[SimModel]:
        """The models this server answers for."""
        return self.models[:1] if self.single_model else list(self.models)


def single_model_config(model: SimModel, **settings: Any) -> SimConfig:
    """A config serving `model` alone, the way one `vllm serve` process does."""
    return SimConfig(models=[model], single_model=True, **settings)


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
