"""Tests for aeries.studies.flow over a real (temporary, migrated) DuckDB store: arriving by
link, every exit, questionnaire validation, the chat task, redirects, version freezing,
balanced assignment through the flow, caps, the steps table, and study accounts' names."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from aeries.auth import NameRefused, check_participant_name
from aeries.calls import StudyRef
from aeries.store import migrations as mig
from aeries.store.db import Database
from aeries.store.studies import (
    enrolment_answers,
    enrolment_lock,
    find_enrolment,
    get_enrolment,
    get_study,
    get_version,
    list_enrolments,
    list_versions,
    save_study_version,
    set_study_status,
)
from aeries.store.users import create_account, get_account
from aeries.studies import flow
from aeries.studies.assignment import condition_at
from aeries.studies.flow import Place, StudyUnavailable
from aeries.studies.spec import Study, parse_study
from aeries.vocabulary import StudyStatus
from tests.store.concurrency import at_once, waits_for

STUDY_ID = "trust-flow"

STUDY = '''\
id = "trust-flow"
title = "Trust in assistants"
consent = """
## Consent
You take part in a study on chat assistants. You may stop at any time.
"""
instructions = "Chat with the assistant about a trip you are planning."

[chat]
min_turns = 2

[[conditions]]
name = "neutral"
system_prompt = "You are a helpful assistant."
temperature = 0.7

[[conditions]]
name = "warm"
system_prompt = "You are a warm and friendly assistant."
temperature = 0.9

[[conditions]]
name = "terse"
system_prompt = "Answer in one sentence."
temperature = 0.3

[[pre]]
id = "experience"
kind = "single"
text = "How often do you use AI assistants?"
options = ["Never", "Monthly", "Weekly", "Daily"]
screen_out = ["Never"]

[[pre]]
id = "age"
kind = "numeric"
text = "How old are you?"
min = 18
max = 99

[[pre]]
id = "attention_pre"
kind = "single"
text = "Pick Blue."
options = ["Red", "Green", "Blue"]
correct = "Blue"

[[pre]]
id = "trust_pre"
kind = "likert"
text = "I trust AI assistants."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[post]]
id = "trust_post"
kind = "likert"
text = "I trusted this assistant."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[post]]
id = "attention_post"
kind = "likert"
text = "Pick Agree."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
correct = "Agree"

[[post]]
id = "comments"
kind = "text"
text = "Anything else?"
required = false

[assignment]
seed = 17

[exits]
completed = "C0MPL3"
declined = "DECL01"
screened_out = "SCRN01"
failed_attention = "ATTN01"
timed_out = "TIME01"
redirect = "https://app.prolific.com/submissions/complete?cc={code}&o={outcome}&p={PROLIFIC_PID}&s={SESSION_ID}&st={STUDY_ID}"
time_limit_minutes = 60
max_attention_failures = 1
'''

GOOD_PRE = {"experience": "Weekly", "age": "34", "attention_pre": "Blue", "trust_pre": "Agree"}
GOOD_POST = {"trust_post": "Neutral", "attention_post": "Agree", "comments": "  Nice.  "}
PROLIFIC = {"PROLIFIC_PID": "5f3a9c", "STUDY_ID": "st-1", "SESSION_ID": "se-1"}

LEAN = """\
id = "lean"
title = "Lean"
consent = "Agree?"

[chat]
min_turns = 1

[[conditions]]
name = "a"

[[conditions]]
name = "b"

[[conditions]]
name = "c"

[assignment]
seed = 2024
blocks_of = 2

[exits]
completed = "LEAN1"
screened_out = "LEANX"
"""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated to the newest schema once; each test works on a copy."""
    path = tmp_path_factory.mktemp("template") / "template.duckdb"
    database = Database(path)
    mig.migrate(database)
    database.close()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    """A temporary database migrated to the newest schema."""
    path = tmp_path / "t.duckdb"
    shutil.copyfile(migrated, path)
    database = Database(path)
    mig.migrate(database)  # nothing left to do: checks the copy is at the newest schema
    yield database
    database.close()


def replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in the text exactly once"
    return text.replace(old, new)


def save(db: Database, text: str) -> Study:
    study = parse_study(text)
    save_study_version(db, study.id, study.title, study.config_hash, text)
    return study


def publish(db: Database, text: str = STUDY, status: StudyStatus = "live") -> Study:
    study = save(db, text)
    set_study_status(db, study.id, status)
    return study


def to_pre(db: Database, query: dict[str, str], study_id: str = STUDY_ID) -> Place:
    place = flow.arrive(db, study_id, query)
    place = flow.consent(db, place, agreed=True)
    assert place.enrolment.step == "instructions"
    place = flow.advance(db, place)
    assert place.enrolment.step == "pre"
    return place


def to_chat(db: Database, query: dict[str, str], pre: dict[str, str] | None = None) -> Place:
    place, problems = flow.submit(db, to_pre(db, query), "pre", pre or GOOD_PRE)
    assert problems == []
    assert place.enrolment.step == "chat"
    return place


