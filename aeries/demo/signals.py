"""Demo signals: thumbs and comments, heuristics, implicit dissatisfaction, and what the observer
learned (sentiment, satisfaction, topics, intents, stated preferences, its own failures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from aeries.demo.arena import Arena
from aeries.demo.calls import (
    STATUS_ABORTED,
    STATUS_ERROR,
    STATUS_OK,
    US,
    model_strength,
    pick,
    take_ids,
    uuid7,
)
from aeries.demo.catalog import (
    ASPECTS,
    COMMENTS,
    INTENTS,
    OBSERVER_ERRORS,
    PERSONAS,
    PREFERENCE_TEXTS,
    PROMPT_TEXTS,
    TOPICS,
)
from aeries.demo.chat import Chat
from aeries.demo.world import World
from aeries.store.signals import HEURISTICS, IMPLICIT, USER_FEEDBACK
from aeries.vocabulary import SIGNAL_KINDS, SIGNAL_NAMES, SignalKind, SignalName

Part = dict[str, Any]
_INTENT_AT = len(TOPICS)
_PREF_AT = _INTENT_AT + len(INTENTS)
_COMMENT_AT = _PREF_AT + len(PREFERENCE_TEXTS)
_ERROR_AT = _COMMENT_AT + len(COMMENTS)
# Extractor, its version and prompt hash of each kind of signal.
_PROVENANCE: dict[SignalKind, tuple[str, str, str | None]] = {
    "feedback": (USER_FEEDBACK.extractor, USER_FEEDBACK.version, None),
    "heuristic": (HEURISTICS.extractor, HEURISTICS.version, None),
    "implicit": (IMPLICIT.extractor, IMPLICIT.version, None),
    "observer": ("observer", "1", "demo0000observer"),
}


class _Signals:
    """Collects signal parts that share the chat (or arena) exchange arrays."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.parts: list[Part] = []
        self.elastic: list[bool] = []

    def add(
        self,
        kind: SignalKind,
        name: SignalName,
        at: np.ndarray,
        user: pa.Array,
        exchange: pa.Array,
        *,
        num: np.ndarray | None = None,
        text: np.ndarray | None = None,
        conversation: pa.Array | None = None,
        message: pa.Array | None = None,
        elastic: bool = False,
    ) -> None:
        if name not in SIGNAL_NAMES[kind]:
            raise ValueError(f"{name!r} is not a name of {kind!r} signals")
        n = len(at)
        at = np.minimum(at, self.world.timeline.end_us)
        extractor, version, prompt_hash = _PROVENANCE[kind]
        const = np.zeros(n, dtype=np.int32)
        part: Part = {
            "id": uuid7(at, self.world.rng),
            "user_id": user,
            "exchange_id": exchange,
            "kind": pick(pa.array(SIGNAL_KINDS), const + SIGNAL_KINDS.index(kind)),
            "name": pick(pa.array(SIGNAL_NAMES[kind]), const + SIGNAL_NAMES[kind].index(name)),
            "value_num": np.full(n, np.nan) if num is None else np.asarray(num, dtype=float),
            "value_text": pick(self.world.pools["text"], np.full(n, -1) if text is None else text),
            "extractor": pick(pa.array([extractor]), const),
            "extractor_version": pick(pa.array([version]), const),
            "prompt_hash": pick(pa.array([prompt_hash or ""]), const - (prompt_hash is None)),
            "created_at": at,
        }
        if conversation is not None:
            part["conversation_id"] = conversation
        if message is not None:
            part["message_id"] = message
        self.parts.append(part)
        self.elastic.append(elastic)

    def trim(self, limit: int | None) -> list[Part]:
        """Drop random heuristic rows until at most ``limit`` signals remain."""
        total = sum(len(p["created_at"]) for p in self.parts)
        excess = 0 if limit is None else total - limit
        for i in np.flatnonzero(self.elastic)[::-1]:
            if excess <= 0:
                break
            part = self.parts[i]
            n = len(part["created_at"])
            drop = min(excess, n)
            keep = np.sort(self.world.rng.choice(n, n - drop, replace=False))
            self.parts[i] = {k: _take(v, keep) for k, v in part.items()}
            excess -= drop
        return self.parts


