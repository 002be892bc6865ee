"""The rows a synthetic study's chats leave: the participants' exchanges (with the study
columns), their conversations and messages, their thumbs and the observer's calls and signals
about each answer, all built by the store's row builders; and the study rows' times spread over
a few days, as if the participants had come one after another (``aeries.demo.study`` drives
the flow and writes these).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from aeries.calls import CallResult, ChatRequest, Sampling, StudyRef
from aeries.demo.calls import uuid7
from aeries.demo.catalog import ANSWER_TEXTS, ENDPOINT, ERRORS, MODELS, PROMPT_TEXTS
from aeries.messages import Message
from aeries.store.conversations import message_row
from aeries.store.db import Database
from aeries.store.exchanges import exchange_row
from aeries.store.signals import USER_FEEDBACK, Provenance, signal_row
from aeries.store.writer import Insert, Op
from aeries.text import make_title

OBSERVER = Provenance("observer", "1", "demo0000observer")
OBSERVER_MODEL = MODELS[1].name
FAST_ENDPOINT = "http://gpu-box-2:8000/v1"

Way = Literal[
    "declined", "screened_out", "in_progress", "timed_out", "failed_attention", "completed"
]


@dataclass(frozen=True)
class Profile:
    """What a condition's answers are like."""

    ttft_ms: float  # median
    tokens: float  # median completion tokens
    thumbs_up: float  # probability a thumb is up
    satisfaction: float  # the observer's mean score
    endpoint: str = ENDPOINT


PROFILES = {
    "neutral": Profile(430.0, 170.0, 0.68, 0.62),
    "warm": Profile(270.0, 190.0, 0.80, 0.72, FAST_ENDPOINT),
    "terse": Profile(430.0, 55.0, 0.62, 0.58),
}


@dataclass
class _Participant:
    key: str
    way: Way  # how they leave (in_progress: they never do)
    start: datetime
    turns: int
    gaps: list[float]  # minutes from the chat's start (or the previous answer) to each message
    minutes: dict[str, float]  # per step
    enrolment_id: str = ""
    user_id: str = ""
    ref: StudyRef | None = None
    conversation_id: str = ""
    times: dict[str, tuple[datetime, datetime | None]] = field(default_factory=dict)


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _spread_in_time(
    db: Database, study_id: str, people: list[_Participant], order: Sequence[str]
) -> None:
    """Give the study's rows the participants' simulated times (the flow wrote them at once)."""
    by_enrolment = {p.enrolment_id: p for p in people}
    visited: dict[str, list[str]] = {}
    for enrolment_id, step in db.rows(
        "SELECT enrolment_id, step FROM enrolment_steps WHERE study_id = ?", [study_id]
    ):
        visited.setdefault(enrolment_id, []).append(step)
    steps: list[dict[str, Any]] = []
    enrolments: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for enrolment_id, names in visited.items():
        p = by_enrolment[enrolment_id]
        names.sort(key=order.index)
        t = p.start
        for i, name in enumerate(names):
            left = None if i == len(names) - 1 else t + timedelta(minutes=p.minutes[name])
            p.times[name] = (t, left)
            steps.append({"enrolment_id": enrolment_id, "step": name, "at": t, "left": left})
            if name in ("pre", "post") and left is not None:
                answers.append({"enrolment_id": enrolment_id, "questionnaire": name, "at": left})
            t = left or t
        enrolments.append(
            {
                "id": enrolment_id,
                "started_at": p.start,
                "step_started_at": p.times[names[-1]][0],
                "task_started_at": p.times["chat"][0] if "chat" in p.times else None,
                "finished_at": p.times["done"][0] if "done" in p.times else None,
            }
        )
    users = [{"id": p.user_id, "at": p.start} for p in people]
    first = min(p.start for p in people)
    staged = (
        ("demo_steps", steps),
        ("demo_enrolments", enrolments),
        ("demo_answers", answers),
        ("demo_users", users),
    )
    with db.transaction() as cur:
        # Temporary tables filled with executemany, then UPDATE … FROM them: SQL both engines
        # take (a few hundred rows per table; DuckDB's register of Arrow has no PostgreSQL twin).
        for name, rows in staged:
            _stage(cur, name, rows)
        cur.execute(
            """UPDATE enrolment_steps s SET entered_at = t.at, left_at = t.left FROM demo_steps t
               WHERE s.enrolment_id = t.enrolment_id AND s.step = t.step"""
        )
        cur.execute(
            """UPDATE enrolments e SET started_at = t.started_at,
                      step_started_at = t.step_started_at, task_started_at = t.task_started_at,
                      finished_at = t.finished_at
               FROM demo_enrolments t WHERE e.id = t.id"""
        )
        if answers:
            cur.execute(
                """UPDATE answers a SET answered_at = t.at FROM demo_answers t
                   WHERE a.enrolment_id = t.enrolment_id AND a.questionnaire = t.questionnaire"""
            )
        cur.execute(
            "UPDATE users u SET created_at = t.at, synthetic = true FROM demo_users t"
            " WHERE u.id = t.id"
        )
        cur.execute(
            "UPDATE studies SET created_at = ?, updated_at = ? WHERE id = ?",
            [first - timedelta(days=2), first - timedelta(hours=1), study_id],
        )
        cur.execute(
            "UPDATE study_versions SET created_at = ?, frozen_at = ? WHERE study_id = ?",
            [first - timedelta(days=2), first - timedelta(hours=1), study_id],
        )
        for name, _ in staged:
            cur.execute(f"DROP TABLE {name}")