def unavailable(db: Database, study_id: str, query: dict[str, str]) -> str:
    with pytest.raises(StudyUnavailable) as caught:
        flow.arrive(db, study_id, query)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def steps_of(db: Database, enrolment_id: str) -> list[tuple[str, object, object]]:
    return [
        (r[0], r[1], r[2])
        for r in db.rows(
            "SELECT step, entered_at, left_at FROM enrolment_steps WHERE enrolment_id = ?"
            " ORDER BY entered_at, step",
            [enrolment_id],
        )
    ]


# --- arriving --------------------------------------------------------------------------------


def test_arrive_with_prolific_parameters(db: Database) -> None:
    study = publish(db)
    place = flow.arrive(db, STUDY_ID, {**PROLIFIC, "utm_source": "mail"})
    e = place.enrolment
    assert e.participant_key == "5f3a9c"
    assert e.platform_params == {"STUDY_ID": "st-1", "SESSION_ID": "se-1"}  # only the kept ones
    assert (e.step, e.status, e.version) == ("consent", "in_progress", 1)
    assert e.config_hash == study.config_hash
    assert e.condition is None and e.slot is None and place.ref is None
    assert place.study == study
    account = get_account(db, e.user_id)
    assert account is not None
    assert account.origin == "study"
    assert account.name_key == f"study:{STUDY_ID}:5f3a9c"


def test_arrive_with_a_plain_pid(db: Database) -> None:
    publish(db)
    e = flow.arrive(db, STUDY_ID, {"pid": "  p-17  "}).enrolment
    assert e.participant_key == "p-17"
    assert e.platform_params == {}
    # The platform's own parameter wins over a plain pid.
    both = flow.arrive(db, STUDY_ID, {"PROLIFIC_PID": "real", "pid": "other"}).enrolment
    assert both.participant_key == "real"


def test_arrive_with_another_platform_parameter(db: Database) -> None:
    text = STUDY + '\n[platform]\nparticipant_param = "workerId"\nkeep = ["assignmentId"]\n'
    publish(db, text)
    e = flow.arrive(db, STUDY_ID, {"workerId": "W1", "assignmentId": "A9", "STUDY_ID": "x"})
    assert e.enrolment.participant_key == "W1"
    assert e.enrolment.platform_params == {"assignmentId": "A9"}
    # PROLIFIC_PID means nothing to this study; pid still works.
    assert unavailable(db, STUDY_ID, {"PROLIFIC_PID": "P1"}) == flow.NO_PARTICIPANT


def test_link_without_or_with_a_bad_participant_id(db: Database) -> None:
    publish(db)
    assert unavailable(db, STUDY_ID, {}) == flow.NO_PARTICIPANT
    assert unavailable(db, STUDY_ID, {"PROLIFIC_PID": ""}) == flow.NO_PARTICIPANT
    assert unavailable(db, STUDY_ID, {"pid": "a b"}) == flow.BAD_PARTICIPANT
    assert unavailable(db, STUDY_ID, {"pid": "x" * 65}) == flow.BAD_PARTICIPANT
    assert unavailable(db, STUDY_ID, {"pid": "p1:study"}) == flow.BAD_PARTICIPANT
    assert list_enrolments(db, STUDY_ID) == []


def test_unknown_study(db: Database) -> None:
    publish(db)
    message = unavailable(db, "no-such-study", PROLIFIC)
    assert message == flow.UNKNOWN_STUDY
    assert "no study at this link" in message


def test_draft_study_is_not_open(db: Database) -> None:
    save(db, STUDY)
    assert get_study(db, STUDY_ID).status == "draft"  # type: ignore[union-attr]
    assert unavailable(db, STUDY_ID, PROLIFIC) == flow.NOT_STARTED
    assert list_enrolments(db, STUDY_ID) == []


def test_paused_study_refuses_new_participants_and_resumes_existing(db: Database) -> None:
    publish(db)
    first = to_pre(db, {"pid": "early"})
    set_study_status(db, STUDY_ID, "paused")
    assert unavailable(db, STUDY_ID, {"pid": "late"}) == flow.PAUSED
    again = flow.arrive(db, STUDY_ID, {"pid": "early"})
    assert again.enrolment.id == first.enrolment.id
    assert again.enrolment.step == "pre"
    assert again.record.status == "paused"
    assert [e.participant_key for e in list_enrolments(db, STUDY_ID)] == ["early"]
    set_study_status(db, STUDY_ID, "live")
    assert flow.arrive(db, STUDY_ID, {"pid": "late"}).enrolment.step == "consent"


def test_closed_study(db: Database) -> None:
    publish(db)
    first = to_pre(db, {"pid": "early"})
    set_study_status(db, STUDY_ID, "closed")
    message = unavailable(db, STUDY_ID, {"pid": "late"})
    assert message == flow.CLOSED
    # Someone already in it is found (they may see their code), but cannot go on.
    again = flow.arrive(db, STUDY_ID, {"pid": "early"})
    assert again.enrolment.id == first.enrolment.id
    assert flow.may_continue(again) == flow.CLOSED
    assert flow.may_continue(first) is None  # the same person while the study was live


