"""A synthetic live study with a known answer: ``python -m aeries demo --study``.

Three conditions of one chat assistant — ``neutral`` (the reference), ``warm`` and ``terse`` —
and participants who go through it the way the app takes them through it: every arrival,
consent, questionnaire and exit goes through ``aeries.studies.flow`` (so through
``aeries.store.studies``, with the study's own seeded block assignment); their conversations,
exchanges (with the study columns) and signals go through the background writer, built by the
store's row builders. Then the rows' times are spread over a few days, as if the participants
had come one after another.

The planted effect: in ``warm`` the post item ``helpful`` (a 5-point Likert item) is +0.8
points higher in expectation than in the reference, and its answers start sooner (it is served
from a less busy GPU box: median TTFT ~270 ms against ~430 ms). ``terse`` differs from the
reference only in shorter answers (so a shorter E2E). The numeric item ``reuse`` has no effect.
Every row outside the study tables has ``synthetic = true``, and the participants' accounts
too, so ``python -m aeries demo --replace`` removes the study with the rest of the demo.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from aeries.calls import CallResult, ChatRequest, Sampling, StudyRef
from aeries.demo.calls import uuid7
from aeries.demo.catalog import ANSWER_TEXTS, COMMENTS, ENDPOINT, ERRORS, MODELS, PROMPT_TEXTS
from aeries.demo.run import DemoError
from aeries.messages import Message
from aeries.store.conversations import message_row
from aeries.store.db import Database
from aeries.store.exchanges import exchange_row
from aeries.store.facts import rebuild_facts
from aeries.store.signals import USER_FEEDBACK, Provenance, signal_row
from aeries.store.studies import get_study, save_study_version, set_study_status, update_enrolment
from aeries.store.writer import Insert, Op, Writer
from aeries.studies import flow
from aeries.studies.spec import parse_study
from aeries.text import make_title

DEMO_STUDY_ID = "demo-warmth"
DEMO_PARTICIPANTS = 120  # what `python -m aeries demo --study` writes
HELPFUL_SCALE = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")
# The reference's answers to `helpful` (points 1..5; none at the top, so a shift of one point
# stays on the scale). In `warm` an answer is one point higher with probability 0.8: +0.8.
HELPFUL_P = np.array([0.10, 0.30, 0.40, 0.20, 0.0])
WARM_SHIFT_P = 0.8
EFFECT_CONDITION = "warm"
OBSERVER = Provenance("observer", "1", "demo0000observer")
OBSERVER_MODEL = MODELS[1].name
FAST_ENDPOINT = "http://gpu-box-2:8000/v1"

STUDY_TEMPLATE = '''# Written by `python -m aeries demo --study`: its data is made up.
id = "{study_id}"
title = "Talking with an assistant (synthetic demo)"
reference = "neutral"
tasks = ["chat"]

consent = """
You are invited to take part in a study about conversations with an AI assistant.
It takes about 10 minutes. Your messages and answers are stored for research, without your
name. You may stop at any time.
"""

instructions = """
Ask the assistant for help with a small everyday question of your choice.
Send at least two messages, then press **I am done with the conversation**.
"""

[chat]
min_turns = 2
max_turns = 8

[assignment]
method = "blocks"
seed = {seed}
blocks_of = 2

[[conditions]]
name = "neutral"
description = "Plain assistant"
model = "gemma-3-12b"
system_prompt = "You are a helpful assistant. Answer concisely."

[[conditions]]
name = "warm"
description = "Warm tone, served from the less busy GPU box (the planted effect)"
model = "gemma-3-12b"
endpoint = "{fast_endpoint}"
system_prompt = "You are a warm, encouraging assistant. Answer concisely and kindly."

[[conditions]]
name = "terse"
description = "As few words as possible"
model = "gemma-3-12b"
system_prompt = "Answer in as few words as possible. No filler."

[[pre]]
id = "uses_ai"
kind = "single"
text = "How often do you use AI assistants?"
options = ["Never", "Sometimes", "Every day"]
screen_out = ["Never"]

[[pre]]
id = "age"
kind = "numeric"
text = "Your age in years"
min = 18
max = 99

[[post]]
id = "helpful"
kind = "likert"
text = "The assistant was helpful."
scale = {scale}

[[post]]
id = "attention"
kind = "likert"
text = "To show you are reading, choose “Agree”."
scale = {scale}
correct = "Agree"

[[post]]
id = "reuse"
kind = "numeric"
text = "How likely are you to use this assistant again (0 = not at all, 100 = certainly)?"
min = 0
max = 100

[[post]]
id = "comments"
kind = "text"
text = "Anything else you want to tell us?"
required = false

[exits]
completed = "C1DEMO26"
declined = "C0DECL26"
screened_out = "C0SCRN26"
failed_attention = "C0ATTN26"
timed_out = "C0TIME26"
redirect = "https://app.prolific.com/submissions/complete?cc={{code}}"
time_limit_minutes = 60
max_attention_failures = 0
'''

Way = Literal[
    "declined", "screened_out", "in_progress", "timed_out", "failed_attention", "completed"
]
WAYS: tuple[Way, ...] = (
    "declined",
    "screened_out",
    "in_progress",
    "timed_out",
    "failed_attention",
    "completed",
)
WAY_P = np.array([0.04, 0.06, 0.03, 0.03, 0.04, 0.80])
# Minutes in each step (median of a log-normal), before the chat.
STEP_MINUTES = {"consent": 0.7, "instructions": 0.5, "pre": 1.0, "post": 1.6}


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


def study_text(study_id: str = DEMO_STUDY_ID, seed: int = 0) -> str:
    """The demo study's file."""
    return STUDY_TEMPLATE.format(
        study_id=study_id,
        seed=seed,
        scale=json.dumps(list(HELPFUL_SCALE), ensure_ascii=False),
        fast_endpoint=FAST_ENDPOINT,
    )


