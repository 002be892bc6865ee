"""Arena rounds: one prompt to 2–4 contestants, streamed concurrently, then a blind vote.

Each side's stream is consumed by its own worker thread into a buffer the UI redraws from, so
the sides stream at the same time, a Stop on one side aborts only that side's upstream, and
worker threads never touch Streamlit.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aeries.calls import StudyRef
from aeries.chat import system_messages
from aeries.ids import new_id, utcnow
from aeries.llm import CallResult, ChatRequest, LLMStream, ModelInfo, Sampling, stream_chat
from aeries.ratings import expand_best_of
from aeries.runtime import Runtime
from aeries.store.battles import battle_row, battle_side_row, vote_row
from aeries.store.exchanges import exchange_row, log_exchange
from aeries.store.inflight import InflightRecord
from aeries.store.personas import Persona
from aeries.store.preferences import PairSide, preference_row
from aeries.store.writer import Insert, Op, WriterClosed
from aeries.vocabulary import VOTE_REASONS, WINNERS, VoteOutcome, VoteReason, Winner

log = logging.getLogger(__name__)

REASONS = VOTE_REASONS  # offered on the vote, in this order


@dataclass(frozen=True)
class Contestant:
    """A model with a persona and sampling parameters."""

    model: ModelInfo
    sampling: Sampling
    persona: Persona | None = None

    @property
    def label(self) -> str:
        """A stable name for ratings: model, plus persona and temperature when they matter."""
        parts = [self.model.id]
        if self.persona is not None and not self.persona.is_default:
            parts.append(self.persona.name)
        parts.append(f"t={self.sampling.temperature:g}")
        return " · ".join(parts)


@dataclass
class Side:
    """One contestant's answer in a round, filled by a worker thread."""

    position: int
    contestant: Contestant
    request: ChatRequest
    stream: LLMStream | None = None
    text: str = ""
    reasoning: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None
    thread: threading.Thread | None = None
    record: InflightRecord | None = None

    @property
    def result(self) -> CallResult | None:
        """The call's result once done."""
        return self.stream.result if self.stream is not None and self.done.is_set() else None

    def stop(self) -> None:
        """Abort this side only (its upstream request is closed)."""
        if self.stream is not None and not self.done.is_set():
            self.stream.abort()


@dataclass
class Round:
    """A prompt answered by every contestant, and (later) the vote on it."""

    id: str
    user_id: str
    prompt: str
    sides: list[Side]
    blind: bool
    parent_id: str | None = None
    started_at: float = field(default_factory=time.perf_counter)
    logged: bool = False
    saved: bool = False  # a page saw its rows committed (what it shows as finished is stored)
    vote: dict[str, Any] | None = None
    study: StudyRef | None = None  # the study (version, condition) the round is made in
    log_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        """Whether every side has ended (ok, error or stopped)."""
        return all(side.done.is_set() for side in self.sides)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every side has ended (tests and benchmarks)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for side in self.sides:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not side.done.wait(left):
                return False
        return True

    @property
    def last_token_at(self) -> float | None:
        """perf_counter time the last side ended."""
        ends = [s.ended_at for s in self.sides if s.ended_at is not None]
        return max(ends) if ends else None


def shuffled(contestants: list[Contestant], rng: random.Random, blind: bool) -> list[Contestant]:
    """Display order: shuffled in blind mode so position says nothing about identity."""
    order = list(contestants)
    if blind:
        rng.shuffle(order)
    return order


def _history(previous: Round | None, contestant: Contestant) -> list[dict[str, str]]:
    """A side's own conversation so far (multi-turn rounds keep each side's answers)."""
    if previous is None:
        return []
    side = next(s for s in previous.sides if s.contestant == contestant)
    turns = [m for m in side.request.messages if m["role"] != "system"]
    return [*turns, {"role": "assistant", "content": side.text}]


def _consume(rt: Runtime, battle: Round, side: Side) -> None:
    """Read one side to its end; the side that ends last logs the round, so a round is logged
    even if no page run ever sees it finish (the browser was closed mid-round)."""
    try:
        assert side.stream is not None
        for delta in side.stream:
            if delta.kind == "reasoning":
                side.reasoning += delta.text
            else:
                side.text += delta.text
    finally:
        side.ended_at = time.perf_counter()
        side.done.set()
        try:
            log_round(rt, battle)
        except WriterClosed:
            log.warning("Arena round %s ended after shutdown began; not logged", battle.id)


def start_round(
    rt: Runtime,
    user_id: str,
    contestants: list[Contestant],
    prompt: str,
    *,
    blind: bool = True,
    rng: random.Random | None = None,
    previous: Round | None = None,
    study: StudyRef | None = None,
) -> Round:
    """Send the prompt to every contestant at once; returns while they stream."""
    if not 2 <= len(contestants) <= 4:
        raise ValueError("An arena round needs 2 to 4 contestants.")
    order = (
        [s.contestant for s in previous.sides]  # continuing rounds keep their positions
        if previous is not None
        else shuffled(contestants, rng or random.Random(), blind)
    )
    sides = []
    for position, contestant in enumerate(order):
        persona_prompt = contestant.persona.system_prompt if contestant.persona else None
        messages = [
            *system_messages(persona_prompt),
            *_history(previous, contestant),
            {"role": "user", "content": prompt},
        ]
        request = ChatRequest(
            contestant.model.endpoint, contestant.model.id, messages, contestant.sampling
        )
        sides.append(Side(position, contestant, request))
    battle = Round(
        new_id(),
        user_id,
        prompt,
        sides,
        blind,
        parent_id=previous.id if previous else None,
        study=study,
    )
    for side in sides:  # send every request before reading any answer
        side.record = InflightRecord(
            rt.writer, functools.partial(_side_exchange, battle, side), user_id=user_id
        )
        side.stream = stream_chat(rt.pool, side.request, side.record)
    for side in sides:
        side.thread = threading.Thread(
            target=_consume,
            args=(rt, battle, side),
            daemon=True,
            name=f"aeries-arena-{side.position}",
        )
        side.thread.start()
    return battle


