"""Demo chat: conversations of several turns, their messages (with regenerations), the chat
exchanges behind the answers, and the observer exchanges that read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aeries.demo.calls import (
    STATUS_ERROR,
    US,
    Calls,
    available_models,
    pick,
    simulate_calls,
    take_ids,
    uuid7,
)
from aeries.demo.catalog import (
    ANSWERS_PER_TOPIC,
    MODELS,
    OBSERVER_MODEL,
    PERSONAS,
    PROMPTS_PER_TOPIC,
    REASONING_PER_TOPIC,
    TOPICS,
)
from aeries.demo.world import (
    N_PROMPTS,
    OBSERVER_PARAMS,
    OBSERVER_REQUEST,
    OBSERVER_RESPONSE,
    World,
    exchange_columns,
)
from aeries.vocabulary import MESSAGE_ORIGINS, MessageOrigin

PERSONA_P = np.array([0.45, 0.15, 0.12, 0.15, 0.13])
REGENERATE_P = 0.06
SWITCH_ON_REGENERATE_P = 0.4


@dataclass
class Chat:
    """Chat exchanges (one per answer) and what later generators need to know about them."""

    conv: np.ndarray
    turn: np.ndarray
    ts_us: np.ndarray
    user: np.ndarray
    persona: np.ndarray
    brief: np.ndarray
    topic: np.ndarray
    prompt: np.ndarray
    model: np.ndarray
    regen: np.ndarray
    prev: np.ndarray
    calls: Calls
    ids: pa.Array
    answer_ids: pa.Array
    conv_ids: pa.Array
    observed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    observer_status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def end_us(self) -> np.ndarray:
        """When each answer finished (its start if it never produced anything)."""
        return self.ts_us + (np.nan_to_num(self.calls.e2e_ms) * 1000).astype(np.int64)


def _turn_counts(rng: np.random.Generator, n_chat: int, mean: float = 6.0) -> np.ndarray:
    """Turns per conversation (geometric, mean ``mean``) adding up to exactly ``n_chat``."""
    turns = rng.geometric(1.0 / mean, int(n_chat / mean * 1.3) + 4)
    while turns.sum() < n_chat:
        turns = np.concatenate([turns, rng.geometric(1.0 / mean, len(turns))])
    cum = np.cumsum(turns)
    last = int(np.searchsorted(cum, n_chat))
    turns = turns[: last + 1].copy()
    turns[-1] -= cum[last] - n_chat
    return turns


def _topics(rng: np.random.Generator, persona: np.ndarray) -> np.ndarray:
    """A topic per conversation, drawn towards the persona's favourite topics."""
    topic = rng.integers(0, len(TOPICS), len(persona))
    for i, profile in enumerate(PERSONAS):
        if not profile.topic_bias:
            continue
        biased = (persona == i) & (rng.random(len(persona)) < 0.6)
        topic[biased] = rng.choice(profile.topic_bias, int(biased.sum()))
    return topic


def _carry_back(regen: np.ndarray) -> np.ndarray:
    """For each turn, the index of the latest turn at or before it that was not a regeneration."""
    idx = np.arange(len(regen))
    return np.maximum.accumulate(np.where(regen, 0, idx))


