"""Prometheus metrics of the simulator, under vLLM's own names, labels and bucket bounds."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")


@dataclass
class Histogram:
    """Cumulative-bucket histogram in the Prometheus sense."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str) -> Iterable[str]:
        running = 0
        for bound, n in zip([*self.bounds, "+Inf"], self.counts, strict=True):
            running += n
            yield f'{name}_bucket{{{labels},le="{bound}"}} {float(running)}'
        yield f"{name}_count{{{labels}}} {float(self.count)}"
        yield f"{name}_sum{{{labels}}} {self.total}"


@dataclass
class _ModelMetrics:
    running: int = 0
    waiting: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0
    success: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ttft: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS))
    e2e: Histogram = field(default_factory=lambda: Histogram(E2E_BUCKETS))
    itl: Histogram = field(default_factory=lambda: Histogram(ITL_BUCKETS))


class SimMetrics:
    """Per-model counters, gauges and histograms; safe to update from the server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, _ModelMetrics] = defaultdict(_ModelMetrics)

    def started(self, model: str, prompt_tokens: int) -> None:
        """A request arrived: it waits until `scheduled`."""
        with self._lock:
            entry = self._models[model]
            entry.waiting += 1
            entry.prompt_tokens += prompt_tokens

    def scheduled(self, model: str) -> None:
        with self._lock:
            entry = self._models[model]
            entry.waiting -= 1
            entry.running += 1

    def finished(
        self,
        model: str,
        reason: str,
        generated: int,
        ttft: float | None,
        e2e: float,
        gaps: Sequence[float],
        scheduled: bool = True,
    ) -> None:
        with self._lock:
            entry = self._models[model]
            if scheduled:
                entry.running -= 1
            else:
                entry.waiting -= 1
            entry.generation_tokens += generated
            entry.success[reason] += 1
            entry.e2e.observe(e2e)
            if ttft is not None:
                entry.ttft.observe(ttft)
            for gap in gaps:
                entry.itl.observe(gap)

    def render(self, model_ids: Iterable[str]) -> str:
        """Prometheus text exposition (format 0.0.4) for the given served models."""
        with self._lock:
            entries = [(m, self._models[m]) for m in model_ids]
            return "\n".join(_exposition(entries)) + "\n"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _exposition(entries: list[tuple[str, _ModelMetrics]]) -> Iterable[str]:
    def labels(model: str) -> str:
        return f'model_name="{model}",engine="0"'

    scalars = [
        ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
         lambda e: e.running),
        ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
         lambda e: e.waiting),
        ("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.",
         lambda e: e.prompt_tokens),
        ("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
         lambda e: e.generation_tokens),
    ]  # fmt: skip
    for name, kind, help_text, read in scalars:
        yield from _family(name, kind, help_text)
        for model, entry in entries:
            yield f"{name}{{{labels(model)}}} {float(read(entry))}"
    name = "vllm:request_success_total"
    yield from _family(name, "counter", "Count of successfully processed requests.")
    for model, entry in entries:
        for reason in FINISHED_REASONS:
            count = float(entry.success.get(reason, 0))
            yield f'{name}{{{labels(model)},finished_reason="{reason}"}} {count}'
    histograms = [
        ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
         lambda e: e.ttft),
        ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
         lambda e: e.itl),
        ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
         lambda e: e.e2e),
    ]  # fmt: skip
    for name, help_text, pick in histograms:
        yield from _family(name, "histogram", help_text)
        for model, entry in entries:
            yield from pick(entry).lines(name, labels(model))
