"""Vectorised building blocks of the demo: time-sorted ids, timestamps, simulated model calls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from aeries.demo.catalog import ERRORS, MODELS
from aeries.vocabulary import ERROR_KINDS, EXCHANGE_STATUSES, CallStatus, ErrorKind

US = 1_000_000
DAY_US = 86_400 * US
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Traffic by UTC hour: quiet nights, a working-day peak in the afternoon.
HOURLY = 0.2 + np.exp(-(((np.arange(24) - 15.0) / 4.0) ** 2))
HOURLY_P = HOURLY / HOURLY.sum()


def status_code(status: CallStatus) -> int:
    """A call's status as the demo's arrays hold it: its index in ``EXCHANGE_STATUSES``."""
    return EXCHANGE_STATUSES.index(status)


def error_code(kind: ErrorKind) -> int:
    """An error kind as the demo's arrays hold it: its index in ``ERROR_KINDS``."""
    return ERROR_KINDS.index(kind)


STATUS_OK, STATUS_ERROR, STATUS_ABORTED = (status_code(s) for s in ("ok", "error", "aborted"))
SERVER_DOWN, TIMEOUT, MIDSTREAM, ABORTED = (
    error_code(k) for k in ("server_down", "timeout", "midstream_error", "aborted")
)
# The demo's failures, as codes, and how often each is among them.
_ERROR_CODES = np.array([error_code(e.kind) for e in ERRORS])
_ERROR_P = np.array([e.p for e in ERRORS])


def uuid7(ts_us: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """UUIDv7 strings whose time part is ``ts_us`` (so ids sort by time), built without loops."""
    n = len(ts_us)
    ms = (np.asarray(ts_us, dtype=np.int64) // 1000).astype(np.uint64)
    hi = (ms << np.uint64(16)) | np.uint64(0x7000) | rng.integers(0, 4096, n, dtype=np.uint64)
    lo = (np.uint64(2) << np.uint64(62)) | rng.integers(0, 2**62, n, dtype=np.uint64)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :8] = hi.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(n, 8)
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 15]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for lo_d, hi_d, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        text[:, at : at + hi_d - lo_d] = digits[:, lo_d:hi_d]
    data = pa.py_buffer(text.tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * 36).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


def pick(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    """``pool[idx]`` as a dictionary array; a negative index gives null."""
    idx = np.asarray(idx, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=idx < 0), pool)


def take_ids(ids: pa.Array, idx: np.ndarray) -> pa.Array:
    """``ids[idx]``; a negative index gives null."""
    idx = np.asarray(idx, dtype=np.int64)
    return ids.take(pa.array(idx, mask=idx < 0))