def build_chat(world: World, n_chat: int) -> Chat:
    """Conversations, their chat exchanges and messages."""
    rng, tl = world.rng, world.timeline
    turns = _turn_counts(rng, n_chat)
    k = len(turns)
    c_user = world.users(k)
    c_persona = rng.choice(len(PERSONAS), k, p=PERSONA_P)
    c_topic = _topics(rng, c_persona)
    c_brief = rng.random(k) < world.brief_pref[c_user]
    c_start = np.sort(tl.sample(rng, k, margin_s=3 * 3600))
    c_model = available_models(rng, tl.frac(c_start))

    conv = np.repeat(np.arange(k), turns)
    first = np.repeat(np.cumsum(turns) - turns, turns)
    turn = np.arange(n_chat) - first
    gap = np.where(turn == 0, 0.0, rng.lognormal(np.log(70.0), 0.8, n_chat))
    elapsed = np.cumsum(gap)
    ts = c_start[conv] + ((elapsed - elapsed[first]) * US).astype(np.int64)
    ts = np.minimum(ts, tl.end_us - 60 * US)

    regen = (turn > 0) & (rng.random(n_chat) < REGENERATE_P)
    model = c_model[conv].copy()
    switch = regen & (rng.random(n_chat) < SWITCH_ON_REGENERATE_P)
    model[switch] = available_models(rng, tl.frac(ts[switch]), exclude=model[switch])
    anchor = _carry_back(regen)
    prompt = (c_topic[conv] * PROMPTS_PER_TOPIC + rng.integers(0, PROMPTS_PER_TOPIC, n_chat))[
        anchor
    ]
    prompt_tokens = np.minimum(rng.lognormal(np.log(120.0), 0.5, n_chat) + 220 * turn, 7000)
    reasoning = np.array([m.reasoning for m in MODELS])[model]
    thinking = np.array([p.thinking for p in PERSONAS])[c_persona[conv]] & reasoning
    completion = rng.lognormal(np.log(260.0), 0.6, n_chat) * np.where(thinking, 1.6, 1.0)
    calls = simulate_calls(
        rng, tl, model, ts, prompt_tokens, np.clip(np.round(completion), 1, 2048), 0.02
    )
    chat = Chat(
        conv=conv,
        turn=turn,
        ts_us=ts,
        user=c_user[conv],
        persona=c_persona[conv],
        brief=c_brief[conv],
        topic=c_topic[conv],
        prompt=prompt,
        model=model,
        regen=regen,
        prev=np.where(turn > 0, np.arange(n_chat) - 1, -1),
        calls=calls,
        ids=uuid7(ts, rng),
        answer_ids=uuid7(ts + 1000, rng),
        conv_ids=uuid7(c_start, rng),
    )
    chat.tables["exchanges"] = _chat_exchanges(world, chat, thinking)
    chat.tables["messages"] = _messages(world, chat, anchor, thinking)
    chat.tables["conversations"] = _conversations(world, chat, turns, c_start, c_persona, c_brief)
    chat.tables["events"] = _events(world, chat, c_start, c_user, c_brief)
    return chat


def _chat_exchanges(world: World, chat: Chat, thinking: np.ndarray) -> dict[str, Any]:
    rng, n = world.rng, len(chat.ts_us)
    return exchange_columns(
        world,
        ids=chat.ids,
        ts_us=chat.ts_us,
        model=chat.model,
        calls=chat.calls,
        source="chat",
        user=take_ids(world.user_ids, chat.user),
        params=chat.persona * 2 + chat.brief,
        request=chat.persona * N_PROMPTS + chat.prompt,
        response=chat.topic * ANSWERS_PER_TOPIC + rng.integers(0, ANSWERS_PER_TOPIC, n),
        reasoning=np.where(
            thinking, chat.topic * REASONING_PER_TOPIC + rng.integers(0, REASONING_PER_TOPIC, n), -1
        ),
        conversation_id=take_ids(chat.conv_ids, chat.conv),
        message_id=chat.answer_ids,
        persona_id=take_ids(world.persona_ids, chat.persona),
        brief_enabled=chat.brief,
    )


def _origin_code(origin: MessageOrigin) -> int:
    return MESSAGE_ORIGINS.index(origin)


def _messages(world: World, chat: Chat, anchor: np.ndarray, thinking: np.ndarray) -> dict[str, Any]:
    """User messages (not for regenerations) then answers; answers of a regeneration are
    siblings of the answer they replace."""
    rng, n = world.rng, len(chat.ts_us)
    question_ids = uuid7(chat.ts_us - 1000, rng)
    asked = np.flatnonzero(~chat.regen)
    answer = chat.topic * ANSWERS_PER_TOPIC + rng.integers(0, ANSWERS_PER_TOPIC, n)
    answer = np.where(chat.calls.status == STATUS_ERROR, -1, answer)
    content = pc.fill_null(pick(world.pools["response"], answer).cast(pa.string()), "")
    nq = len(asked)
    role = pick(pa.array(["user", "assistant"]), np.repeat([0, 1], [nq, n]))
    origin = np.concatenate(
        [
            np.full(nq, _origin_code("new")),
            np.where(chat.regen, _origin_code("regenerate"), _origin_code("new")),
        ]
    )
    return {
        "id": pa.concat_arrays([take_ids(question_ids, asked), chat.answer_ids]),
        "conversation_id": take_ids(chat.conv_ids, np.concatenate([chat.conv[asked], chat.conv])),
        "parent_id": pa.concat_arrays(
            [take_ids(chat.answer_ids, chat.prev[asked]), take_ids(question_ids, anchor)]
        ),
        "role": role,
        "content": pa.concat_arrays(
            [pick(world.pools["prompt"], chat.prompt[asked]).cast(pa.string()), content]
        ),
        "reasoning": pa.concat_arrays(
            [
                pa.nulls(nq, pa.string()),
                pick(
                    world.pools["reasoning"],
                    np.where(thinking, chat.topic * REASONING_PER_TOPIC, -1),
                ).cast(pa.string()),
            ]
        ),
        "status": pa.concat_arrays(
            [
                pa.nulls(nq, pa.string()),
                pick(world.pools["status"], chat.calls.status).cast(pa.string()),
            ]
        ),
        "exchange_id": pa.concat_arrays([pa.nulls(nq, pa.string()), chat.ids]),
        "origin": pick(pa.array(MESSAGE_ORIGINS), origin),
        "origin_message_id": pa.concat_arrays(
            [
                pa.nulls(nq, pa.string()),
                take_ids(chat.answer_ids, np.where(chat.regen, chat.prev, -1)),
            ]
        ),
        "created_at": np.concatenate([chat.ts_us[asked] - 1000, chat.end_us]),
    }