def _take(values: Any, idx: np.ndarray) -> Any:
    return values.take(pa.array(idx)) if isinstance(values, pa.Array) else values[idx]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _quality(world: World, chat: Chat, idx: np.ndarray) -> np.ndarray:
    """Log-odds that the user is happy with answer ``idx``: model, persona, brief, speed."""
    frac = world.timeline.frac(chat.ts_us[idx])
    persona = np.array([p.satisfaction for p in PERSONAS])[chat.persona[idx]]
    slow = np.log(np.nan_to_num(chat.calls.e2e_ms[idx], nan=8000.0).clip(200) / 4000.0)
    brief = 0.45 * chat.brief[idx]
    return 0.6 + 1.4 * model_strength(chat.model[idx], frac) + persona + brief - 0.45 * slow


def build_signals(world: World, chat: Chat, arena: Arena, limit: int | None) -> list[Part]:
    """Every signal part; heuristics are trimmed first if ``limit`` is lower than the recipe."""
    sig = _Signals(world)
    _feedback(sig, chat)
    _implicit(sig, chat)
    _observer(sig, chat)
    _heuristics(sig, chat, arena)
    return sig.trim(limit)


def _chat_refs(world: World, chat: Chat, idx: np.ndarray) -> dict[str, pa.Array]:
    return {
        "user": take_ids(world.user_ids, chat.user[idx]),
        "exchange": take_ids(chat.ids, idx),
        "conversation": take_ids(chat.conv_ids, chat.conv[idx]),
        "message": take_ids(chat.answer_ids, idx),
    }


def _feedback(sig: _Signals, chat: Chat) -> None:
    world, rng = sig.world, sig.world.rng
    rated = np.flatnonzero((chat.calls.status == STATUS_OK) & (rng.random(len(chat.ts_us)) < 0.15))
    up = rng.random(len(rated)) < _sigmoid(_quality(world, chat, rated))
    at = chat.end_us[rated] + (rng.lognormal(np.log(20.0), 0.8, len(rated)) * US).astype(np.int64)
    sig.add("feedback", "thumbs", at, num=up, **_chat_refs(world, chat, rated))
    changed = rng.random(len(rated)) < 0.05  # changed their mind: the later thumb counts
    sig.add(
        "feedback",
        "thumbs",
        at[changed] + 60 * US,
        num=~up[changed],
        **_chat_refs(world, chat, rated[changed]),
    )
    said = np.flatnonzero((chat.calls.status == STATUS_OK) & (rng.random(len(chat.ts_us)) < 0.02))
    text = _COMMENT_AT + rng.integers(0, len(COMMENTS), len(said))
    at = chat.end_us[said] + 40 * US
    sig.add("feedback", "comment", at, text=text, **_chat_refs(world, chat, said))


def _implicit(sig: _Signals, chat: Chat) -> None:
    world, rng = sig.world, sig.world.rng
    regen = np.flatnonzero(chat.regen)
    at = chat.ts_us[regen]
    sig.add(
        "implicit",
        "regenerate",
        at,
        num=np.ones(len(regen)),
        **_chat_refs(world, chat, chat.prev[regen]),
    )
    aborted = np.flatnonzero(chat.calls.status == STATUS_ABORTED)
    sig.add(
        "implicit",
        "abort",
        chat.end_us[aborted],
        num=np.ones(len(aborted)),
        **_chat_refs(world, chat, aborted),
    )
    edited = np.flatnonzero((chat.turn > 0) & ~chat.regen & (rng.random(len(chat.ts_us)) < 0.01))
    sig.add(
        "implicit",
        "edit",
        chat.ts_us[edited],
        num=np.ones(len(edited)),
        **_chat_refs(world, chat, chat.prev[edited]),
    )