def test_messages_are_plain_and_distinct() -> None:
    messages = [
        flow.UNKNOWN_STUDY,
        flow.NOT_STARTED,
        flow.PAUSED,
        flow.CLOSED,
        flow.FULL,
        flow.NO_PARTICIPANT,
        flow.BAD_PARTICIPANT,
    ]
    assert len(set(messages)) == len(messages)
    for message in messages:  # sentences for a participant, not templates or codes
        assert message[0].isupper() and message.endswith(".")
        assert "{" not in message and "}" not in message


def test_arriving_twice_is_the_same_enrolment(db: Database) -> None:
    publish(db)
    first = flow.arrive(db, STUDY_ID, PROLIFIC)
    second = flow.arrive(db, STUDY_ID, PROLIFIC)
    assert second.enrolment == first.enrolment
    place = to_chat(db, {"pid": "sticky"})
    back = flow.arrive(db, STUDY_ID, {"pid": "sticky"})
    assert back.enrolment.id == place.enrolment.id
    assert (back.enrolment.step, back.enrolment.condition) == ("chat", place.enrolment.condition)
    assert len(list_enrolments(db, STUDY_ID)) == 2
    rows = db.rows("SELECT count(*) FROM users WHERE origin = 'study'")
    assert rows == [(2,)]


# --- consent and the way through ---------------------------------------------------------------


def test_declining_consent(db: Database) -> None:
    publish(db)
    place = flow.consent(db, flow.arrive(db, STUDY_ID, PROLIFIC), agreed=False)
    e = place.enrolment
    assert (e.status, e.step, e.completion_code) == ("declined", "done", "DECL01")
    assert e.finished_at is not None and e.condition is None
    assert flow.redirect_url(place) == (
        "https://app.prolific.com/submissions/complete?cc=DECL01&o=declined&p=5f3a9c&s=se-1&st=st-1"
    )
    # Coming back shows the same ending; consenting afterwards changes nothing.
    back = flow.arrive(db, STUDY_ID, PROLIFIC)
    assert (back.enrolment.status, back.enrolment.completion_code) == ("declined", "DECL01")
    assert flow.consent(db, back, agreed=True).enrolment.status == "declined"
    assert get_enrolment(db, e.id).status == "declined"  # type: ignore[union-attr]


def test_full_path_to_the_completion_code(db: Database) -> None:
    study = publish(db)
    place = flow.arrive(db, STUDY_ID, PROLIFIC)
    assert flow.steps(study) == ["consent", "instructions", "pre", "chat", "post", "done"]
    # Steps cannot be skipped: a questionnaire is only taken at its step.
    same, problems = flow.submit(db, place, "pre", GOOD_PRE)
    assert (same.enrolment.step, problems) == ("consent", [])
    place = flow.consent(db, place, agreed=True)
    assert place.enrolment.step == "instructions"
    place = flow.advance(db, place)
    assert place.enrolment.step == "pre"
    assert flow.submit(db, place, "post", GOOD_POST)[0].enrolment.step == "pre"

    # Invalid answers: every problem is listed and nothing is stored.
    bad = {"age": "17", "attention_pre": "Purple", "trust_pre": "Agree"}
    same, problems = flow.submit(db, place, "pre", bad)
    assert len(problems) == 3
    assert "How often do you use AI assistants?" in problems[0] and "needs an answer" in problems[0]
    assert "How old are you?" in problems[1] and "18 to 99" in problems[1]
    assert "Pick Blue." in problems[2] and "pick one of the answers" in problems[2]
    assert same.enrolment.step == "pre"
    assert enrolment_answers(db, place.enrolment.id) == {}
    assert get_enrolment(db, place.enrolment.id).step == "pre"  # type: ignore[union-attr]
    for wrong in ({"age": "100"}, {"age": "eighteen"}, {"trust_pre": "Totally"}):
        _, problems = flow.submit(db, place, "pre", {**GOOD_PRE, **wrong})
        assert len(problems) == 1
    assert enrolment_answers(db, place.enrolment.id) == {}

    # Valid answers: stored, and the task starts in an assigned condition.
    place, problems = flow.submit(db, place, "pre", {**GOOD_PRE, "age": "18"})
    assert problems == []
    e = place.enrolment
    assert e.step == "chat"
    assert e.condition == condition_at(study, "", 0)
    assert (e.slot, e.stratum) == (0, "")
    assert e.task_started_at is not None
    assert place.ref == StudyRef(STUDY_ID, study.config_hash, e.condition)
    answers = enrolment_answers(db, e.id)
    assert set(answers) == {"experience", "age", "attention_pre", "trust_pre"}
    assert (answers["age"].value_text, answers["age"].value_number) == ("18", 18.0)
    assert answers["trust_pre"].value_number == 4.0  # "Agree" is the 4th label
    assert answers["attention_pre"].correct is True
    assert answers["experience"].correct is None

    # The chat: finishing is refused until min_turns.
    assert flow.finish_chat(db, place).enrolment.step == "chat"
    place = flow.count_turn(db, place, "conv-1")
    assert place.enrolment.turns == 1
    assert flow.finish_chat(db, place).enrolment.step == "chat"
    place = flow.count_turn(db, place, "conv-1")
    assert (place.enrolment.turns, place.enrolment.conversation_id) == (2, "conv-1")
    assert flow.chat_progress(place).can_finish
    place = flow.finish_chat(db, place)
    assert place.enrolment.step == "post"
    assert flow.redirect_url(place) is None  # still in progress

    place, problems = flow.submit(db, place, "post", GOOD_POST)
    assert problems == []
    e = place.enrolment
    assert (e.step, e.status, e.completion_code) == ("done", "completed", "C0MPL3")
    assert e.finished_at is not None and e.attention_failures == 0
    assert enrolment_answers(db, e.id)["comments"].value_text == "Nice."
    stored = db.rows("SELECT DISTINCT config_hash FROM answers WHERE enrolment_id = ?", [e.id])
    assert stored == [(study.config_hash,)]
    assert flow.redirect_url(place) == (
        "https://app.prolific.com/submissions/complete"
        "?cc=C0MPL3&o=completed&p=5f3a9c&s=se-1&st=st-1"
    )
    # Coming back after finishing shows the same code.
    back = flow.arrive(db, STUDY_ID, PROLIFIC)
    assert (back.enrolment.status, back.enrolment.completion_code) == ("completed", "C0MPL3")


