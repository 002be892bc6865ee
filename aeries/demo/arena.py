"""Demo arena: blind two-sided battles, their exchanges and votes, explicit preferences, and the
implicit preferences chat regenerations leave behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from aeries.demo.calls import (
    STATUS_ERROR,
    US,
    Calls,
    available_models,
    model_strength,
    pick,
    simulate_calls,
    take_ids,
    uuid7,
)
from aeries.demo.catalog import ANSWERS_PER_TOPIC, MODELS, PROMPTS_PER_TOPIC
from aeries.demo.chat import Chat
from aeries.demo.world import ARENA_PARAMS, ARENA_REQUEST, N_PROMPTS, World, exchange_columns
from aeries.vocabulary import (
    PREFERENCE_KINDS,
    SOURCES,
    VOTE_OUTCOMES,
    VOTE_REASONS,
    WINNERS,
    PreferenceKind,
    Source,
    Winner,
)

POSITION_BIAS = 0.15  # log-odds bonus of the left side
LATENCY_EFFECT = 0.5  # log-odds bonus of answering first, saturating at ~1 s of TTFT gap


def _winner_code(winner: Winner) -> int:
    return WINNERS.index(winner)


# A two-sided outcome as the demo's arrays hold it: its index in WINNERS (a = position 0).
A, B, TIE, BOTH_BAD = (_winner_code(w) for w in ("a", "b", "tie", "both_bad"))
# The vote outcome of each winner code (a two-sided vote says what its preference says).
_VOTE_OUTCOME = np.array([VOTE_OUTCOMES.index(w) for w in WINNERS])


@dataclass
class Arena:
    """Arena exchanges (side 0 of every battle, then side 1) and the tables of the rounds."""

    ts_us: np.ndarray
    user: np.ndarray
    model: np.ndarray
    calls: Calls
    ids: pa.Array
    prompt: np.ndarray  # per battle
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


def build_arena(world: World, n_battles: int) -> Arena:
    """Battles of two models each; both answers stream from the same start."""
    rng, tl = world.rng, world.timeline
    ts = np.sort(tl.sample(rng, n_battles, margin_s=900))
    frac = tl.frac(ts)
    left = available_models(rng, frac)
    right = available_models(rng, frac, exclude=left)
    prompt = rng.integers(0, N_PROMPTS, n_battles)
    user = world.users(n_battles)

    model = np.concatenate([left, right])
    side_ts = np.concatenate([ts, ts]) + rng.integers(0, 5000, 2 * n_battles)
    prompt_tokens = np.tile(rng.lognormal(np.log(60.0), 0.4, n_battles), 2)
    reasoning = np.array([m.reasoning for m in MODELS])[model]
    completion = rng.lognormal(np.log(280.0), 0.6, 2 * n_battles) * np.where(reasoning, 1.5, 1.0)
    calls = simulate_calls(
        rng, tl, model, side_ts, prompt_tokens, np.clip(np.round(completion), 1, 2048), 0.03
    )
    arena = Arena(side_ts, np.tile(user, 2), model, calls, uuid7(side_ts, rng), prompt)
    battle_ids = uuid7(ts, rng)
    topic = np.tile(prompt // PROMPTS_PER_TOPIC, 2)
    arena.tables["exchanges"] = exchange_columns(
        world,
        ids=arena.ids,
        ts_us=side_ts,
        model=model,
        calls=calls,
        source="arena",
        user=take_ids(world.user_ids, arena.user),
        params=np.full(2 * n_battles, ARENA_PARAMS),
        request=ARENA_REQUEST + np.tile(prompt, 2),
        response=topic * ANSWERS_PER_TOPIC + rng.integers(0, ANSWERS_PER_TOPIC, 2 * n_battles),
        reasoning=np.full(2 * n_battles, -1),
    )
    arena.tables["battles"] = {
        "id": battle_ids,
        "user_id": take_ids(world.user_ids, user),
        "prompt": pick(world.pools["prompt"], prompt).cast(pa.string()),
        "blind": rng.random(n_battles) < 0.9,
        "contestant_count": np.full(n_battles, 2),
        "created_at": ts,
    }
    arena.tables["battle_sides"] = {
        "battle_id": take_ids(battle_ids, np.tile(np.arange(n_battles), 2)),
        "position": np.repeat([0, 1], n_battles),
        "contestant": pick(pa.array(["A", "B"]), np.repeat([0, 1], n_battles)),
        "model": pick(world.pools["model"], model),
        "params": pick(world.pools["params"], np.full(2 * n_battles, ARENA_PARAMS)),
        "exchange_id": arena.ids,
    }
    _votes(world, arena, battle_ids, ts, user, frac)
    return arena


def _outcomes(world: World, arena: Arena, frac: np.ndarray) -> np.ndarray:
    """The winner code of each battle, relative to the left side (a = position 0)."""
    rng, n = world.rng, len(frac)
    left, right = arena.model[:n], arena.model[n:]
    ttft = np.nan_to_num(arena.calls.ttft_ms, nan=5000.0)
    gap = (ttft[n:] - ttft[:n]) / 1000.0  # > 0: the left side answered first
    logit = model_strength(left, frac) - model_strength(right, frac)
    logit += LATENCY_EFFECT * np.tanh(gap) + POSITION_BIAS
    left_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    u = rng.random(n)
    failed = (arena.calls.status[:n] == STATUS_ERROR) | (arena.calls.status[n:] == STATUS_ERROR)
    outcome = np.where(left_wins, A, B)
    outcome = np.where(u < 0.10, TIE, outcome)
    return np.where((u >= 0.10) & (u < 0.15) | (failed & (u < 0.6)), BOTH_BAD, outcome)


def _votes(
    world: World,
    arena: Arena,
    battle_ids: pa.Array,
    ts: np.ndarray,
    user: np.ndarray,
    frac: np.ndarray,
) -> None:
    """Votes on most battles and an explicit preference per vote (a/b shuffled on half)."""
    rng, n = world.rng, len(ts)
    voted = np.flatnonzero(rng.random(n) < 0.85)
    outcome = _outcomes(world, arena, frac)[voted]
    end = np.fmax(arena.calls.e2e_ms[voted], arena.calls.e2e_ms[voted + n])
    wait = rng.lognormal(np.log(9000.0), 0.7, len(voted))
    at = ts[voted] + (np.nan_to_num(end) * 1000 + wait * 1000).astype(np.int64)
    at = np.minimum(at, world.timeline.end_us)
    vote_ids = uuid7(at, rng)
    counts = rng.integers(0, 3, len(voted))
    reasons = pick(pa.array(VOTE_REASONS), rng.integers(0, len(VOTE_REASONS), counts.sum()))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    arena.tables["votes"] = {
        "id": vote_ids,
        "battle_id": take_ids(battle_ids, voted),
        "user_id": take_ids(world.user_ids, user[voted]),
        "outcome": pick(pa.array(VOTE_OUTCOMES), _VOTE_OUTCOME[outcome]),
        "reasons": pa.ListArray.from_arrays(offsets, reasons.cast(pa.string())),
        "ms_to_vote": wait,
        "created_at": at,
    }
    swap = rng.random(len(voted)) < 0.5
    a_side = np.where(swap, voted + n, voted)
    b_side = np.where(swap, voted, voted + n)
    winner = np.where(swap & (outcome == A), B, np.where(swap & (outcome == B), A, outcome))
    arena.tables["preferences"] = {
        "id": uuid7(at, rng),
        **_preference_labels("explicit", "arena", len(voted)),
        "user_id": take_ids(world.user_ids, user[voted]),
        "battle_id": take_ids(battle_ids, voted),
        "vote_id": vote_ids,
        "contestant_a": pick(pa.array(["A", "B"]), swap.astype(int)),
        "contestant_b": pick(pa.array(["A", "B"]), (~swap).astype(int)),
        "model_a": pick(world.pools["model"], arena.model[a_side]),
        "model_b": pick(world.pools["model"], arena.model[b_side]),
        "exchange_a": take_ids(arena.ids, a_side),
        "exchange_b": take_ids(arena.ids, b_side),
        "position_a": swap.astype(int),
        "position_b": (~swap).astype(int),
        "winner": pick(pa.array(WINNERS), winner),
        "weight": np.ones(len(voted)),
        "created_at": at,
    }


def _preference_labels(kind: PreferenceKind, source: Source, n: int) -> dict[str, pa.Array]:
    """The ``kind`` and ``source`` columns of ``n`` preferences."""
    return {
        "kind": pick(pa.array(PREFERENCE_KINDS), np.full(n, PREFERENCE_KINDS.index(kind))),
        "source": pick(pa.array(SOURCES), np.full(n, SOURCES.index(source))),
    }


def implicit_preferences(world: World, chat: Chat) -> dict[str, Any]:
    """A regeneration is a pairwise judgement: the new answer (a) against the one it replaced."""
    rng = world.rng
    new = np.flatnonzero(chat.regen & (chat.calls.status != STATUS_ERROR))
    old = chat.prev[new]
    new, old = (
        new[chat.calls.status[old] != STATUS_ERROR],
        old[chat.calls.status[old] != STATUS_ERROR],
    )
    u = rng.random(len(new))
    winner = np.where(u < 0.7, A, np.where(u < 0.9, B, TIE))
    at = np.minimum(chat.end_us[new] + 30 * US, world.timeline.end_us)
    return {
        "id": uuid7(at, rng),
        **_preference_labels("implicit", "chat", len(new)),
        "user_id": take_ids(world.user_ids, chat.user[new]),
        "conversation_id": take_ids(chat.conv_ids, chat.conv[new]),
        "contestant_a": pick(pa.array(["regenerated"]), np.zeros(len(new))),
        "contestant_b": pick(pa.array(["original"]), np.zeros(len(new))),
        "model_a": pick(world.pools["model"], chat.model[new]),
        "model_b": pick(world.pools["model"], chat.model[old]),
        "exchange_a": take_ids(chat.ids, new),
        "exchange_b": take_ids(chat.ids, old),
        "winner": pick(pa.array(WINNERS), winner),
        "weight": np.full(len(new), 0.5),
        "created_at": at,
    }
