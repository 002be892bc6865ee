"""A participant's way through a study, without the UI: arrive by link, consent, questionnaires,
the task in their condition, the exit with its completion code and redirect.

Every transition is read from and written to the store at once, so a reload or a second
device resumes at the same step with the same condition. What decides an exit (a declined
consent, a screening answer, too many failed attention checks, the time limit) lives here.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aeries.calls import StudyRef
from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.studies import (
    AnswerRow,
    Enrolment,
    StudyRecord,
    StudyVersion,
    assignment_state,
    enrolment_and_study,
    enrolment_answers,
    enrolment_lock,
    find_enrolment,
    get_enrolment,
    get_study,
    get_version,
    insert_enrolment,
    save_answers,
    update_enrolment,
)
from aeries.store.users import study_account
from aeries.studies.assignment import NO_STRATUM, all_full, assign
from aeries.studies.spec import Item, Study, parse_study
from aeries.vocabulary import ExitOutcome, Questionnaire, StudyStep

PARTICIPANT_KEY = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
PLAIN_PARTICIPANT_PARAM = "pid"

UNKNOWN_STUDY = (
    "There is no study at this link. Check that you opened the whole link you were given."
)
NOT_STARTED = "This study has not started yet. Please come back when the researchers open it."
PAUSED = "This study is paused and takes no new participants right now. Please try again later."
CLOSED = "This study has ended and takes no more participants. Thank you for your interest."
FULL = "This study has all the participants it needs. Thank you for your interest."
NO_PARTICIPANT = (
    "This link has no participant id. Open the study from the recruiting platform, or ask the "
    "researchers for your personal link."
)
BAD_PARTICIPANT = "The participant id in this link is not valid (letters, digits, . _ - @)."


class StudyUnavailable(Exception):
    """A link that cannot open the study; ``message`` says why, plainly, to the participant."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Place:
    """Where a participant is: the study as their version froze it, and their enrolment."""

    record: StudyRecord
    study: Study
    enrolment: Enrolment
    new: bool = False  # enrolled by this arrival (not resumed)

    @property
    def ref(self) -> StudyRef | None:
        e = self.enrolment
        if e.condition is None:
            return None
        return StudyRef(e.study_id, e.config_hash, e.condition)


@functools.lru_cache(maxsize=64)
def _parsed(config_hash: str, text: str) -> Study:
    """A version's study, parsed once: a hash names one meaning (participants only ever meet
    frozen versions, whose text never changes)."""
    return parse_study(text)


def load_version(db: Database, study_id: str, version: int) -> tuple[StudyVersion, Study]:
    found = get_version(db, study_id, version)
    if found is None:
        raise StudyUnavailable(UNKNOWN_STUDY)
    return found, _parsed(found.config_hash, found.config_toml)


def place_of(db: Database, enrolment_id: str) -> Place:
    """An enrolment's place as it is in the store now (one query; the study parsed once)."""
    found = enrolment_and_study(db, enrolment_id)
    if found is None:
        raise StudyUnavailable(UNKNOWN_STUDY)
    enrolment, record, text = found
    return check_time(db, Place(record, _parsed(enrolment.config_hash, text), enrolment))


def steps(study: Study) -> list[StudyStep]:
    """The steps of this study, in order."""
    order: list[StudyStep] = ["consent"]
    if study.instructions:
        order.append("instructions")
    if study.pre:
        order.append("pre")
    order.extend(study.tasks)
    if study.post:
        order.append("post")
    order.append("done")
    return order


def next_step(study: Study, step: StudyStep) -> StudyStep:
    order = steps(study)
    return order[min(order.index(step) + 1, len(order) - 1)]