def test_optional_answers_may_be_left_out(db: Database) -> None:
    publish(db)
    place = to_chat(db, {"pid": "p1"})
    place = flow.finish_chat(db, flow.count_turn(db, flow.count_turn(db, place, "c"), "c"))
    place, problems = flow.submit(
        db, place, "post", {"trust_post": "Agree", "attention_post": "Agree"}
    )
    assert problems == [] and place.enrolment.status == "completed"
    assert "comments" not in enrolment_answers(db, place.enrolment.id)


def test_min_minutes_also_holds_the_chat(db: Database) -> None:
    publish(db, replace(STUDY, "min_turns = 2", "min_turns = 1\nmin_minutes = 3"))
    place = flow.count_turn(db, to_chat(db, {"pid": "p1"}), "c")
    assert flow.finish_chat(db, place).enrolment.step == "chat"
    started = place.enrolment.task_started_at
    assert started is not None
    assert not flow.chat_progress(place, now=started + timedelta(minutes=2)).can_finish
    assert flow.chat_progress(place, now=started + timedelta(minutes=3)).can_finish


def test_redirect_url_quotes_the_kept_parameters(db: Database) -> None:
    publish(db)
    query = {"PROLIFIC_PID": "p@x.org", "STUDY_ID": "a b&c=d", "SESSION_ID": "ü/é?#"}
    place = flow.consent(db, flow.arrive(db, STUDY_ID, query), agreed=False)
    assert flow.redirect_url(place) == (
        "https://app.prolific.com/submissions/complete"
        "?cc=DECL01&o=declined&p=p%40x.org&s=%C3%BC%2F%C3%A9%3F%23&st=a%20b%26c%3Dd"
    )


def test_redirect_url_leaves_parameters_a_link_did_not_carry_empty(db: Database) -> None:
    publish(db)
    place = flow.consent(db, flow.arrive(db, STUDY_ID, {"pid": "p1"}), agreed=False)
    assert flow.redirect_url(place) == (
        "https://app.prolific.com/submissions/complete?cc=DECL01&o=declined&p=p1&s=&st="
    )


def test_no_redirect_without_a_template(db: Database) -> None:
    publish(db, LEAN)
    place = flow.arrive(db, "lean", {"pid": "p1"})
    place = flow.finish_chat(db, flow.count_turn(db, flow.consent(db, place, agreed=True), "c"))
    assert place.enrolment.status == "completed"
    assert flow.redirect_url(place) is None


# --- the other exits ---------------------------------------------------------------------------


def test_attention_failures_beyond_the_allowed_number(db: Database) -> None:
    publish(db)  # max_attention_failures = 1
    place = to_chat(db, {"pid": "p1"}, {**GOOD_PRE, "attention_pre": "Red"})
    assert place.enrolment.attention_failures == 1
    assert place.enrolment.status == "in_progress"  # one failure is allowed
    assert enrolment_answers(db, place.enrolment.id)["attention_pre"].correct is False
    place = flow.finish_chat(db, flow.count_turn(db, flow.count_turn(db, place, "c"), "c"))
    place, problems = flow.submit(db, place, "post", {**GOOD_POST, "attention_post": "Disagree"})
    assert problems == []
    e = place.enrolment
    assert (e.status, e.step, e.completion_code) == ("failed_attention", "done", "ATTN01")
    assert e.attention_failures == 2
    assert "cc=ATTN01&o=failed_attention" in (flow.redirect_url(place) or "")


