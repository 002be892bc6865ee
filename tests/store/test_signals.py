"""Signals about a message: each row names its user, conversation, message and exchange, its
kind, name, value and provenance, exactly."""

from __future__ import annotations

from datetime import timedelta

from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.signals import (
    HEURISTICS,
    IMPLICIT,
    USER_FEEDBACK,
    latest_feedback,
    record_feedback,
    record_implicit,
    record_reply_delay,
    signal_row,
)
from aeries.store.writer import Insert


class Recorder:
    """Stands in for the writer: keeps the rows submitted to ``signals``."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def submit(self, *ops) -> None:
        self.rows += [op.row for op in ops if isinstance(op, Insert) and op.table == "signals"]


def message(role: str, *, exchange: str | None = None, at=None) -> Message:
    return Message(
        id=f"{role}-1",
        conversation_id="c-1",
        parent_id=None,
        role=role,
        content="text",
        created_at=at or utcnow(),
        exchange_id=exchange,
    )


def about(row: dict) -> tuple:
    return (row["user_id"], row["conversation_id"], row["message_id"], row["exchange_id"])


def test_an_implicit_signal_names_the_message_and_its_exchange():
    writer = Recorder()
    record_implicit(writer, "regenerate", "u-1", message("assistant", exchange="x-1"))
    record_implicit(writer, "edit", "u-1", message("user"))
    regenerate, edit = writer.rows
    assert about(regenerate) == ("u-1", "c-1", "assistant-1", "x-1")
    assert (regenerate["kind"], regenerate["name"], regenerate["value_num"]) == (
        "implicit",
        "regenerate",
        1.0,
    )
    assert regenerate["extractor"] == IMPLICIT.extractor
    assert about(edit) == ("u-1", "c-1", "user-1", None) and edit["name"] == "edit"


def test_reply_delay_is_about_the_answer_and_only_after_an_answer():
    writer = Recorder()
    answered = utcnow() - timedelta(seconds=42)
    answer = message("assistant", exchange="x-9", at=answered)
    reply = message("user", at=answered + timedelta(seconds=42))
    record_reply_delay(writer, "u-1", answer, reply)
    record_reply_delay(writer, "u-1", reply, reply)  # after a user message: nothing
    [row] = writer.rows
    assert about(row) == ("u-1", "c-1", "assistant-1", "x-9")
    assert (row["kind"], row["name"], row["value_num"]) == ("heuristic", "reply_delay_s", 42.0)
    assert row["extractor"] == HEURISTICS.extractor


def test_feedback_rows_carry_the_same_target():
    writer = Recorder()
    record_feedback(
        writer,
        user_id="u-1",
        conversation_id="c-1",
        message_id="m-1",
        exchange_id="x-1",
        thumbs_up=False,
        comment="  too long  ",
    )
    thumbs, comment = writer.rows
    assert about(thumbs) == about(comment) == ("u-1", "c-1", "m-1", "x-1")
    assert (thumbs["name"], thumbs["value_num"], thumbs["value_text"]) == ("thumbs", 0.0, None)
    assert (comment["name"], comment["value_num"], comment["value_text"]) == (
        "comment",
        None,
        "too long",
    )
    assert thumbs["extractor"] == comment["extractor"] == USER_FEEDBACK.extractor


def feedback(writer, user: str, message_id: str, up: bool | None, comment: str | None = None):
    record_feedback(
        writer,
        user_id=user,
        conversation_id="c-1",
        message_id=message_id,
        exchange_id=None,
        thumbs_up=up,
        comment=comment,
    )


def test_latest_feedback_is_the_newest_thumb_and_comment_of_each_message(store):
    db, writer = store
    feedback(writer, "u-1", "m-1", True)
    feedback(writer, "u-1", "m-1", False, "too long")
    feedback(writer, "u-1", "m-1", True)  # changed their mind again
    feedback(writer, "u-1", "m-2", None, "first")
    feedback(writer, "u-1", "m-2", False, "second")
    feedback(writer, "u-2", "m-1", False, "someone else's")
    feedback(writer, "u-1", "m-3", True)  # not asked for
    assert writer.flush()
    got = latest_feedback(db, "u-1", ["m-1", "m-2", "m-9"])
    # The number reads as DuckDB's CAST gave it ('1.0'), whatever the engine: the page does
    # int(float(value)).
    assert got == {
        "m-1": {"thumbs": "1.0", "comment": "too long"},
        "m-2": {"thumbs": "0.0", "comment": "second"},
    }
    assert latest_feedback(db, "u-1", []) == {}


def test_latest_feedback_of_one_instant_is_the_later_written(store):
    db, writer = store
    at = utcnow()
    for up in (False, True):  # ids increase: True is written last
        row = signal_row(
            kind="feedback",
            name="thumbs",
            user_id="u-1",
            provenance=USER_FEEDBACK,
            message_id="m-1",
            value_num=float(up),
        )
        writer.submit(Insert("signals", {**row, "id": new_id(), "created_at": at}))
    assert writer.flush()
    assert latest_feedback(db, "u-1", ["m-1"]) == {"m-1": {"thumbs": "1.0"}}