def write_synthetic_study(
    db: Database,
    writer: Writer,
    *,
    participants: int = 120,
    seed: int = 0,
    study_id: str = DEMO_STUDY_ID,
    end: datetime | None = None,
) -> str:
    """Write a live synthetic study with ``participants`` arrivals (see the module doc) into a
    migrated database, waiting for ``writer`` to commit its rows, then rebuild the derived
    score tables; return the study's id. Raises DemoError if the study exists already."""
    if participants < 1:
        raise DemoError("A study needs at least one participant.")
    if get_study(db, study_id) is not None:
        raise DemoError(
            f"{db.path} already holds a study {study_id!r}. Use --replace to regenerate the "
            "demo, or --db to write another file."
        )
    rng = np.random.default_rng(seed)
    text = study_text(study_id, seed)
    study = parse_study(text)
    save_study_version(db, study.id, study.title, study.config_hash, text)
    set_study_status(db, study.id, "live")
    finish = end or datetime.now(UTC)
    people = _plan(rng, participants, finish)
    for person in people:
        _take_part(db, rng, study_id, person)
    _spread_in_time(db, study_id, people, flow.steps(study))
    ops = _chat_rows(rng, people)
    writer.submit(*ops)
    if not writer.flush(timeout=120):
        raise DemoError("The study's chat rows could not be written (the store is not writing).")
    rebuild_facts(db)  # the thumbs and observer scores analytics reads, as after the demo
    return study_id


def _plan(rng: np.random.Generator, n: int, end: datetime) -> list[_Participant]:
    """Who comes when, which way they leave, how long they take."""
    span = timedelta(days=4).total_seconds()
    offsets = np.sort(rng.uniform(0, span - 3 * 3600, n))
    start = end - timedelta(seconds=span)
    people = []
    for offset in offsets:
        way = WAYS[int(rng.choice(len(WAYS), p=WAY_P))]
        turns = int(rng.integers(2, 7))
        gaps = list(rng.lognormal(np.log(1.3), 0.4, turns))
        minutes = {s: float(rng.lognormal(np.log(m), 0.5)) for s, m in STEP_MINUTES.items()}
        minutes["chat"] = sum(gaps) + float(rng.uniform(0.3, 1.0))
        if way == "timed_out":  # came back long after the time limit
            minutes["chat"] += float(rng.uniform(90, 1200))
        people.append(
            _Participant(
                key=rng.bytes(12).hex(),  # like a Prolific participant id
                way=way,
                start=start + timedelta(seconds=float(offset)),
                turns=turns,
                gaps=gaps,
                minutes=minutes,
            )
        )
    return people