def test_attention_failure_with_none_allowed(db: Database) -> None:
    publish(db, replace(STUDY, "max_attention_failures = 1", "max_attention_failures = 0"))
    place, problems = flow.submit(
        db, to_pre(db, {"pid": "p1"}), "pre", {**GOOD_PRE, "attention_pre": "Green"}
    )
    assert problems == []
    e = place.enrolment
    assert (e.status, e.completion_code, e.condition) == ("failed_attention", "ATTN01", None)


def test_screen_out_answer(db: Database) -> None:
    publish(db)
    place, problems = flow.submit(
        db, to_pre(db, {"pid": "p1"}), "pre", {**GOOD_PRE, "experience": "Never"}
    )
    assert problems == []
    e = place.enrolment
    assert (e.status, e.step, e.completion_code) == ("screened_out", "done", "SCRN01")
    assert e.condition is None and e.slot is None  # never assigned: takes no slot
    assert enrolment_answers(db, e.id)["experience"].value_text == "Never"
    # The next participant gets slot 0.
    assert to_chat(db, {"pid": "p2"}).enrolment.slot == 0


def test_time_limit(db: Database) -> None:
    publish(db)  # time_limit_minutes = 60
    place = to_pre(db, {"pid": "p1"})
    started = place.enrolment.started_at
    within = flow.check_time(db, place, now=started + timedelta(minutes=59))
    assert within.enrolment == place.enrolment
    late = flow.check_time(db, place, now=started + timedelta(minutes=61))
    e = late.enrolment
    assert (e.status, e.step, e.completion_code) == ("timed_out", "done", "TIME01")
    assert get_enrolment(db, e.id).status == "timed_out"  # type: ignore[union-attr]
    # A finished enrolment is not timed out afterwards.
    done = flow.consent(db, flow.arrive(db, STUDY_ID, {"pid": "p2"}), agreed=False)
    after = flow.check_time(db, done, now=done.enrolment.started_at + timedelta(days=2))
    assert after.enrolment.status == "declined"


def test_no_time_limit(db: Database) -> None:
    publish(db, LEAN)
    place = flow.arrive(db, "lean", {"pid": "p1"})
    far = flow.check_time(db, place, now=place.enrolment.started_at + timedelta(days=30))
    assert far.enrolment.status == "in_progress"


# --- versions ----------------------------------------------------------------------------------


def test_a_live_study_freezes_its_version(db: Database) -> None:
    v1 = publish(db)
    early = to_chat(db, {"pid": "early"})
    changed_text = replace(STUDY, "temperature = 0.9", "temperature = 1.1")
    v2 = parse_study(changed_text)
    assert v2.config_hash != v1.config_hash
    saved = save_study_version(db, STUDY_ID, v2.title, v2.config_hash, changed_text)
    assert (saved.version, saved.config_hash) == (2, v2.config_hash)
    assert saved.frozen_at is not None  # made while live: frozen at once
    assert get_study(db, STUDY_ID).current_version == 2  # type: ignore[union-attr]
    assert [v.version for v in list_versions(db, STUDY_ID)] == [1, 2]
    first = get_version(db, STUDY_ID, 1)
    assert first is not None
    assert (first.config_toml, first.config_hash) == (STUDY, v1.config_hash)

    # The early participant keeps version 1 (and its conditions), a new one gets version 2.
    back = flow.arrive(db, STUDY_ID, {"pid": "early"})
    assert (back.enrolment.version, back.enrolment.config_hash) == (1, v1.config_hash)
    assert back.study.condition("warm").temperature == 0.9
    assert back.enrolment.condition == early.enrolment.condition
    late = flow.arrive(db, STUDY_ID, {"pid": "late"})
    assert (late.enrolment.version, late.enrolment.config_hash) == (2, v2.config_hash)
    assert late.study.condition("warm").temperature == 1.1
    late = to_chat(db, {"pid": "late"})
    stored = dict(
        db.rows(
            "SELECT e.participant_key, a.config_hash FROM answers a"
            " JOIN enrolments e ON e.id = a.enrolment_id WHERE a.item_id = 'age'"
        )
    )
    assert stored == {"early": v1.config_hash, "late": v2.config_hash}

    # The same meaning written differently makes no new version and keeps version 2's text.
    reformatted = "# reformatted\n" + changed_text.replace(" = ", "=") + "\n# end\n"
    assert parse_study(reformatted).config_hash == v2.config_hash
    again = save_study_version(db, STUDY_ID, v2.title, v2.config_hash, reformatted)
    assert again.version == 2
    assert [v.version for v in list_versions(db, STUDY_ID)] == [1, 2]
    assert get_version(db, STUDY_ID, 2).config_toml == changed_text  # type: ignore[union-attr]