def log_round(rt: Runtime, battle: Round) -> None:
    """Store the battle, its sides and each side's exchange (once, after every side ended;
    called by the side threads and the page alike)."""
    with battle.log_lock:
        if battle.logged or not battle.finished:
            return
        battle.logged = True
    row = battle_row(
        battle_id=battle.id,
        user_id=battle.user_id,
        parent_battle_id=battle.parent_id,
        prompt=battle.prompt,
        blind=battle.blind,
        contestant_count=len(battle.sides),
        created_at=utcnow(),
        study=battle.study,
    )
    ops: list[Op] = [Insert("battles", row)]
    done: list[Op] = []
    for side in battle.sides:
        assert side.stream is not None
        persona = side.contestant.persona
        log_exchange(rt.writer, _side_exchange(battle, side, side.stream.result))
        if side.record is not None:
            done += side.record.done_ops()
        side_row = battle_side_row(
            battle_id=battle.id,
            position=side.position,
            contestant=side.contestant.label,
            model=side.contestant.model.id,
            persona_id=persona.id if persona else None,
            params=json.dumps(side.contestant.sampling.as_params()),
            exchange_id=side.stream.result.id,
        )
        ops.append(Insert("battle_sides", side_row))
    rt.writer.submit(*ops, *done)


def _side_exchange(battle: Round, side: Side, result: CallResult) -> dict[str, Any]:
    """The exchanges row of one side (in flight, or final)."""
    persona = side.contestant.persona
    params = {
        "contestant": side.contestant.label,
        "position": side.position,
        "battle_id": battle.id,
        "persona": persona.name if persona else None,
    }
    return exchange_row(
        side.request,
        result,
        source="arena",
        user_id=battle.user_id,
        persona_id=persona.id if persona else None,
        params=params,
        study=battle.study,
    )


def _pairs(battle: Round, outcome: str, best: int | None) -> list[tuple[Side, Side, Winner]]:
    """Pairwise outcomes (a, b, winner) a vote stands for."""
    sides = battle.sides
    if len(sides) == 2:
        two_sided = next((w for w in WINNERS if w == outcome), None)  # a, b, tie, both_bad
        if two_sided is None:
            raise ValueError(f"Unknown outcome {outcome!r}.")
        return [(sides[0], sides[1], two_sided)]
    if outcome == "both_bad":  # all bad: every pair a bad tie
        return [(a, b, "both_bad") for i, a in enumerate(sides) for b in sides[i + 1 :]]
    if outcome != "best" or best is None or not 0 <= best < len(sides):
        raise ValueError("With more than two contestants, pick the best one.")
    labels = [s.contestant.label for s in sides]
    by_label = {s.contestant.label: s for s in sides}
    if len(by_label) < len(sides):  # identical contestants: pair by position instead
        return [(sides[best], s, "a") for s in sides if s is not sides[best]]
    return [(by_label[a], by_label[b], w) for a, b, w in expand_best_of(labels, labels[best])]


def _pair_side(side: Side) -> PairSide:
    assert side.stream is not None
    result = side.stream.result
    model = side.contestant.model.id
    return PairSide(side.contestant.label, model, result.id, result.ttft_ms, side.position)


def record_vote(
    rt: Runtime,
    battle: Round,
    outcome: VoteOutcome,
    *,
    best: int | None = None,
    reasons: list[VoteReason] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Store a vote and its pairwise preferences; a round takes one vote."""
    if battle.vote is not None:
        raise ValueError("This round already has a vote.")
    if not battle.finished:
        raise ValueError("Wait until every answer has finished (or stop them) before voting.")
    pairs = _pairs(battle, outcome, best)
    log_round(rt, battle)
    last = battle.last_token_at
    now = utcnow()
    vote = vote_row(
        vote_id=new_id(),
        battle_id=battle.id,
        user_id=battle.user_id,
        outcome=outcome,
        best_position=best,
        reasons=list(reasons or []),
        comment=(comment or "").strip() or None,
        ms_to_vote=(time.perf_counter() - last) * 1000 if last else None,
        created_at=now,
        study=battle.study,
    )
    ops: list[Op] = [Insert("votes", vote)]
    for a, b, winner in pairs:
        row = preference_row(
            kind="explicit",
            source="arena",
            user_id=battle.user_id,
            a=_pair_side(a),
            b=_pair_side(b),
            winner=winner,
            created_at=now,
            battle_id=battle.id,
            vote_id=vote["id"],
        )
        ops.append(Insert("preferences", row))
    rt.writer.submit(*ops)
    battle.vote = vote
    return vote
