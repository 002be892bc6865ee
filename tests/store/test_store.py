"""DuckDB store: the connection, the background writer, conversations scoped by user
(migrations: test_migrations.py)."""

import threading

import pytest

from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store import migrations as mig
from aeries.store.conversations import (
    delete_conversation,
    get_conversation,
    list_conversations,
    load_messages,
    new_conversation,
    rename_conversation,
    save_message,
    set_archived,
)
from aeries.store.db import Database, DatabaseError, DatabaseLocked
from aeries.store.users import ensure_user
from aeries.store.writer import Execute, Insert, Writer


@pytest.fixture
def writer(db):
    w = Writer(db)
    yield w
    w.close()


def test_locked_database_gives_clear_error(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLocked) as info:
            Database(path)
        assert "another program" in str(info.value)
        assert "AERIES_DB" in str(info.value)
        assert info.value.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_writer_commits_in_background_and_flush_waits(db, writer):
    ids = [new_id() for _ in range(50)]
    for i in ids:
        writer.submit(Insert("users", {"id": i, "name": f"u{i}", "created_at": utcnow()}))
    assert writer.flush()
    assert db.one("SELECT count(*) FROM users") == (50,)


def test_writer_keeps_good_rows_when_one_is_bad(db, writer):
    writer.submit(
        Insert("users", {"id": "1", "name": "a", "created_at": utcnow()}),
        Insert("users", {"id": "2", "name": "a", "created_at": utcnow()}),  # duplicate name
        Insert("users", {"id": "3", "name": "c", "created_at": utcnow()}),
    )
    writer.flush()
    assert db.rows("SELECT id FROM users ORDER BY id") == [("1",), ("3",)]
    assert writer.rejected_ops == 1  # set aside in the rejected file, no longer dropped


def test_writer_commits_without_being_asked(db, writer):
    from tests.helpers import wait_until

    writer.submit(Insert("users", {"id": "x", "name": "x", "created_at": utcnow()}))
    assert wait_until(lambda: db.one("SELECT count(*) FROM users") == (1,), timeout=5)


def test_flush_commits_at_once_instead_of_waiting_for_more(db):
    import time

    # The batch window is 5 s; a page waiting on a flush must not sit through it.
    w = Writer(db, max_delay_s=5.0)
    try:
        w.submit(Insert("users", {"id": "y", "name": "y", "created_at": utcnow()}))
        started = time.monotonic()
        assert w.flush(timeout=10)
        assert time.monotonic() - started < 4.0  # far from the window, not a timing claim
        assert db.one("SELECT count(*) FROM users") == (1,)
    finally:
        w.close()


def test_writer_close_flushes_everything(tmp_path):
    db = Database(tmp_path / "c.duckdb")
    mig.migrate(db)
    w = Writer(db, max_delay_s=0.5)
    w.submit(
        *[
            Insert("users", {"id": str(i), "name": str(i), "created_at": utcnow()})
            for i in range(20)
        ]
    )
    w.close()
    assert db.one("SELECT count(*) FROM users") == (20,)
    db.close()


def test_writer_accepts_submissions_from_many_threads(db, writer):
    def work(k):
        for i in range(25):
            writer.submit(
                Insert("users", {"id": f"{k}-{i}", "name": f"{k}-{i}", "created_at": utcnow()})
            )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.flush()
    assert db.one("SELECT count(*) FROM users") == (200,)


def _message(conv_id, parent, role, text):
    return Message(new_id(), conv_id, parent, role, text, utcnow())


def test_conversation_lifecycle_and_user_scoping(db, writer):
    alice, bob = ensure_user(db, "alice"), ensure_user(db, "bob")
    conv = new_conversation(writer, alice, "Tell me about owls 🦉")
    first = _message(conv.id, None, "user", "Tell me about owls 🦉")
    save_message(writer, alice, first)
    save_message(writer, alice, _message(conv.id, first.id, "assistant", "Owls are birds."))
    writer.flush()
    listed = list_conversations(db, alice)
    assert [c.id for c in listed] == [conv.id]
    assert listed[0].title == "Tell me about owls 🦉" and listed[0].message_count == 2
    assert list_conversations(db, bob) == []
    assert get_conversation(db, bob, conv.id) is None
    assert load_messages(db, bob, conv.id) == []
    assert [m.content for m in load_messages(db, alice, conv.id)] == [
        "Tell me about owls 🦉",
        "Owls are birds.",
    ]
    # Bob cannot rename, archive or delete Alice's conversation.
    rename_conversation(writer, bob, conv.id, "pwned")
    delete_conversation(writer, bob, conv.id)
    writer.flush()
    assert get_conversation(db, alice, conv.id).title == "Tell me about owls 🦉"
    assert rename_conversation(writer, alice, conv.id, "  Owls\nand more ") == "Owls and more"
    set_archived(writer, alice, conv.id, True)
    writer.flush()
    assert list_conversations(db, alice) == []
    assert [c.id for c in list_conversations(db, alice, archived=True)] == [conv.id]
    delete_conversation(writer, alice, conv.id)
    writer.flush()
    assert list_conversations(db, alice, archived=True) == []
    assert get_conversation(db, alice, conv.id) is None
    assert db.one("SELECT count(*) FROM messages") == (2,)  # data kept for research


@pytest.mark.parametrize("query", ["100%", "_", "'; DROP TABLE messages; --", "\\", "ow"])
def test_search_titles_and_contents_treats_query_literally(db, writer, query):
    alice = ensure_user(db, "alice")
    owl = new_conversation(writer, alice, "Owls")
    save_message(writer, alice, _message(owl.id, None, "user", "Do owls blink? 100% curious"))
    other = new_conversation(writer, alice, "Cats")
    save_message(writer, alice, _message(other.id, None, "user", "cats_and_dogs"))
    writer.flush()
    found = {c.title for c in list_conversations(db, alice, query=query)}
    expected = {
        "100%": {"Owls"},
        "_": {"Cats"},
        "'; DROP TABLE messages; --": set(),
        "\\": set(),
        "ow": {"Owls"},
    }[query]
    assert found == expected
    assert db.one("SELECT count(*) FROM messages") == (2,)


def test_search_matches_message_contents_not_only_titles(db, writer):
    alice = ensure_user(db, "alice")
    conv = new_conversation(writer, alice, "Untitled")
    save_message(writer, alice, _message(conv.id, None, "user", "quaternions please"))
    writer.flush()
    assert [c.id for c in list_conversations(db, alice, query="QUATERNION")] == [conv.id]


def test_execute_op_is_parameterised(db, writer):
    uid = ensure_user(db, "o'brien")
    writer.submit(
        Execute("UPDATE users SET name = ? WHERE id = ?", ["x'); DROP TABLE users;--", uid])
    )
    writer.flush()
    assert db.one("SELECT name FROM users WHERE id = ?", [uid]) == ("x'); DROP TABLE users;--",)


def test_a_database_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot be made"):
        Database(blocker / "aeries.duckdb")