def test_a_draft_is_replaced_in_place(db: Database) -> None:
    v1 = save(db, STUDY)
    changed_text = replace(STUDY, "temperature = 0.9", "temperature = 1.1")
    changed = save(db, changed_text)
    versions = list_versions(db, STUDY_ID)
    assert len(versions) == 1
    assert versions[0].version == 1
    assert (versions[0].config_hash, versions[0].config_toml) == (changed.config_hash, changed_text)
    assert versions[0].config_hash != v1.config_hash
    assert versions[0].frozen_at is None
    # Going live freezes it; the next change is version 2.
    set_study_status(db, STUDY_ID, "live")
    assert get_version(db, STUDY_ID, 1).frozen_at is not None  # type: ignore[union-attr]
    e = flow.arrive(db, STUDY_ID, {"pid": "p1"}).enrolment
    assert (e.version, e.config_hash) == (1, changed.config_hash)
    save(db, STUDY)
    assert [v.version for v in list_versions(db, STUDY_ID)] == [1, 2]
    assert get_version(db, STUDY_ID, 1).config_toml == changed_text  # type: ignore[union-attr]


# --- assignment through the flow ---------------------------------------------------------------


def test_240_participants_are_balanced_per_block_and_keep_their_condition(db: Database) -> None:
    study = publish(db, LEAN)  # 3 conditions, blocks of 2: 6 slots per block
    conditions: dict[str, str] = {}
    for i in range(240):
        place = flow.consent(db, flow.arrive(db, "lean", {"pid": f"p{i:03d}"}), agreed=True)
        e = place.enrolment
        assert e.step == "chat" and e.condition is not None
        conditions[e.participant_key] = e.condition
    enrolments = list_enrolments(db, "lean")
    assert sorted(e.slot for e in enrolments if e.slot is not None) == list(range(240))
    by_slot = {e.slot: e.condition for e in enrolments}
    for block in range(40):
        counts = Counter(by_slot[slot] for slot in range(block * 6, block * 6 + 6))
        assert counts == {"a": 2, "b": 2, "c": 2}, f"block {block}"
    assert [by_slot[s] for s in range(240)] == [condition_at(study, "", s) for s in range(240)]
    # Arriving again keeps the condition (and takes no new slot).
    for key, condition in conditions.items():
        back = flow.arrive(db, "lean", {"pid": key})
        assert (back.enrolment.condition, back.enrolment.step) == (condition, "chat")
    assert len(list_enrolments(db, "lean")) == 240


def test_stratified_assignment_through_the_flow(db: Database) -> None:
    text = replace(
        STUDY, "seed = 17", 'seed = 17\nmethod = "stratified"\nstratify_by = "experience"'
    )
    study = publish(db, text)
    answers = ["Daily", "Weekly", "Daily", "Monthly", "Daily", "Weekly", "Daily"]
    got = [
        to_chat(db, {"pid": f"s{i}"}, {**GOOD_PRE, "experience": a}).enrolment
        for i, a in enumerate(answers)
    ]
    assert [(e.stratum, e.slot) for e in got] == [
        ("Daily", 0), ("Weekly", 0), ("Daily", 1), ("Monthly", 0),
        ("Daily", 2), ("Weekly", 1), ("Daily", 3),
    ]  # fmt: skip
    for e in got:
        assert e.condition == condition_at(study, e.stratum or "", e.slot or 0)


def test_cap_fills_every_condition_then_refuses_new_participants(db: Database) -> None:
    publish(db, replace(LEAN, "blocks_of = 2", "blocks_of = 2\ncap = 2"))
    waiting = flow.arrive(db, "lean", {"pid": "waiting"})  # arrives early, consents late
    for i in range(6):
        place = flow.consent(db, flow.arrive(db, "lean", {"pid": f"p{i}"}), agreed=True)
        assert place.enrolment.condition is not None
    counts = Counter(e.condition for e in list_enrolments(db, "lean") if e.condition)
    assert counts == {"a": 2, "b": 2, "c": 2}
    message = unavailable(db, "lean", {"pid": "newcomer"})
    assert message == flow.FULL
    assert find_enrolment(db, "lean", "newcomer") is None
    # Those already in resume; one who arrived before the study filled cannot get a condition
    # and leaves as screened out (the documented behaviour), with that code.
    assert flow.arrive(db, "lean", {"pid": "p0"}).enrolment.step == "chat"
    late = flow.consent(db, waiting, agreed=True).enrolment
    assert (late.status, late.completion_code, late.condition) == ("screened_out", "LEANX", None)


