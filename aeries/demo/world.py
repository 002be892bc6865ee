"""The demo's cast (users, personas) and the text pools its rows point into."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from aeries.demo.calls import Calls, Timeline, pick, uuid7
from aeries.demo.catalog import (
    ANSWER_TEXTS,
    ASPECTS,
    ENDPOINT,
    ERRORS,
    MODELS,
    OBSERVER_ANSWERS,
    OBSERVER_SYSTEM,
    PERSONAS,
    PROMPT_TEXTS,
    REASONING_TEXTS,
    text_pool,
)
from aeries.vocabulary import ERROR_KINDS, EXCHANGE_STATUSES, SOURCES, Source

N_PROMPTS = len(PROMPT_TEXTS)
ARENA_PARAMS = 2 * len(PERSONAS)
OBSERVER_PARAMS = ARENA_PARAMS + 1
ARENA_REQUEST = len(PERSONAS) * N_PROMPTS
OBSERVER_REQUEST = ARENA_REQUEST + N_PROMPTS
OBSERVER_RESPONSE = len(ANSWER_TEXTS)


def _error_texts() -> list[str | None]:
    """The error text of each error kind (by its code), for the kinds the demo makes."""
    texts: dict[str, str] = {e.kind: e.text for e in ERRORS}
    return [texts.get(kind) for kind in ERROR_KINDS]


def _params_pool() -> list[str]:
    out = []
    for persona in PERSONAS:
        for brief in (False, True):
            params = {
                "temperature": persona.temperature,
                "top_p": 1.0,
                "max_tokens": 1024,
                "thinking": persona.thinking,
                "persona": persona.name,
                "brief": brief,
            }
            out.append(json.dumps(params))
    out.append(json.dumps({"temperature": 0.7, "top_p": 1.0, "max_tokens": 1024, "arena": True}))
    out.append(json.dumps({"temperature": 0.0, "response_format": "json_schema"}))
    return out


def _request_pool() -> list[str]:
    out = []
    for persona in PERSONAS:
        system = {"role": "system", "content": persona.system_prompt}
        out += [json.dumps([system, {"role": "user", "content": p}]) for p in PROMPT_TEXTS]
    out += [json.dumps([{"role": "user", "content": p}]) for p in PROMPT_TEXTS]
    for prompt in PROMPT_TEXTS:
        payload = json.dumps({"user_message": prompt, "assistant_reply": "…"})
        system = {"role": "system", "content": OBSERVER_SYSTEM}
        out.append(json.dumps([system, {"role": "user", "content": payload}]))
    return out


@dataclass
class World:
    """Everything the generators share."""

    rng: np.random.Generator
    timeline: Timeline
    user_ids: pa.Array
    user_names: list[str]
    user_weight: np.ndarray  # how active each user is (sums to 1)
    brief_pref: np.ndarray  # probability a user keeps the brief on
    user_pref: np.ndarray  # (users, aspects): each user's preferred value per aspect
    persona_ids: pa.Array
    pools: dict[str, pa.Array]

    @property
    def n_users(self) -> int:
        return len(self.user_names)

    def users(self, n: int) -> np.ndarray:
        """``n`` users drawn by activity."""
        return self.rng.choice(self.n_users, n, p=self.user_weight)


def make_world(rng: np.random.Generator, timeline: Timeline, n_exchanges: int) -> World:
    """Users (a few heavy, many light), personas and text pools."""
    n = int(np.clip(n_exchanges // 2000, 5, 500))
    names = [f"demo-p{i:04d}" for i in range(1, n + 1)] + ["demo-dr-lin", "demo-dr-okafor"]
    weight = rng.lognormal(0.0, 1.0, len(names))
    created = np.full(len(names), timeline.start_us)
    pools = {
        "model": pa.array([m.name for m in MODELS]),
        "source": pa.array(SOURCES),
        "status": pa.array(EXCHANGE_STATUSES),
        "error_kind": pa.array(ERROR_KINDS),
        "error": pa.array(_error_texts(), pa.string()),
        "finish": pa.array(["stop", "length"]),
        "params": pa.array(_params_pool()),
        "request": pa.array(_request_pool()),
        "response": pa.array(ANSWER_TEXTS + OBSERVER_ANSWERS),
        "reasoning": pa.array(REASONING_TEXTS),
        "prompt": pa.array(PROMPT_TEXTS),
        "text": pa.array(text_pool()),
        "endpoint": pa.array([ENDPOINT]),
    }
    return World(
        rng=rng,
        timeline=timeline,
        user_ids=uuid7(created, rng),
        user_names=names,
        user_weight=weight / weight.sum(),
        brief_pref=np.where(rng.random(len(names)) < 0.7, 0.85, 0.2),
        user_pref=np.stack([rng.integers(0, len(v), len(names)) for v in ASPECTS.values()], 1),
        persona_ids=uuid7(np.full(len(PERSONAS), timeline.start_us), rng),
        pools=pools,
    )


def exchange_columns(
    world: World,
    *,
    ids: pa.Array,
    ts_us: np.ndarray,
    model: np.ndarray,
    calls: Calls,
    source: Source,
    user: pa.Array,
    params: np.ndarray,
    request: np.ndarray,
    response: np.ndarray,
    reasoning: np.ndarray,
    **extra: Any,
) -> dict[str, Any]:
    """An ``exchanges`` part: the numeric description of calls turned into columns."""
    n = len(model)
    p = world.pools
    started = ~np.isnan(calls.ttft_ms)
    has_text = started & (calls.completion > 0)
    tpot = calls.tpot_ms
    return {
        "id": ids,
        "user_id": user,
        "source": pick(p["source"], np.full(n, SOURCES.index(source))),
        "endpoint": pick(p["endpoint"], np.zeros(n)),
        "model": pick(p["model"], model),
        "params": pick(p["params"], params),
        "request_messages": pick(p["request"], request),
        "response_text": pick(p["response"], np.where(has_text, response, -1)),
        "reasoning_text": pick(p["reasoning"], np.where(has_text, reasoning, -1)),
        "status": pick(p["status"], calls.status),
        "error": pick(p["error"], calls.error_kind),
        "error_kind": pick(p["error_kind"], calls.error_kind),
        "finish_reason": pick(p["finish"], calls.finish_reason),
        "started_at": ts_us,
        "ttft_ms": calls.ttft_ms,
        "e2e_ms": calls.e2e_ms,
        "tpot_ms": tpot,
        "itl_mean_ms": tpot * 1.02,
        "itl_p50_ms": tpot * 0.93,
        "itl_p95_ms": tpot * 1.8,
        "itl_max_ms": tpot * 5.5,
        "chunk_count": np.where(started, calls.completion, np.nan),
        "prompt_tokens": np.where(started, calls.prompt, np.nan),
        "completion_tokens": calls.completion,
        **extra,
    }
