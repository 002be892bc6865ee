"""aeries.store.facts: answer_scores and learned_notes kept in the write batch of each signal
agree with a recomputation from signals and exchanges, and migration 5 fills them for old logs."""

from __future__ import annotations

from datetime import timedelta

from aeries.ids import new_id, utcnow
from aeries.store import migrations as mig
from aeries.store.db import Database
from aeries.store.facts import AnswerContext, fact_ops, rebuild_facts
from aeries.store.signals import USER_FEEDBACK, record_feedback, signal_row
from aeries.store.writer import Insert, Writer

T0 = utcnow().replace(microsecond=0) - timedelta(days=1)
SCORES = """SELECT exchange_id, user_id, started_at, model, source, persona_id, brief_enabled,
                   thumb, thumb_at, satisfaction_sum, satisfaction_n, sentiment_sum, sentiment_n
            FROM answer_scores ORDER BY exchange_id"""
NOTES = """SELECT signal_id, created_at, user_id, exchange_id, model, source, persona_id,
                  brief_enabled, name, value FROM learned_notes ORDER BY signal_id"""


def log_exchange(writer: Writer, model: str, persona: str | None, brief: bool | None, at):
    """An exchange row and the context a writer would hold for it."""
    about = AnswerContext(new_id(), "u1", at, model, "chat", persona, brief)
    writer.submit(
        Insert(
            "exchanges",
            {
                "id": about.exchange_id,
                "user_id": "u1",
                "source": "chat",
                "model": model,
                "persona_id": persona,
                "brief_enabled": brief,
                "status": "ok",
                "started_at": at,
                "ttft_ms": 100.0,
            },
        )
    )
    return about


def observe(writer: Writer, about: AnswerContext, name: str, at, num=None, text=None) -> None:
    """An observer signal written the way the observer writes it."""
    row = signal_row(
        kind="observer",
        name=name,
        user_id=about.user_id,
        provenance=USER_FEEDBACK,
        exchange_id=about.exchange_id,
        value_num=num,
        value_text=text,
    )
    row["created_at"] = at
    writer.submit(Insert("signals", row), *fact_ops(row, about))


def thumb(writer: Writer, about: AnswerContext, up: bool, at) -> None:
    row = signal_row(
        kind="feedback",
        name="thumbs",
        user_id=about.user_id,
        provenance=USER_FEEDBACK,
        exchange_id=about.exchange_id,
        value_num=float(up),
    )
    row["created_at"] = at
    writer.submit(Insert("signals", row), *fact_ops(row, about))


def rows_now_and_rebuilt(db: Database, writer: Writer) -> tuple[list, list]:
    assert writer.flush()
    incremental = (db.rows(SCORES), db.rows(NOTES))
    rebuild_facts(db)
    return incremental, (db.rows(SCORES), db.rows(NOTES))


def test_incremental_tables_equal_a_rebuild(store):
    db, writer = store
    a = log_exchange(writer, "m-a", "p1", True, T0)
    b = log_exchange(writer, "m-b", None, False, T0 + timedelta(minutes=1))
    c = log_exchange(writer, "m-a", None, None, T0 + timedelta(minutes=2))
    observe(writer, a, "satisfaction", T0 + timedelta(seconds=5), num=0.8)
    observe(writer, a, "sentiment", T0 + timedelta(seconds=5), num=-0.5)
    observe(writer, a, "topic", T0 + timedelta(seconds=5), text="owls")
    observe(writer, a, "preference", T0 + timedelta(seconds=5), text="verbosity=concise")
    observe(writer, a, "intent", T0 + timedelta(seconds=5), text="question")  # not kept
    observe(writer, b, "satisfaction", T0 + timedelta(minutes=2), num=0.4)
    observe(writer, b, "satisfaction", T0 + timedelta(minutes=3), num=0.6)  # observed twice
    thumb(writer, a, True, T0 + timedelta(minutes=5))
    thumb(writer, c, False, T0 + timedelta(minutes=6))
    incremental, rebuilt = rows_now_and_rebuilt(db, writer)
    assert incremental == rebuilt
    scores = {r[0]: r for r in incremental[0]}
    assert scores[a.exchange_id][3:] == (
        "m-a", "chat", "p1", True, 1.0, T0 + timedelta(minutes=5), 0.8, 1, -0.5, 1,
    )  # fmt: skip
    assert scores[b.exchange_id][9:] == (1.0, 2, 0.0, 0)
    assert scores[c.exchange_id][7] == 0.0
    assert [r[8:] for r in incremental[1]] == [
        ("topic", "owls"),
        ("preference", "verbosity=concise"),
    ]


def test_latest_thumb_wins_even_when_written_out_of_order(store):
    db, writer = store
    a = log_exchange(writer, "m-a", None, None, T0)
    thumb(writer, a, False, T0 + timedelta(minutes=1))
    thumb(writer, a, True, T0 + timedelta(minutes=3))
    thumb(writer, a, False, T0 + timedelta(minutes=2))  # older, arrives last
    incremental, rebuilt = rows_now_and_rebuilt(db, writer)
    assert incremental == rebuilt
    assert incremental[0][0][7:9] == (1.0, T0 + timedelta(minutes=3))