def test_cap_skips_a_full_condition(db: Database) -> None:
    study = publish(db, replace(LEAN, "blocks_of = 2", "blocks_of = 2\ncap = 3"))
    got = []
    for i in range(9):
        got.append(flow.consent(db, flow.arrive(db, "lean", {"pid": f"p{i}"}), agreed=True))
    counts = Counter(p.enrolment.condition for p in got)
    assert counts == {"a": 3, "b": 3, "c": 3}
    slots = [p.enrolment.slot or 0 for p in got]
    assert slots == sorted(set(slots))
    assert [p.enrolment.condition for p in got] == [condition_at(study, "", s) for s in slots]
    # The second block holds each condition twice: the second of each was passed over.
    skipped = sorted(set(range(slots[-1])) - set(slots))
    assert skipped and all(s >= 6 for s in skipped)
    seen: Counter[str] = Counter()
    for slot in range(slots[-1] + 1):
        name = condition_at(study, "", slot)
        assert (slot in skipped) == (seen[name] >= 3)
        seen[name] += slot not in skipped
    assert unavailable(db, "lean", {"pid": "p9"}) == flow.FULL


# --- the steps table ---------------------------------------------------------------------------


def test_enrolment_steps_record_each_step_entered(db: Database) -> None:
    publish(db)
    place = to_chat(db, {"pid": "p1"})
    place = flow.finish_chat(db, flow.count_turn(db, flow.count_turn(db, place, "c"), "c"))
    place, _ = flow.submit(db, place, "post", GOOD_POST)
    rows = steps_of(db, place.enrolment.id)
    assert [r[0] for r in rows] == ["consent", "instructions", "pre", "chat", "post", "done"]
    for (_, entered, left), (_, next_entered, _) in pairwise(rows):
        assert left is not None and left == next_entered
        assert entered <= left  # type: ignore[operator]
    assert rows[-1][2] is None  # still "in" done
    assert db.rows(
        "SELECT DISTINCT study_id FROM enrolment_steps WHERE enrolment_id = ?",
        [place.enrolment.id],
    ) == [(STUDY_ID,)]


def test_enrolment_steps_of_an_early_exit(db: Database) -> None:
    publish(db)
    declined = flow.consent(db, flow.arrive(db, STUDY_ID, {"pid": "d"}), agreed=False)
    assert [r[0] for r in steps_of(db, declined.enrolment.id)] == ["consent", "done"]
    arrived = flow.arrive(db, STUDY_ID, {"pid": "a"})
    assert [(r[0], r[2]) for r in steps_of(db, arrived.enrolment.id)] == [("consent", None)]
    flow.arrive(db, STUDY_ID, {"pid": "a"})  # arriving again records nothing new
    assert len(steps_of(db, arrived.enrolment.id)) == 1


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "study:x:y",
        "Study:x:y",
        "  study:x:y ",
        "ＳＴＵＤＹ:x:y",  # full-width letters fold to "study"
        "\u200bstudy:trust-flow:p1",  # a zero-width space in front is removed
        f"study:{STUDY_ID}:5f3a9c",
    ],
)
def test_a_typed_name_cannot_be_a_study_account(typed: str) -> None:
    with pytest.raises(NameRefused):
        check_participant_name(typed)


def test_names_merely_mentioning_study_are_fine() -> None:
    assert check_participant_name("my study:x") == ("my study:x", "my study:x")
    assert check_participant_name("studying") == ("studying", "studying")


def test_a_typed_name_cannot_block_a_study_participant(db: Database) -> None:
    publish(db)
    name, key = check_participant_name(f"5f3a9c · {STUDY_ID}")
    create_account(db, name, key, "name")
    place = flow.arrive(db, STUDY_ID, PROLIFIC)
    assert place.enrolment.participant_key == "5f3a9c"


def test_a_numeric_answer_that_is_not_a_number_is_refused(db: Database) -> None:
    publish(db)
    place = to_pre(db, {"pid": "p1"})
    same, problems = flow.submit(db, place, "pre", {**GOOD_PRE, "age": "nan"})
    assert len(problems) == 1
    assert same.enrolment.step == "pre"
    assert enrolment_answers(db, place.enrolment.id) == {}


def test_a_new_version_starts_its_own_balanced_blocks(db: Database) -> None:
    publish(db)  # three conditions: neutral, warm, terse
    for i in range(4):  # one full block and one participant into the next
        to_chat(db, {"pid": f"v1-{i}"})
    two = STUDY.replace('[[conditions]]\nname = "terse"', '[[conditions]]\nname = "brisk"')
    assert two != STUDY
    save(db, two)  # live: a frozen edit makes version 2, with other conditions
    study_two = parse_study(two)
    first_block = [to_chat(db, {"pid": f"v2-{i}"}) for i in range(3)]
    assert {p.enrolment.version for p in first_block} == {2}
    assert [p.enrolment.slot for p in first_block] == [0, 1, 2]  # not 4, 5, 6
    names = sorted(p.enrolment.condition or "" for p in first_block)
    assert names == sorted(c.name for c in study_two.conditions)  # balanced within version 2


# --- several devices and processes at once -----------------------------------------------------
# The enrolment lock is the store's (db.lock), one per study; counters change in SQL. Threads
# stand in for processes here: on DuckDB the lock is a keyed threading lock.