_TEXT_COLUMNS = ("id", "enrolment_id", "step", "questionnaire")


def _stage(cur: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """A temporary table ``name`` holding ``rows`` (ids as text, the rest UTC timestamps)."""
    columns = list(rows[0]) if rows else ["enrolment_id", "questionnaire"]
    # Quoted: "at" and "left" are reserved words.
    typed = ", ".join(
        f'"{c}" {"VARCHAR" if c in _TEXT_COLUMNS else "TIMESTAMPTZ"}' for c in columns
    )
    cur.execute(f"CREATE TEMPORARY TABLE {name} ({typed})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        cur.executemany(
            f"INSERT INTO {name} ({names}) VALUES ({marks})",
            [[row[c] for c in columns] for row in rows],
        )


def _chat_rows(rng: np.random.Generator, people: list[_Participant]) -> list[Op]:
    """Every participant's conversation: messages, exchanges, thumbs and observer notes."""
    conversations: list[Op] = []
    messages: list[Op] = []
    exchanges: list[Op] = []
    signals: list[Op] = []
    prompt = PROMPT_TEXTS
    for p in people:
        if p.ref is None or not p.conversation_id or "chat" not in p.times:
            continue
        profile = PROFILES[p.ref.condition]
        system = _SYSTEM[p.ref.condition]
        t = p.times["chat"][0]
        parent: str | None = None
        history: list[dict[str, str]] = [{"role": "system", "content": system}]
        first_text = ""
        answer_at = t
        for gap in p.gaps:
            t += timedelta(minutes=gap)
            question = str(prompt[int(rng.integers(len(prompt)))])
            first_text = first_text or question
            user_id, answer_id, exchange_id = (
                str(x) for x in uuid7(np.array([_us(t)] * 3), rng).to_pylist()
            )
            messages.append(
                Insert("messages", message_row(_message(user_id, p, parent, "user", question, t)))
            )
            history.append({"role": "user", "content": question})
            ok = rng.random() > 0.04
            result = _result(rng, exchange_id, profile, p.ref.condition, t, ok)
            answer_at = t + timedelta(milliseconds=result.e2e_ms or 900.0)
            request = ChatRequest(profile.endpoint, "gemma-3-12b", list(history), Sampling())
            row = exchange_row(
                request,
                result,
                source="chat",
                user_id=p.user_id,
                conversation_id=p.conversation_id,
                message_id=answer_id,
                brief_enabled=False,
                params={"history": 20, "system_prompt": system},
                study=p.ref,
            )
            exchanges.append(Insert("exchanges", row | {"synthetic": True}))
            answer = _message(answer_id, p, user_id, "assistant", result.content, answer_at)
            answer.status, answer.exchange_id = result.status, exchange_id
            messages.append(Insert("messages", message_row(answer)))
            parent = answer_id
            if not ok:
                continue
            history.append({"role": "assistant", "content": result.content})
            target: dict[str, Any] = {
                "user_id": p.user_id,
                "conversation_id": p.conversation_id,
                "exchange_id": exchange_id,
                "message_id": answer_id,
                "study": p.ref,
            }
            if rng.random() < 0.45:
                up = float(rng.random() < profile.thumbs_up)
                thumb = signal_row(
                    kind="feedback", name="thumbs", provenance=USER_FEEDBACK, value_num=up, **target
                )
                thumb |= {"created_at": answer_at + timedelta(seconds=8), "synthetic": True}
                signals.append(Insert("signals", thumb))
            if rng.random() < 0.9:
                observed = _observe(rng, p, profile, exchange_id, answer_id, answer_at, target)
                exchanges.append(observed[0])
                signals += observed[1:]
        conversations.append(
            Insert(
                "conversations",
                {
                    "id": p.conversation_id,
                    "user_id": p.user_id,
                    "title": make_title(first_text),
                    "persona_id": None,
                    "brief_enabled": False,
                    "created_at": p.times["chat"][0],
                    "last_message_at": answer_at,
                    "message_count": 2 * p.turns,
                    "current_leaf_id": parent,
                    "synthetic": True,
                },
            )
        )
    return conversations + messages + exchanges + signals


_SYSTEM = {
    "neutral": "You are a helpful assistant. Answer concisely.",
    "warm": "You are a warm, encouraging assistant. Answer concisely and kindly.",
    "terse": "Answer in as few words as possible. No filler.",
}


def _message(
    message_id: str, p: _Participant, parent: str | None, role: str, text: str, at: datetime
) -> Message:
    return Message(message_id, p.conversation_id, parent, role, text, at)


def _result(
    rng: np.random.Generator,
    exchange_id: str,
    profile: Profile,
    condition: str,
    at: datetime,
    ok: bool,
) -> CallResult:
    """A chat call as the client would have timed it."""
    if not ok:
        failure = ERRORS[0]
        return CallResult(
            exchange_id, "error", error=failure.text, error_kind=failure.kind, started_at=at
        )
    text = str(ANSWER_TEXTS[int(rng.integers(len(ANSWER_TEXTS)))])
    if condition == "terse":
        text = text.split(". ")[0].rstrip(".") + "."
    tokens = max(2, int(rng.lognormal(np.log(profile.tokens), 0.3)))
    ttft = float(rng.lognormal(np.log(profile.ttft_ms), 0.35))
    tpot = float(rng.lognormal(np.log(19.0), 0.15))
    e2e = ttft + (tokens - 1) * tpot
    return CallResult(
        exchange_id,
        "ok",
        content=text,
        finish_reason="stop",
        started_at=at,
        ttft_ms=round(ttft, 3),
        e2e_ms=round(e2e, 3),
        chunk_count=tokens,
        prompt_tokens=int(rng.integers(40, 400)),
        completion_tokens=tokens,
    )


def _observe(
    rng: np.random.Generator,
    p: _Participant,
    profile: Profile,
    exchange_id: str,
    answer_id: str,
    answer_at: datetime,
    target: dict[str, Any],
) -> list[Op]:
    """The observer's call about one answer and the satisfaction and sentiment it noted."""
    at = answer_at + timedelta(seconds=1)
    satisfaction = float(np.clip(rng.normal(profile.satisfaction, 0.15), 0, 1).round(2))
    sentiment = float(np.clip(2 * satisfaction - 1 + rng.normal(0, 0.15), -1, 1).round(2))
    observation = json.dumps({"sentiment": sentiment, "satisfaction": satisfaction})
    ttft = float(rng.lognormal(np.log(150.0), 0.3))
    result = CallResult(
        str(uuid7(np.array([_us(at)]), rng)[0]),
        "ok",
        content=observation,
        finish_reason="stop",
        started_at=at,
        ttft_ms=round(ttft, 3),
        e2e_ms=round(ttft + 40 * 15.0, 3),
        chunk_count=40,
        prompt_tokens=int(rng.integers(300, 900)),
        completion_tokens=40,
    )
    request = ChatRequest(
        ENDPOINT,
        OBSERVER_MODEL,
        [{"role": "system", "content": "You observe a conversation (demo)."}],
        Sampling(temperature=0.0, top_p=1.0, max_tokens=400, thinking=False),
    )
    row = exchange_row(
        request,
        result,
        source="observer",
        user_id=p.user_id,
        conversation_id=p.conversation_id,
        message_id=answer_id,
        params={"extractor": OBSERVER.extractor, "observed_exchange_id": exchange_id},
        study=p.ref,
    )
    noted = at + timedelta(milliseconds=result.e2e_ms or 0.0)
    ops: list[Op] = [Insert("exchanges", row | {"synthetic": True})]
    for signal in (
        signal_row(
            kind="observer",
            name="satisfaction",
            provenance=OBSERVER,
            value_num=satisfaction,
            **target,
        ),
        signal_row(
            kind="observer", name="sentiment", provenance=OBSERVER, value_num=sentiment, **target
        ),
    ):
        ops.append(Insert("signals", signal | {"created_at": noted, "synthetic": True}))
    return ops