def test_signals_without_their_answer_are_not_filed(store):
    _, writer = store
    a = log_exchange(writer, "m-a", None, None, T0)
    other = AnswerContext(new_id(), "u1", T0, "m-a", "chat")
    row = signal_row(
        kind="feedback",
        name="thumbs",
        user_id="u1",
        provenance=USER_FEEDBACK,
        exchange_id=a.exchange_id,
        value_num=1.0,
    )
    assert fact_ops(row, None) == []
    assert fact_ops(row, other) == []  # a context for another exchange is a bug, not a fact
    comment = {**row, "name": "comment", "value_num": None, "value_text": "nice"}
    assert fact_ops(comment, a) == []


def test_record_feedback_files_the_thumb_under_its_answer(store):
    db, writer = store
    a = log_exchange(writer, "m-a", "p1", True, T0)
    record_feedback(
        writer,
        user_id="u1",
        conversation_id="c1",
        message_id="msg",
        exchange_id=a.exchange_id,
        thumbs_up=True,
        comment="good",
        about=a,
    )
    assert writer.flush()
    assert db.rows("SELECT exchange_id, model, persona_id, thumb FROM answer_scores") == [
        (a.exchange_id, "m-a", "p1", 1.0)
    ]


def test_migration_5_fills_the_tables_of_an_old_log(tmp_path):
    path = tmp_path / "v4.duckdb"
    old = Database(path)
    mig.migrate(old, mig.MIGRATIONS[:4])
    x, y = new_id(), new_id()
    for eid, ttft in ((x, 120.0), (y, 340.0)):
        old.execute(
            """INSERT INTO exchanges (id, user_id, source, model, status, started_at, ttft_ms)
               VALUES (?, 'u1', 'arena', 'm', 'ok', ?, ?)""",
            [eid, T0, ttft],
        )
    for name, num, text in (
        ("thumbs", 1.0, None),
        ("satisfaction", 0.5, None),
        ("topic", None, "owls"),
    ):
        old.execute(
            """INSERT INTO signals (id, user_id, exchange_id, kind, name, value_num, value_text,
                   created_at) VALUES (?, 'u1', ?, ?, ?, ?, ?, ?)""",
            [new_id(), x, "feedback" if name == "thumbs" else "observer", name, num, text, T0],
        )
    old.execute(
        """INSERT INTO preferences (id, kind, source, contestant_a, contestant_b, model_a,
               model_b, exchange_a, exchange_b, winner, created_at)
           VALUES (?, 'explicit', 'arena', 'A', 'B', 'm', 'm', ?, ?, 'a', ?)""",
        [new_id(), x, y, T0],
    )
    old.close()
    db = Database(path)
    assert mig.migrate(db)[0] == 5  # and whatever came after it
    scores = db.rows(
        "SELECT exchange_id, thumb, satisfaction_sum, satisfaction_n FROM answer_scores"
    )
    assert scores == [(x, 1.0, 0.5, 1)]
    assert db.rows("SELECT exchange_id, name, value FROM learned_notes") == [(x, "topic", "owls")]
    assert db.rows("SELECT ttft_a_ms, ttft_b_ms FROM preferences") == [(120.0, 340.0)]
    db.close()


def test_two_thumbs_at_the_same_instant_rebuild_to_the_later_written(store):
    # The upsert keeps the thumb written last when two share a time; the rebuild (no arg_max:
    # the first of the thumbs newest first, then by id) must pick the same one, not either.
    db, writer = store
    a = log_exchange(writer, "m-a", None, None, T0)
    at = T0 + timedelta(minutes=1)
    thumb(writer, a, True, at)
    thumb(writer, a, False, at)  # a later id (UUIDv7), the same created_at
    incremental, rebuilt = rows_now_and_rebuilt(db, writer)
    assert incremental == rebuilt
    assert incremental[0][0][7:9] == (0.0, at)


def test_the_rebuild_copies_the_exchange_columns_of_each_answer(store):
    # min()/bool_and() stand for any_value over one exchange's equal columns, NULLs included.
    db, writer = store
    flags = {True: log_exchange(writer, "m-a", "p1", True, T0)}
    flags[False] = log_exchange(writer, "m-b", None, False, T0 + timedelta(minutes=1))
    flags[None] = log_exchange(writer, "m-c", None, None, T0 + timedelta(minutes=2))
    for about in flags.values():
        observe(writer, about, "satisfaction", T0 + timedelta(minutes=3), num=0.5)
        observe(writer, about, "sentiment", T0 + timedelta(minutes=4), num=0.25)
    incremental, rebuilt = rows_now_and_rebuilt(db, writer)
    assert incremental == rebuilt
    got = {r[0]: r[3:7] for r in rebuilt[0]}
    assert got == {
        flags[True].exchange_id: ("m-a", "chat", "p1", True),
        flags[False].exchange_id: ("m-b", "chat", None, False),
        flags[None].exchange_id: ("m-c", "chat", None, None),
    }