def test_enrolling_and_assigning_wait_for_their_studys_lock_only(db: Database) -> None:
    publish(db)
    publish(db, LEAN)
    with enrolment_lock(db, STUDY_ID):
        other = flow.consent(db, flow.arrive(db, "lean", {"pid": "free"}), agreed=True)
        assert other.enrolment.slot == 0  # another study's slots do not wait
    place = waits_for(db, f"enrolment:{STUDY_ID}", lambda: flow.arrive(db, STUDY_ID, PROLIFIC))
    place = flow.advance(db, flow.consent(db, place, agreed=True))
    assert place.enrolment.step == "pre"
    pre = lambda: flow.submit(db, place, "pre", GOOD_PRE)[0]  # noqa: E731 - assigns
    assert waits_for(db, f"enrolment:{STUDY_ID}", pre).enrolment.slot == 0
    live = lambda: set_study_status(db, STUDY_ID, "paused")  # noqa: E731
    waits_for(db, f"enrolment:{STUDY_ID}", live)
    assert get_study(db, STUDY_ID).status == "paused"  # type: ignore[union-attr]


def test_participants_consenting_at_once_take_distinct_balanced_slots(db: Database) -> None:
    publish(db, LEAN)  # 3 conditions, blocks of 2: 6 slots per block
    keys = iter(range(12))
    lock = threading.Lock()

    def participant() -> Place:
        with lock:
            key = f"p{next(keys)}"
        return flow.consent(db, flow.arrive(db, "lean", {"pid": key}), agreed=True)

    places = at_once(12, participant)
    assert not [p for p in places if isinstance(p, Exception)]
    enrolments = list_enrolments(db, "lean")
    assert sorted(e.slot for e in enrolments) == list(range(12))  # type: ignore[type-var]
    assert Counter(e.condition for e in enrolments) == {"a": 4, "b": 4, "c": 4}


def test_one_participant_arriving_on_two_devices_at_once_is_enrolled_once(db: Database) -> None:
    publish(db)
    places = at_once(6, lambda: flow.arrive(db, STUDY_ID, PROLIFIC))
    assert not [p for p in places if isinstance(p, Exception)]
    assert len({p.enrolment.id for p in places}) == 1
    assert sum(p.new for p in places) == 1
    assert db.rows("SELECT count(*) FROM users WHERE origin = 'study'") == [(1,)]


def test_a_second_device_starting_the_task_keeps_the_first_assignment(db: Database) -> None:
    publish(db, LEAN)
    first = flow.arrive(db, "lean", {"pid": "two-devices"})
    second = flow.arrive(db, "lean", {"pid": "two-devices"})  # the same place, on a phone
    assigned = flow.consent(db, first, agreed=True).enrolment
    again = flow.consent(db, second, agreed=True).enrolment  # its copy still has no condition
    assert (again.condition, again.slot, again.step) == (assigned.condition, 0, "chat")
    nxt = flow.consent(db, flow.arrive(db, "lean", {"pid": "next"}), agreed=True)
    assert nxt.enrolment.slot == 1  # the second device took no slot


def test_turns_and_votes_counted_from_a_stale_place_all_count(db: Database) -> None:
    # Two devices showing the same place each count their own turn: the store adds one each
    # time, where "the turns I saw + 1" would keep only one of them.
    publish(db)
    place = to_chat(db, {"pid": "p1"})
    for _ in range(3):
        flow.count_turn(db, place, "c-1")
    latest = flow.count_vote(db, flow.count_vote(db, place))
    assert (latest.enrolment.turns, latest.enrolment.votes) == (3, 2)
    assert latest.enrolment.conversation_id == "c-1"
    assert flow.chat_progress(latest).turns == 3


def test_turns_counted_from_threads_at_once_are_all_kept(db: Database) -> None:
    publish(db)
    place = to_chat(db, {"pid": "p1"})

    def turns() -> None:
        for _ in range(10):
            for _attempt in range(500):
                try:
                    flow.count_turn(db, place, "c-1")
                    break
                except duckdb.TransactionException:
                    # DuckDB refuses a write-write conflict on one row ("Conflict on update")
                    # instead of waiting, as PostgreSQL's row lock does; that is a retry for
                    # the caller, never a lost turn.
                    continue
            else:
                raise AssertionError("a turn could not be counted in 500 attempts")

    done = at_once(4, turns)
    assert done == [None] * 4
    assert get_enrolment(db, place.enrolment.id).turns == 40  # type: ignore[union-attr]


def test_a_questionnaire_sent_twice_counts_its_failures_once(db: Database) -> None:
    publish(db)  # max_attention_failures = 1
    place = to_pre(db, {"pid": "p1"})
    wrong = {**GOOD_PRE, "attention_pre": "Red"}
    first, _ = flow.submit(db, place, "pre", wrong)
    second, _ = flow.submit(db, place, "pre", wrong)  # the same form, sent from another device
    assert first.enrolment.attention_failures == second.enrolment.attention_failures == 1
    assert second.enrolment.status == "in_progress"  # one failure allowed: not two counted
    assert (second.enrolment.condition, second.enrolment.slot) == (first.enrolment.condition, 0)