def _conversations(
    world: World,
    chat: Chat,
    turns: np.ndarray,
    start: np.ndarray,
    persona: np.ndarray,
    brief: np.ndarray,
) -> dict[str, Any]:
    rng, k = world.rng, len(turns)
    last = np.cumsum(turns) - 1
    first = last - turns + 1
    questions = np.add.reduceat((~chat.regen).astype(np.int64), first)
    title = pick(world.pools["prompt"], chat.prompt[first]).cast(pa.string())
    return {
        "id": chat.conv_ids,
        "user_id": take_ids(world.user_ids, chat.user[first]),
        "title": pc.utf8_slice_codeunits(title, 0, 100),
        "persona_id": take_ids(world.persona_ids, persona),
        "created_at": start,
        "last_message_at": np.maximum.reduceat(chat.end_us, first),
        "message_count": turns + questions,
        "current_leaf_id": take_ids(chat.answer_ids, last),
        "archived": rng.random(k) < 0.03,
        "deleted": rng.random(k) < 0.01,
        "brief_enabled": brief,
    }


def _events(
    world: World, chat: Chat, start: np.ndarray, user: np.ndarray, brief: np.ndarray
) -> dict[str, Any]:
    """A few brief toggles, at the start of the conversations they apply to."""
    rng = world.rng
    toggled = np.flatnonzero(rng.random(len(start)) < 0.04)
    payload = pa.array(['{"enabled": false}', '{"enabled": true}'])
    at = start[toggled] - 5 * US
    return {
        "id": uuid7(at, rng),
        "user_id": take_ids(world.user_ids, user[toggled]),
        "conversation_id": take_ids(chat.conv_ids, toggled),
        "kind": pick(pa.array(["brief_toggled"]), np.zeros(len(toggled))),
        "payload": pick(payload, brief[toggled].astype(int)),
        "created_at": at,
    }


def build_observer(world: World, chat: Chat, n_observer: int) -> dict[str, Any]:
    """Observer exchanges: the observer model reading a random subset of the chat answers."""
    rng, tl = world.rng, world.timeline
    n_observer = min(n_observer, len(chat.ts_us))
    observed = np.sort(rng.choice(len(chat.ts_us), n_observer, replace=False))
    ts = np.minimum(chat.end_us[observed] + 300_000, tl.end_us)
    model = np.full(n_observer, OBSERVER_MODEL)
    calls = simulate_calls(
        rng,
        tl,
        model,
        ts,
        rng.lognormal(np.log(650.0), 0.3, n_observer),
        np.round(rng.lognormal(np.log(90.0), 0.3, n_observer)).clip(5, 400),
        0.0,
    )
    chat.observed = observed
    chat.observer_status = calls.status
    topic = chat.topic[observed]
    return exchange_columns(
        world,
        ids=uuid7(ts, rng),
        ts_us=ts,
        model=model,
        calls=calls,
        source="observer",
        user=take_ids(world.user_ids, chat.user[observed]),
        params=np.full(n_observer, OBSERVER_PARAMS),
        request=OBSERVER_REQUEST + chat.prompt[observed],
        response=OBSERVER_RESPONSE + topic * 3 + rng.integers(0, 3, n_observer),
        reasoning=np.full(n_observer, -1),
        conversation_id=take_ids(chat.conv_ids, chat.conv[observed]),
    )