def _observer(sig: _Signals, chat: Chat) -> None:
    world, rng = sig.world, sig.world.rng
    obs, status = chat.observed, chat.observer_status
    fails = (status == STATUS_ERROR) | ((status == STATUS_OK) & (rng.random(len(obs)) < 0.03))
    failed, read = obs[fails], obs[~fails & (status == STATUS_OK)]
    at = chat.end_us[read] + (rng.lognormal(np.log(3.0), 0.4, len(read)) * US).astype(np.int64)
    refs = _chat_refs(world, chat, read)
    n = len(read)
    sat = _sigmoid(_quality(world, chat, read) + rng.normal(0.0, 0.8, n))
    sig.add("observer", "satisfaction", at, num=sat.round(2), **refs)
    sig.add(
        "observer",
        "sentiment",
        at,
        num=np.clip(2 * sat - 1 + rng.normal(0, 0.3, n), -1, 1).round(2),
        **refs,
    )
    sig.add(
        "observer",
        "intent",
        at,
        text=_INTENT_AT + rng.choice(len(INTENTS), n, p=[0.5, 0.3, 0.1, 0.05, 0.05]),
        **refs,
    )
    sig.add("observer", "confidence", at, num=rng.beta(5, 2, n).round(2), **refs)
    sig.add("observer", "corrected", at, num=(rng.random(n) < 0.08).astype(float), **refs)
    sig.add("observer", "topic", at, text=chat.topic[read], **refs)
    extra = rng.random(n) < 0.9
    more = read[extra]
    sig.add(
        "observer",
        "topic",
        at[extra],
        text=rng.integers(0, len(TOPICS), len(more)),
        **_chat_refs(world, chat, more),
    )
    offset = _PREF_AT
    for a, values in enumerate(ASPECTS.values()):
        stated = rng.random(n) < 0.12
        value = world.user_pref[chat.user[read[stated]], a]
        sig.add(
            "observer",
            "preference",
            at[stated],
            text=offset + value,
            **_chat_refs(world, chat, read[stated]),
        )
        offset += len(values)
    reason = _ERROR_AT + rng.integers(0, len(OBSERVER_ERRORS), len(failed))
    sig.add(
        "observer",
        "observer_error",
        chat.end_us[failed] + 3 * US,
        text=reason,
        **_chat_refs(world, chat, failed),
    )


def _heuristics(sig: _Signals, chat: Chat, arena: Arena) -> None:
    world = sig.world
    lengths = np.array([len(p) for p in PROMPT_TEXTS], dtype=float)
    asked = np.flatnonzero(~chat.regen)
    sig.add(
        "heuristic",
        "user_chars",
        chat.ts_us[asked],
        num=lengths[chat.prompt[asked]],
        elastic=True,
        **_chat_refs(world, chat, asked),
    )
    answered = np.flatnonzero(chat.calls.status != STATUS_ERROR)
    refs = _chat_refs(world, chat, answered)
    sig.add(
        "heuristic",
        "answer_chars",
        chat.end_us[answered],
        num=chat.calls.completion[answered] * 4.2,
        elastic=True,
        **refs,
    )
    sig.add(
        "heuristic",
        "answer_latency_ms",
        chat.end_us[answered],
        num=chat.calls.e2e_ms[answered],
        elastic=True,
        **refs,
    )
    follows = np.flatnonzero(chat.turn[1:] > 0)
    delay = (chat.ts_us[follows + 1] - chat.end_us[follows]) / US
    sig.add(
        "heuristic",
        "reply_delay_s",
        chat.ts_us[follows + 1],
        num=delay.clip(0),
        elastic=True,
        **_chat_refs(world, chat, follows),
    )
    battles = len(arena.ts_us) // 2
    asked = np.arange(battles)
    sig.add(
        "heuristic",
        "user_chars",
        arena.ts_us[asked],
        take_ids(world.user_ids, arena.user[asked]),
        take_ids(arena.ids, asked),
        num=lengths[arena.prompt],
        elastic=True,
    )
    done = np.flatnonzero(arena.calls.status != STATUS_ERROR)
    end = arena.ts_us[done] + (np.nan_to_num(arena.calls.e2e_ms[done]) * 1000).astype(np.int64)
    user = take_ids(world.user_ids, arena.user[done])
    exchange = take_ids(arena.ids, done)
    sig.add(
        "heuristic",
        "answer_chars",
        end,
        user,
        exchange,
        num=arena.calls.completion[done] * 4.2,
        elastic=True,
    )
    sig.add(
        "heuristic",
        "answer_latency_ms",
        end,
        user,
        exchange,
        num=arena.calls.e2e_ms[done],
        elastic=True,
    )