def _take_part(db: Database, rng: np.random.Generator, study_id: str, p: _Participant) -> None:
    """One participant's way through the study, as the participant page drives the flow."""
    link = {"PROLIFIC_PID": p.key, "STUDY_ID": "demo", "SESSION_ID": p.key.lower()}
    place = flow.arrive(db, study_id, link)
    p.enrolment_id, p.user_id = place.enrolment.id, place.enrolment.user_id
    if p.way == "declined":
        flow.consent(db, place, agreed=False)
        return
    place = flow.advance(db, flow.consent(db, place, agreed=True))  # instructions, then pre
    uses_ai = "Never" if p.way == "screened_out" else str(rng.choice(["Sometimes", "Every day"]))
    place, problems = flow.submit(
        db, place, "pre", {"uses_ai": uses_ai, "age": int(rng.integers(18, 75))}
    )
    if problems:
        raise DemoError(f"The demo's pre answers were refused: {problems}")
    p.ref = place.ref
    if p.way == "screened_out" or p.ref is None:
        return
    p.conversation_id = str(uuid7(np.array([_us(p.start)]), rng)[0])
    enrolment = update_enrolment(
        db, place.enrolment, turns=p.turns, conversation_id=p.conversation_id
    )
    place = flow.Place(place.record, place.study, enrolment)
    if p.way == "in_progress":
        return
    if p.way == "timed_out":
        flow.finish(db, place, "timed_out")
        return
    place = flow.finish_chat(db, place)
    place, problems = flow.submit(db, place, "post", _post_answers(rng, p))
    if problems or place.enrolment.status != p.way:
        raise DemoError(f"The demo's post answers went wrong: {problems or place.enrolment}")


def _post_answers(rng: np.random.Generator, p: _Participant) -> dict[str, Any]:
    assert p.ref is not None
    point = int(rng.choice(5, p=HELPFUL_P))
    if p.ref.condition == EFFECT_CONDITION and rng.random() < WARM_SHIFT_P:
        point += 1
    attention = "Agree"
    if p.way == "failed_attention":
        attention = str(rng.choice([s for s in HELPFUL_SCALE if s != "Agree"]))
    answers: dict[str, Any] = {
        "helpful": HELPFUL_SCALE[point],
        "attention": attention,
        "reuse": float(np.clip(np.round(rng.normal(58, 18)), 0, 100)),
    }
    if rng.random() < 0.25:
        answers["comments"] = str(rng.choice(COMMENTS))
    return answers


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
    with db.transaction() as cur:
        for name, rows in (
            ("demo_steps", steps),
            ("demo_enrolments", enrolments),
            ("demo_answers", answers),
            ("demo_users", users),
        ):
            cur.register(name, pa.Table.from_pylist(rows, schema=_schema(rows)))
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
        for name in ("demo_steps", "demo_enrolments", "demo_answers", "demo_users"):
            cur.unregister(name)


def _schema(rows: list[dict[str, Any]]) -> pa.Schema:
    """Timestamps as UTC timestamps even where a column holds only NULLs."""
    if not rows:
        return pa.schema([("enrolment_id", pa.string()), ("questionnaire", pa.string())])
    stamp = pa.timestamp("us", "UTC")
    return pa.schema(
        [
            (k, pa.string() if k in ("id", "enrolment_id", "step", "questionnaire") else stamp)
            for k in rows[0]
        ]
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


def run_demo_study(path: str | Path, *, seed: int = 0) -> tuple[str, int]:
    """Open the database at ``path`` (migrated already, by the demo), write the synthetic study
    through a writer of its own, and return its id and how many participants completed it."""
    db = Database(path)
    try:
        writer = Writer(db, checkpoint_interval_s=None)
        try:
            study_id = write_synthetic_study(db, writer, participants=DEMO_PARTICIPANTS, seed=seed)
        finally:
            writer.close()
        row = db.one(
            "SELECT count(*) FROM enrolments WHERE study_id = ? AND status = 'completed'",
            [study_id],
        )
        return study_id, int(row[0]) if row else 0
    finally:
        db.close()
