"""A synthetic live study with a known answer: ``python -m aeries demo --study``.

Three conditions of one chat assistant — ``neutral`` (the reference), ``warm`` and ``terse`` —
and participants who go through it the way the app takes them through it: every arrival,
consent, questionnaire and exit goes through ``aeries.studies.flow`` (so through
``aeries.store.studies``, with the study's own seeded block assignment); their conversations,
exchanges (with the study columns) and signals go through the background writer, built by the
store's row builders (in ``aeries.demo.study_rows``). Then the rows' times are spread over a few
days, as if the participants had come one after another.

The planted effect: in ``warm`` the post item ``helpful`` (a 5-point Likert item) is +0.8
points higher in expectation than in the reference, and its answers start sooner (it is served
from a less busy GPU box: median TTFT ~270 ms against ~430 ms). ``terse`` differs from the
reference only in shorter answers (so a shorter E2E). The numeric item ``reuse`` has no effect.
Every row outside the study tables has ``synthetic = true``, and the participants' accounts
too, so ``python -m aeries demo --replace`` removes the study with the rest of the demo.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from aeries.demo.calls import uuid7
from aeries.demo.catalog import COMMENTS
from aeries.demo.run import DemoError
from aeries.demo.study_rows import (
    FAST_ENDPOINT,
    OBSERVER,
    OBSERVER_MODEL,
    PROFILES,
    Profile,
    Way,
    _chat_rows,
    _Participant,
    _spread_in_time,
    _us,
)
from aeries.store.db import Database
from aeries.store.facts import rebuild_facts
from aeries.store.studies import get_study, save_study_version, set_study_status, update_enrolment
from aeries.store.writer import Writer
from aeries.studies import flow
from aeries.studies.spec import parse_study

__all__ = [
    "DEMO_PARTICIPANTS",
    "DEMO_STUDY_ID",
    "EFFECT_CONDITION",
    "FAST_ENDPOINT",
    "HELPFUL_P",
    "HELPFUL_SCALE",
    "OBSERVER",
    "OBSERVER_MODEL",
    "PROFILES",
    "STEP_MINUTES",
    "STUDY_TEMPLATE",
    "WARM_SHIFT_P",
    "WAYS",
    "WAY_P",
    "Profile",
    "Way",
    "run_demo_study",
    "study_text",
    "write_synthetic_study",
]

DEMO_STUDY_ID = "demo-warmth"
DEMO_PARTICIPANTS = 120  # what `python -m aeries demo --study` writes
HELPFUL_SCALE = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")
# The reference's answers to `helpful` (points 1..5; none at the top, so a shift of one point
# stays on the scale). In `warm` an answer is one point higher with probability 0.8: +0.8.
HELPFUL_P = np.array([0.10, 0.30, 0.40, 0.20, 0.0])
WARM_SHIFT_P = 0.8
EFFECT_CONDITION = "warm"

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