def participant_of(study: Study, query: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The participant id a link carries (the platform's parameter, or a plain ``pid``) and
    the platform parameters to keep for the redirect."""
    raw = query.get(study.platform.participant_param) or query.get(PLAIN_PARTICIPANT_PARAM)
    if not raw:
        raise StudyUnavailable(NO_PARTICIPANT)
    key = raw.strip()
    if not PARTICIPANT_KEY.match(key):
        raise StudyUnavailable(BAD_PARTICIPANT)
    kept = {name: query[name][:200] for name in study.platform.keep if query.get(name)}
    return key, kept


def arrive(db: Database, study_id: str, query: Mapping[str, str]) -> Place:
    """The participant's place in the study a link names: their enrolment if they have one
    (whatever its state: a finished participant sees their code again), else a new one."""
    record = get_study(db, study_id)
    if record is None or record.status == "draft":
        raise StudyUnavailable(UNKNOWN_STUDY if record is None else NOT_STARTED)
    version, current = load_version(db, study_id, record.current_version)
    key, kept = participant_of(current, query)
    found = find_enrolment(db, study_id, key)
    if found is not None:
        _, theirs = load_version(db, study_id, found.version)
        return check_time(db, Place(record, theirs, found))
    if record.status == "paused":
        raise StudyUnavailable(PAUSED)
    if record.status == "closed":
        raise StudyUnavailable(CLOSED)
    with enrolment_lock(db, study_id):
        found = find_enrolment(db, study_id, key)  # the same person, twice at once
        if found is None:
            _, counts = assignment_state(db, study_id, NO_STRATUM, version.config_hash)
            if all_full(current, counts):
                raise StudyUnavailable(FULL)
            account = study_account(db, study_id, key)
            enrolment = insert_enrolment(
                db,
                study_id=study_id,
                version=version,
                participant_key=key,
                user_id=account.id,
                platform_params=kept,
                step="consent",
            )
            return Place(record, current, enrolment, new=True)
    _, theirs = load_version(db, study_id, found.version)
    return Place(record, theirs, found)


def may_continue(place: Place) -> str | None:
    """Why this participant cannot go on right now (closed study), or None."""
    if place.enrolment.status != "in_progress":
        return None
    if place.record.status == "closed":
        return CLOSED
    return None


def _moved(place: Place, enrolment: Enrolment) -> Place:
    return Place(place.record, place.study, enrolment)


def finish(db: Database, place: Place, outcome: ExitOutcome) -> Place:
    """End the enrolment with ``outcome`` and the completion code the study gives it."""
    code = place.study.exits.codes.get(outcome)
    enrolment = update_enrolment(
        db,
        place.enrolment,
        step="done",
        status=outcome,
        completion_code=code,
        finished_at=utcnow(),
    )
    return _moved(place, enrolment)


def check_time(db: Database, place: Place, now: datetime | None = None) -> Place:
    """Past the study's time limit, an unfinished enrolment ends as 'timed_out'."""
    limit = place.study.exits.time_limit_minutes
    e = place.enrolment
    if limit is None or e.status != "in_progress":
        return place
    elapsed = ((now or utcnow()) - e.started_at).total_seconds() / 60
    return finish(db, place, "timed_out") if elapsed > limit else place


def consent(db: Database, place: Place, *, agreed: bool) -> Place:
    if place.enrolment.step != "consent":
        return place
    if not agreed:
        return finish(db, place, "declined")
    return advance(db, place)


def advance(db: Database, place: Place) -> Place:
    """On to the next step; the task's first step assigns the condition."""
    step = next_step(place.study, place.enrolment.step)
    if step == "done":
        return finish(db, place, "completed")
    if step in place.study.tasks and place.enrolment.condition is None:
        return _start_task(db, place, step)
    return _moved(place, update_enrolment(db, place.enrolment, step=step))


def _start_task(db: Database, place: Place, step: StudyStep) -> Place:
    study = place.study
    stratum = NO_STRATUM
    if study.assignment.method == "stratified" and study.assignment.stratify_by:
        answer = enrolment_answers(db, place.enrolment.id).get(study.assignment.stratify_by)
        stratum = (answer.value_text or NO_STRATUM) if answer else NO_STRATUM
    with enrolment_lock(db, study.id):  # the study whose slots and counts are read
        # Read again under the lock: another device (or process) of this participant may have
        # started the task meanwhile, and a second assignment would take a second slot.
        current = get_enrolment(db, place.enrolment.id)
        assert current is not None
        moved_on = current.condition is not None or current.step != place.enrolment.step
        if moved_on or current.status != "in_progress":
            return _moved(place, current)
        next_slot, counts = assignment_state(db, study.id, stratum, current.config_hash)
        assigned = assign(study, stratum, next_slot, counts)
        if assigned is None:  # every condition filled up meanwhile
            return finish(db, _moved(place, current), "screened_out")
        enrolment = update_enrolment(
            db,
            current,
            step=step,
            condition=assigned.condition,
            stratum=stratum,
            slot=assigned.slot,
            task_started_at=utcnow(),
        )
    return _moved(place, enrolment)


# --- questionnaires ----------------------------------------------------------------------------


def items_of(study: Study, questionnaire: Questionnaire) -> tuple[Item, ...]:
    return study.pre if questionnaire == "pre" else study.post


def _answer(item: Item, raw: Any) -> tuple[AnswerRow | None, str | None]:
    """The stored form of one raw answer, or the problem with it."""
    empty = raw is None or raw == "" or raw == []
    if empty:
        return None, (f"“{item.text}” needs an answer." if item.required else None)
    if item.kind == "numeric":
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None, f"“{item.text}”: type a number."
        if not math.isfinite(number):
            return None, f"“{item.text}”: type a number."
        low, high = item.minimum, item.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            span = f"{low:g} to {high:g}" if low is not None and high is not None else "the range"
            return None, f"“{item.text}”: give a number from {span}."
        return AnswerRow(item.id, f"{number:g}", number, None), None
    if item.kind == "text":
        return AnswerRow(item.id, str(raw).strip()[:5000], None, None), None
    if item.kind == "multiple":
        chosen = [c for c in item.options if c in list(raw)]
        return AnswerRow(item.id, json.dumps(chosen, ensure_ascii=False), None, None), None
    if raw not in item.choices():
        return None, f"“{item.text}”: pick one of the answers offered."
    point = float(item.scale.index(raw) + 1) if item.kind == "likert" else None
    correct = None if item.correct is None else raw == item.correct
    return AnswerRow(item.id, str(raw), point, correct), None


def submit(
    db: Database, place: Place, questionnaire: Questionnaire, raw: Mapping[str, Any]
) -> tuple[Place, list[str]]:
    """Store a questionnaire's answers and move on, or return the problems (nothing stored)."""
    if place.enrolment.step != questionnaire:
        return place, []
    rows: list[AnswerRow] = []
    problems: list[str] = []
    for item in items_of(place.study, questionnaire):
        row, problem = _answer(item, raw.get(item.id))
        if problem:
            problems.append(problem)
        elif row is not None:
            rows.append(row)
    if problems:
        return place, problems
    # The failures are counted by the store from every stored answer, not added to this
    # place's possibly stale count.
    place = _moved(place, save_answers(db, place.enrolment, questionnaire, rows))
    if place.enrolment.attention_failures > place.study.exits.max_attention_failures:
        return finish(db, place, "failed_attention"), []
    by_id = {item.id: item for item in items_of(place.study, questionnaire)}
    if any(row.value_text in by_id[row.item_id].screen_out for row in rows):
        return finish(db, place, "screened_out"), []
    return advance(db, place), []


# --- the chat task -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatProgress:
    turns: int
    min_turns: int
    max_turns: int | None
    minutes: float
    min_minutes: float

    @property
    def can_finish(self) -> bool:
        return self.turns >= self.min_turns and self.minutes >= self.min_minutes

    @property
    def at_max(self) -> bool:
        return self.max_turns is not None and self.turns >= self.max_turns


def chat_progress(place: Place, now: datetime | None = None) -> ChatProgress:
    e = place.enrolment
    started = e.task_started_at or e.step_started_at
    minutes = max(0.0, ((now or utcnow()) - started).total_seconds() / 60)
    chat = place.study.chat
    return ChatProgress(e.turns, chat.min_turns, chat.max_turns, minutes, chat.min_minutes)


# A turn or a vote is added in SQL: two devices (or processes) holding the same place each
# add theirs, where writing "the count I saw + 1" would keep only one.


def count_turn(db: Database, place: Place, conversation_id: str) -> Place:
    e = update_enrolment(db, place.enrolment, add={"turns": 1}, conversation_id=conversation_id)
    return _moved(place, e)


def count_vote(db: Database, place: Place) -> Place:
    return _moved(place, update_enrolment(db, place.enrolment, add={"votes": 1}))


def arena_done(place: Place) -> bool:
    return place.enrolment.votes >= place.study.arena.votes


def finish_arena(db: Database, place: Place) -> Place:
    if place.enrolment.step != "arena" or not arena_done(place):
        return place
    return advance(db, place)


def finish_chat(db: Database, place: Place) -> Place:
    if place.enrolment.step != "chat" or not chat_progress(place).can_finish:
        return place
    return advance(db, place)


# --- leaving -------------------------------------------------------------------------------------


def redirect_url(place: Place) -> str | None:
    """The platform URL a finished participant is sent to: the template with {code},
    {outcome} and each kept link parameter filled in (URL-quoted)."""
    template = place.study.exits.redirect
    e = place.enrolment
    if template is None or e.status == "in_progress":
        return None
    values = {name: quote(value, safe="") for name, value in e.platform_params.items()}
    values |= {"code": quote(e.completion_code or "", safe=""), "outcome": e.status}
    values[place.study.platform.participant_param] = quote(e.participant_key, safe="")
    try:
        return template.format_map(_Blank(values))
    except (ValueError, IndexError):
        return None


class _Blank(dict[str, str]):
    """Placeholders a link did not carry become empty instead of failing the redirect."""

    def __missing__(self, key: str) -> str:
        return ""
