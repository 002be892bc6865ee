"""A call to a model as data: what is sent (ChatRequest, Sampling), what streams back (Delta),
what the call produced however it ended (CallResult), and the hook told about its progress.

Pure data, no client: the store builds exchange rows from these without importing anything
that calls a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from aeries.ids import utcnow
from aeries.vocabulary import CallStatus

Status = CallStatus


class StreamHook(Protocol):
    """Told about a stream's progress on its reader thread (never the page's): used to keep an
    in-flight record of the answer. Must be quick and must not raise."""

    def prepare(self, result: CallResult) -> None:
        """The request is out and the first chunk not yet in: do slow set-up now."""

    def output(self, result: CallResult, now: float) -> None:
        """An output chunk arrived at perf_counter ``now``; ``result`` holds the text so far."""


@dataclass(frozen=True)
class StudyRef:
    """The study a call or signal was made in: its id, the frozen version's hash, the
    participant's condition (what the study columns of exchanges and signals hold)."""

    study_id: str
    config_hash: str
    condition: str

    def columns(self) -> dict[str, str]:
        return {
            "study_id": self.study_id,
            "study_hash": self.config_hash,
            "study_condition": self.condition,
        }


NO_STUDY: dict[str, None] = {"study_id": None, "study_hash": None, "study_condition": None}


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters sent with a request."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int | None = 1024
    thinking: bool = True

    def as_params(self) -> dict[str, Any]:
        """The JSON-able form stored in ``exchanges.params``."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "thinking": self.thinking,
        }


@dataclass
class ChatRequest:
    """One call to a model: where, which model, what to send."""

    endpoint: str
    model: str
    messages: list[dict[str, str]]
    sampling: Sampling = field(default_factory=Sampling)
    response_format: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None

    def body_extras(self) -> dict[str, Any]:
        """vLLM-specific fields (merged into the JSON body by the openai client)."""
        extras: dict[str, Any] = {
            "chat_template_kwargs": {"enable_thinking": bool(self.sampling.thinking)}
        }
        if self.extra_body:
            extras.update(self.extra_body)
        return extras


@dataclass(frozen=True)
class Delta:
    """A piece of streamed output."""

    kind: Literal["content", "reasoning"]
    text: str


# vLLM's per-request metrics (PerRequestMetrics, 0.33) -> ours. Its timestamps are the engine
# core's: queue = scheduled - queued; ttft = first token - scheduled (prefill, no queue).
SERVER_METRIC_FIELDS = {
    "queue_time_ms": "queue_ms",
    "time_to_first_token_ms": "ttft_ms",
    "generation_time_ms": "generation_ms",
    "mean_itl_ms": "mean_itl_ms",
    "tokens_per_second": "tokens_per_second",
}


@dataclass(frozen=True)
class ServerMetrics:
    """What the model server measured for one request; a value it did not send is None."""

    queue_ms: float | None = None
    ttft_ms: float | None = None
    generation_ms: float | None = None
    mean_itl_ms: float | None = None
    tokens_per_second: float | None = None

    @classmethod
    def from_wire(cls, data: object) -> ServerMetrics | None:
        """From the ``metrics`` object of a usage chunk; None when there is none."""
        if not isinstance(data, dict):
            return None
        values: dict[str, float] = {}
        for wire, ours in SERVER_METRIC_FIELDS.items():
            value = data.get(wire)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[ours] = float(value)
        return cls(**values)


@dataclass
class CallResult:
    """What one call produced, however it ended."""

    id: str
    status: Status = "aborted"
    content: str = ""
    reasoning: str = ""
    error: str | None = None
    error_kind: str | None = None
    error_detail: str | None = None
    finish_reason: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)
    chunk_count: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # What the server measured (vLLM's --enable-per-request-metrics): None when not sent.
    server: ServerMetrics | None = None

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token after the first, from usage tokens."""
        if self.ttft_ms is None or self.e2e_ms is None or not self.completion_tokens:
            return None
        if self.completion_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.completion_tokens - 1)

    def itl_stats(self) -> dict[str, float | None]:
        """Mean, median, p95 and max of the gaps between output chunks (ITL in vLLM's
        benchmark sense: per chunk, and one chunk can carry several tokens)."""
        gaps = sorted(self.itl_ms)
        if not gaps:
            return {"mean": None, "p50": None, "p95": None, "max": None}
        return {
            "mean": sum(gaps) / len(gaps),
            "p50": _quantile(gaps, 0.5),
            "p95": _quantile(gaps, 0.95),
            "max": gaps[-1],
        }


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of an ascending list (numpy's default method)."""
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)
