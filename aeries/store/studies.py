"""Studies, their versions, enrolments, steps and questionnaire answers.

Unlike chat rows these are written directly in a transaction, not through the background
writer: a participant's next step, their condition and the assignment counts must be read back
at once (a reload resumes from the database; the next participant's slot depends on this one).
Enrolment and assignment run under the study's store-wide lock (``enrolment_lock``) so two
participants never take the same slot, whichever process serves them. Counters that two
devices of one participant may bump at once (turns, votes, attention failures) change in SQL,
never from a value read earlier. The SQL runs unchanged on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.vocabulary import EnrolmentStatus, Questionnaire, StudyStatus, StudyStep


def enrolment_lock(db: Database, study_id: str) -> contextlib.AbstractContextManager[None]:
    """The store-wide lock held while a study's slots, caps or current version are read and
    then written: one per study, so studies never wait for each other."""
    return db.lock(f"enrolment:{study_id}")


@dataclass(frozen=True)
class StudyRecord:
    id: str
    title: str
    status: StudyStatus
    current_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StudyVersion:
    study_id: str
    version: int
    config_hash: str
    config_toml: str
    created_at: datetime
    frozen_at: datetime | None


@dataclass(frozen=True)
class Enrolment:
    id: str
    study_id: str
    version: int
    config_hash: str
    participant_key: str
    user_id: str
    platform_params: dict[str, str]
    condition: str | None
    stratum: str | None
    slot: int | None
    step: StudyStep
    status: EnrolmentStatus
    attention_failures: int
    turns: int
    votes: int
    conversation_id: str | None
    completion_code: str | None
    started_at: datetime
    step_started_at: datetime
    task_started_at: datetime | None
    finished_at: datetime | None


_STUDY = "id, title, status, current_version, created_at, updated_at"
_VERSION = "study_id, version, config_hash, config_toml, created_at, frozen_at"
_ENROLMENT = (
    "id, study_id, version, config_hash, participant_key, user_id, platform_params, condition,"
    " stratum, slot, step, status, attention_failures, turns, votes, conversation_id,"
    " completion_code,"
    " started_at, step_started_at, task_started_at, finished_at"
)
_STEP = "enrolment_id, study_id, step, entered_at, left_at"
_ANSWER_KEY = ("enrolment_id", "item_id")
_ANSWER = (
    "enrolment_id, study_id, config_hash, user_id, questionnaire, item_id, value_text,"
    " value_number, correct, answered_at"
)


# The same columns qualified, for the join the study page runs on every run.
_ENROLMENT_E = ", ".join(f"e.{c.strip()}" for c in _ENROLMENT.split(","))
_STUDY_S = ", ".join(f"s.{c.strip()}" for c in _STUDY.split(","))
_ENROLMENT_N = len(_ENROLMENT.split(","))


def _enrolment(row: tuple[Any, ...]) -> Enrolment:
    values = list(row)
    values[6] = json.loads(values[6])
    return Enrolment(*values)


# --- studies and versions -------------------------------------------------------------------


def get_study(db: Database, study_id: str) -> StudyRecord | None:
    row = db.one(f"SELECT {_STUDY} FROM studies WHERE id = ?", [study_id])
    return StudyRecord(*row) if row else None


def list_studies(db: Database) -> list[StudyRecord]:
    return [
        StudyRecord(*r) for r in db.rows(f"SELECT {_STUDY} FROM studies ORDER BY created_at, id")
    ]


def get_version(db: Database, study_id: str, version: int) -> StudyVersion | None:
    row = db.one(
        f"SELECT {_VERSION} FROM study_versions WHERE study_id = ? AND version = ?",
        [study_id, version],
    )
    return StudyVersion(*row) if row else None


def list_versions(db: Database, study_id: str) -> list[StudyVersion]:
    rows = db.rows(
        f"SELECT {_VERSION} FROM study_versions WHERE study_id = ? ORDER BY version", [study_id]
    )
    return [StudyVersion(*r) for r in rows]


def save_study_version(
    db: Database, study_id: str, title: str, config_hash: str, config_toml: str
) -> StudyVersion:
    """Store a study file: a new study, a changed draft (replaced in place while nobody has
    seen it), or — when the current version is frozen and the meaning changed — the next
    version. Saving the same meaning again changes nothing."""
    now = utcnow()
    with enrolment_lock(db, study_id), db.transaction() as cur:
        study = cur.execute(
            "SELECT current_version FROM studies WHERE id = ?", [study_id]
        ).fetchone()
        if study is None:
            cur.execute(
                f"INSERT INTO studies ({_STUDY}) VALUES (?, ?, 'draft', 1, ?, ?)",
                [study_id, title, now, now],
            )
            cur.execute(
                f"INSERT INTO study_versions ({_VERSION}) VALUES (?, 1, ?, ?, ?, NULL)",
                [study_id, config_hash, config_toml, now],
            )
            version = 1
        else:
            version = study[0]
            current = cur.execute(
                "SELECT config_hash, frozen_at FROM study_versions"
                " WHERE study_id = ? AND version = ?",
                [study_id, version],
            ).fetchone()
            assert current is not None
            if current[1] is None:
                cur.execute(
                    "UPDATE study_versions SET config_hash = ?, config_toml = ?, created_at = ?"
                    " WHERE study_id = ? AND version = ?",
                    [config_hash, config_toml, now, study_id, version],
                )
            elif current[0] != config_hash:
                version += 1
                cur.execute(
                    f"INSERT INTO study_versions ({_VERSION}) VALUES (?, ?, ?, ?, ?, ?)",
                    [study_id, version, config_hash, config_toml, now, now],
                )
            cur.execute(
                "UPDATE studies SET title = ?, current_version = ?, updated_at = ? WHERE id = ?",
                [title, version, now, study_id],
            )
    saved = get_version(db, study_id, version)
    assert saved is not None
    return saved


def set_study_status(db: Database, study_id: str, status: StudyStatus) -> None:
    """Going live freezes the current version (its text can then never change)."""
    now = utcnow()
    with enrolment_lock(db, study_id), db.transaction() as cur:
        cur.execute(
            "UPDATE studies SET status = ?, updated_at = ? WHERE id = ?", [status, now, study_id]
        )
        if status == "live":
            cur.execute(
                "UPDATE study_versions SET frozen_at = ? WHERE frozen_at IS NULL AND study_id = ?"
                " AND version = (SELECT current_version FROM studies WHERE id = ?)",
                [now, study_id, study_id],
            )


# --- enrolments -------------------------------------------------------------------------------


def find_enrolment(db: Database, study_id: str, participant_key: str) -> Enrolment | None:
    row = db.one(
        f"SELECT {_ENROLMENT} FROM enrolments WHERE study_id = ? AND participant_key = ?",
        [study_id, participant_key],
    )
    return _enrolment(row) if row else None


def get_enrolment(db: Database, enrolment_id: str) -> Enrolment | None:
    row = db.one(f"SELECT {_ENROLMENT} FROM enrolments WHERE id = ?", [enrolment_id])
    return _enrolment(row) if row else None


def enrolment_and_study(
    db: Database, enrolment_id: str
) -> tuple[Enrolment, StudyRecord, str] | None:
    """An enrolment, its study and its version's text, in one round trip (the study page
    reads them on every run, before a turn can be sent)."""
    row = db.one(
        f"SELECT {_ENROLMENT_E}, {_STUDY_S}, v.config_toml FROM enrolments e"
        " JOIN studies s ON s.id = e.study_id"
        " JOIN study_versions v ON v.study_id = e.study_id AND v.version = e.version"
        " WHERE e.id = ?",
        [enrolment_id],
    )
    if row is None:
        return None
    n = _ENROLMENT_N
    return _enrolment(row[:n]), StudyRecord(*row[n:-1]), row[-1]


def list_enrolments(db: Database, study_id: str) -> list[Enrolment]:
    rows = db.rows(
        f"SELECT {_ENROLMENT} FROM enrolments WHERE study_id = ? ORDER BY started_at, id",
        [study_id],
    )
    return [_enrolment(r) for r in rows]


def insert_enrolment(
    db: Database,
    *,
    study_id: str,
    version: StudyVersion,
    participant_key: str,
    user_id: str,
    platform_params: dict[str, str],
    step: StudyStep,
) -> Enrolment:
    """A new enrolment at its first step (call under enrolment_lock, after find_enrolment)."""
    enrolment_id = new_id()
    now = utcnow()
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO enrolments (id, study_id, version, config_hash, participant_key,"
            " user_id, platform_params, step, status, started_at, step_started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'in_progress', ?, ?)",
            [
                enrolment_id,
                study_id,
                version.version,
                version.config_hash,
                participant_key,
                user_id,
                json.dumps(platform_params, sort_keys=True),
                step,
                now,
                now,
            ],
        )
        cur.execute(
            f"INSERT INTO enrolment_steps ({_STEP}) VALUES (?, ?, ?, ?, NULL)",
            [enrolment_id, study_id, step, now],
        )
    found = get_enrolment(db, enrolment_id)
    assert found is not None
    return found


# The counters two devices of one participant may change at once: ``add`` raises them in SQL.
_COUNTERS = frozenset({"attention_failures", "turns", "votes"})
_SETTABLE = _COUNTERS | frozenset(
    {
        "condition",
        "stratum",
        "slot",
        "status",
        "conversation_id",
        "completion_code",
        "task_started_at",
        "finished_at",
    }
)


def update_enrolment(
    db: Database,
    enrolment: Enrolment,
    *,
    step: StudyStep | None = None,
    add: Mapping[str, int] | None = None,
    **fields: Any,
) -> Enrolment:
    """Change an enrolment; moving to another step records when it left the old one. ``add``
    raises counters by an amount in the statement itself (``turns = turns + 1``), so a count
    made from a stale copy of the enrolment (another device's, another process's) is never
    lost; ``fields`` set values outright."""
    unknown = set(fields) - _SETTABLE
    if unknown:
        raise ValueError(f"not enrolment fields: {sorted(unknown)}")
    adds = dict(add or {})
    if set(adds) - _COUNTERS or set(adds) & set(fields):
        raise ValueError(f"not counters, or also set: {sorted(adds)}")
    now = utcnow()
    sets = dict(fields)
    if step is not None and step != enrolment.step:
        sets |= {"step": step, "step_started_at": now}
    with db.transaction() as cur:
        if sets or adds:
            # Column names are this module's own (checked above), never the caller's text.
            assignments = [f"{name} = ?" for name in sets]
            assignments += [f"{name} = {name} + ?" for name in adds]
            cur.execute(
                f"UPDATE enrolments SET {', '.join(assignments)} WHERE id = ?",
                [*sets.values(), *adds.values(), enrolment.id],
            )
        if "step" in sets:
            cur.execute(
                "UPDATE enrolment_steps SET left_at = ? WHERE enrolment_id = ? AND step = ?",
                [now, enrolment.id, enrolment.step],
            )
            # A step entered again (a second device moving it too) keeps its first entry.
            cur.execute(
                f"INSERT INTO enrolment_steps ({_STEP}) VALUES (?, ?, ?, ?, NULL)"
                " ON CONFLICT DO NOTHING",
                [enrolment.id, enrolment.study_id, step, now],
            )
    found = get_enrolment(db, enrolment.id)
    assert found is not None
    return found


def assignment_state(
    db: Database, study_id: str, stratum: str, config_hash: str
) -> tuple[int, dict[str, int]]:
    """One past the highest slot taken in ``stratum`` of this version (each version has its
    own block sequence: a new version may change the conditions), and participants per
    condition over every version (a cap is per condition)."""
    top = db.one(
        "SELECT max(slot) FROM enrolments WHERE study_id = ? AND stratum = ? AND config_hash = ?",
        [study_id, stratum, config_hash],
    )
    counts = db.rows(
        "SELECT condition, count(*) FROM enrolments"
        " WHERE study_id = ? AND condition IS NOT NULL GROUP BY condition",
        [study_id],
    )
    next_slot = 0 if top is None or top[0] is None else int(top[0]) + 1
    return next_slot, {name: int(n) for name, n in counts}


# --- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRow:
    item_id: str
    value_text: str | None
    value_number: float | None
    correct: bool | None


# An item answered again replaces its answer (every column but the key), on both engines.
_UPSERT_ANSWER = (
    f"INSERT INTO answers ({_ANSWER}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    f" ON CONFLICT ({', '.join(_ANSWER_KEY)}) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (c.strip() for c in _ANSWER.split(","))
        if c not in _ANSWER_KEY
    )
)


def save_answers(
    db: Database, enrolment: Enrolment, questionnaire: Questionnaire, answers: list[AnswerRow]
) -> Enrolment:
    """Store a questionnaire's answers, and count the enrolment's failed attention checks again
    from every answer it has, in the same transaction: item ids are unique across a study's
    questionnaires, so this is the running total, and a questionnaire sent twice at once (two
    devices) neither counts its failures twice nor loses a count. Returns the enrolment as
    stored now."""
    now = utcnow()
    with db.transaction() as cur:
        cur.executemany(
            _UPSERT_ANSWER,
            [
                [
                    enrolment.id,
                    enrolment.study_id,
                    enrolment.config_hash,
                    enrolment.user_id,
                    questionnaire,
                    a.item_id,
                    a.value_text,
                    a.value_number,
                    a.correct,
                    now,
                ]
                for a in answers
            ],
        )
        cur.execute(
            "UPDATE enrolments SET attention_failures = (SELECT count(*) FROM answers"
            " WHERE enrolment_id = ? AND correct = false) WHERE id = ?",
            [enrolment.id, enrolment.id],
        )
    found = get_enrolment(db, enrolment.id)
    assert found is not None
    return found


def enrolment_answers(db: Database, enrolment_id: str) -> dict[str, AnswerRow]:
    rows = db.rows(
        "SELECT item_id, value_text, value_number, correct FROM answers WHERE enrolment_id = ?",
        [enrolment_id],
    )
    return {r[0]: AnswerRow(*r) for r in rows}