@dataclass(frozen=True)
class Timeline:
    """The period the demo covers, ending at ``end_us``."""

    start_us: int
    end_us: int

    def frac(self, ts_us: np.ndarray) -> np.ndarray:
        """Position of each time in the period, 0..1."""
        return (ts_us - self.start_us) / (self.end_us - self.start_us)

    def sample(self, rng: np.random.Generator, n: int, margin_s: float = 0.0) -> np.ndarray:
        """``n`` times with a daily and weekly rhythm and traffic growing over the period."""
        day0 = self.start_us - self.start_us % DAY_US
        days = int((self.end_us - day0) // DAY_US) + 1
        day_idx = np.arange(days)
        weekday = ((day0 // DAY_US + day_idx + 3) % 7) < 5  # 1970-01-01 was a Thursday
        weight = np.where(weekday, 1.0, 0.55) * (0.6 + 0.4 * day_idx / max(days - 1, 1))
        low, high = self.start_us, self.end_us - int(margin_s * US)
        out = np.zeros(0, dtype=np.int64)
        while len(out) < n:  # rejection: the first and last day are partial
            m = int((n - len(out)) * 1.2) + 16
            day = rng.choice(days, m, p=weight / weight.sum())
            hour = rng.choice(24, m, p=HOURLY_P)
            ts = (
                day0
                + day * DAY_US
                + hour * 3600 * US
                + (rng.random(m) * 3600 * US).astype(np.int64)
            )
            out = np.concatenate([out, ts[(ts >= low) & (ts < high)]])
        return out[:n]


def load_factor(ts_us: np.ndarray) -> np.ndarray:
    """Latency multiplier from the hour's traffic (busy afternoons are slower)."""
    hour = (ts_us // (3600 * US)) % 24
    return 1.0 + 0.5 * HOURLY[hour] / HOURLY.max()


def available_models(
    rng: np.random.Generator, frac: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray:
    """A model per time, by traffic share among the models available then."""
    start = np.array([m.start_frac for m in MODELS])
    share = np.array([m.share for m in MODELS])
    weight = np.where(frac[:, None] >= start[None, :], share[None, :], 0.0)
    if exclude is not None:
        weight[np.arange(len(frac)), exclude] = 0.0
    cum = np.cumsum(weight, axis=1)
    u = rng.random(len(frac)) * cum[:, -1]
    return (u[:, None] > cum).sum(axis=1)


def model_strength(model: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Each model's log-strength at period fractions ``frac``."""
    out = np.zeros(len(model))
    for i, profile in enumerate(MODELS):
        mine = model == i
        out[mine] = profile.strength_at(frac[mine])
    return out


@dataclass
class Calls:
    """Outcome and timings of a batch of simulated calls (NaN where a value does not exist)."""

    status: np.ndarray  # status_code of each call
    error_kind: np.ndarray  # error_code of each failed call, -1 if none
    finish_reason: np.ndarray  # 0 stop, 1 length, -1 none
    ttft_ms: np.ndarray
    e2e_ms: np.ndarray
    tpot_ms: np.ndarray
    completion: np.ndarray
    prompt: np.ndarray


def _profile(values: list[float], model: np.ndarray) -> np.ndarray:
    return np.asarray(values)[model]


def _incident(model: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Calls hit by a model's bad day (its server was mostly down)."""
    at = np.array([m.incident_at if m.incident_at is not None else -1.0 for m in MODELS])
    start = at[model]
    return (start >= 0) & (frac >= start) & (frac < start + 1.0 / 84)


def simulate_calls(
    rng: np.random.Generator,
    timeline: Timeline,
    model: np.ndarray,
    ts_us: np.ndarray,
    prompt_tokens: np.ndarray,
    completion_tokens: np.ndarray,
    abort_rate: float,
) -> Calls:
    """Latency per vLLM's definitions, errors and aborts for each call."""
    n = len(model)
    frac = timeline.frac(ts_us)
    drift = np.ones(n)
    for i, profile in enumerate(MODELS):
        mine = model == i
        drift[mine] = profile.latency_factor(frac[mine])
    load = load_factor(ts_us)
    ttft = _profile([m.ttft_ms for m in MODELS], model) * drift * load
    ttft = ttft * rng.lognormal(0.0, 0.35, n) + prompt_tokens * 0.04
    tpot = _profile([m.tpot_ms for m in MODELS], model) * drift * np.sqrt(load)
    tpot = tpot * rng.lognormal(0.0, 0.12, n)
    completion = completion_tokens.astype(float)
    e2e = ttft + tpot * np.maximum(completion - 1, 0)

    error = (rng.random(n) < 0.012) | (_incident(model, frac) & (rng.random(n) < 0.6))
    aborted = ~error & (rng.random(n) < abort_rate * (1.0 + e2e / 15_000.0))
    status = np.where(error, STATUS_ERROR, np.where(aborted, STATUS_ABORTED, STATUS_OK))
    kind = np.where(error, _ERROR_CODES[rng.choice(len(ERRORS), n, p=_ERROR_P)], -1)
    kind = np.where(_incident(model, frac) & error, SERVER_DOWN, kind)
    kind = np.where(aborted, ABORTED, kind)  # as the app logs a stopped answer
    midstream = kind == MIDSTREAM
    partial = np.maximum(1, np.floor(completion * rng.uniform(0.05, 0.9, n)))
    completion = np.where(aborted | midstream, partial, completion)
    completion = np.where(error & ~midstream, np.nan, completion)
    started = ~error | midstream
    ttft = np.where(started, ttft, np.nan)
    e2e = np.where(started, ttft + tpot * np.maximum(completion - 1, 0), np.nan)
    e2e = np.where(kind == TIMEOUT, 60_000.0, e2e)
    e2e = np.where(kind == SERVER_DOWN, rng.uniform(2, 40, n), e2e)
    tpot = np.where(started & (completion > 1), tpot, np.nan)
    length = (completion_tokens >= 2000) | (rng.random(n) < 0.03)
    finish = np.where(status == STATUS_OK, np.where(length, 1, 0), -1)
    return Calls(status, kind, finish, ttft, e2e, tpot, completion, prompt_tokens.astype(float))
