"""Long conversations: a 10,000-message one opens, draws a window, sends a bounded history and
exports whole; one huge message does not poison the turns after it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.conversations import (
    get_conversation,
    load_messages,
    load_skeleton,
    load_texts,
    message_row,
)
from aeries.store.writer import Execute, Insert
from aeries.text import MESSAGE_MAX_CHARS
from aeries.transcripts import json_export
from aeries.ui.chat.conversations import ACTIONS_KEY
from aeries.ui.chat.messages import LONG_TEXT
from aeries.ui.chat.state import WINDOW, _load
from tests.helpers import db_rows, last_chat_request, send

SEEDED = 10_000


def _runtime() -> Any:
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    return _runtime(load_settings(secrets={}))


def _seed_long_conversation(at: Any, n: int = SEEDED) -> tuple[str, str, list[str]]:
    """Continue the conversation open in ``at`` with ``n`` alternating messages, written
    through the writer's Arrow path (one Insert per row, batched); returns (conversation id,
    owner id, ids of the whole branch, root first)."""
    rt = _runtime()
    rt.writer.flush()
    conv_id = at.query_params["c"]
    user_id, leaf = rt.db.one(
        "SELECT user_id, current_leaf_id FROM conversations WHERE id = ?", [conv_id]
    )
    branch = [r[0] for r in rt.db.rows("SELECT id FROM messages ORDER BY created_at, id")]
    assert branch[-1] == leaf
    start = utcnow()
    ops: list[Insert | Execute] = []
    parent = leaf
    for i in range(n):
        message_id = new_id()
        role = "user" if i % 2 == 0 else "assistant"
        ops.append(
            Insert(
                "messages",
                {
                    "id": message_id,
                    "conversation_id": conv_id,
                    "parent_id": parent,
                    "role": role,
                    "content": f"{role} message {i}",
                    "reasoning": None,
                    "status": "ok" if role == "assistant" else None,
                    "exchange_id": None,
                    "origin": "new",
                    "origin_message_id": None,
                    "created_at": start + timedelta(milliseconds=i),
                    "edited_at": None,
                },
            )
        )
        branch.append(message_id)
        parent = message_id
    ops.append(
        Execute(
            "UPDATE conversations SET current_leaf_id = ?, message_count = message_count + ?"
            " WHERE id = ?",
            [parent, n, conv_id],
        )
    )
    rt.writer.submit(*ops)
    assert rt.writer.flush(timeout=60)
    return conv_id, user_id, branch


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], Any]]:
    """The deferred download callables of the last run, by file name (AppTest builds a new
    media manager each run, so they are caught as they are registered)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    caught: dict[str, Callable[[], Any]] = {}
    original = MediaFileManager.add_deferred

    def spy(self: MediaFileManager, data_callable: Callable[[], Any], *args: Any, **kw: Any) -> str:
        name = kw.get("file_name", args[2] if len(args) > 2 else None)
        caught[str(name)] = data_callable
        return original(self, data_callable, *args, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return caught


@pytest.fixture
def long_conversation(app: Callable[..., Any], env: dict[str, str]) -> tuple[str, str, list[str]]:
    at = app().run()
    send(at, "the first question")
    assert not at.exception
    return _seed_long_conversation(at)


def test_ten_thousand_messages_open_as_a_window(app, env, sim, long_conversation, downloads):
    conv_id, _, branch = long_conversation
    at = app()
    at.query_params["c"] = conv_id
    started = time.perf_counter()
    at.run()
    opened_s = time.perf_counter() - started
    assert not at.exception
    assert opened_s < 15, f"opening took {opened_s:.1f} s"
    assert len(at.chat_message) == WINDOW
    texts = [m.value for m in at.markdown]
    assert any("assistant message 9999" in t for t in texts)
    assert not any(t.endswith("message 9949") for t in texts)  # just before the window
    earlier = at.button(key="aeries.chat.earlier")
    assert earlier.label == f"Show earlier messages ({len(branch) - WINDOW:,} more)"
    earlier.click().run()
    assert not at.exception
    assert len(at.chat_message) == 2 * WINDOW
    assert any(m.value.endswith("message 9900") for m in at.markdown)
    assert at.button(key="aeries.chat.earlier").label.startswith(
        f"Show earlier messages ({len(branch) - 2 * WINDOW:,} more)"
    )

    # Sending still works without reading the conversation again, and carries a bounded window.
    send(at, "one more question")
    assert not at.exception
    assert db_rows(env, "SELECT status FROM exchanges WHERE source = 'chat' ORDER BY started_at")[
        -1
    ] == ("ok",)
    sent = [m for m in last_chat_request(sim)["messages"] if m["role"] != "system"]
    assert 1 < len(sent) <= 20  # AERIES_HISTORY's default
    assert sent[-1] == {"role": "user", "content": "one more question"}
    assert sent[-2] == {"role": "assistant", "content": "assistant message 9999"}
    assert sent[0]["role"] == "user"
    assert all("the first question" not in m["content"] for m in sent)

    # The JSON export is built when clicked, from the database, and holds every message.
    at.session_state[ACTIONS_KEY] = True  # "This conversation" opened: its buttons drawn
    at.run()
    (json_name,) = [name for name in downloads if name.endswith(".json")]
    document = json.loads(downloads[json_name]())
    assert len(document["messages"]) == len(branch) + 2  # and the new question and answer
    assert document["branch"][: len(branch)] == branch
    assert document["messages"][5000]["content"]
    (md_name,) = [name for name in downloads if name.endswith(".md")]
    markdown = downloads[md_name]()
    assert "user message 0" in markdown and "one more question" in markdown


def test_show_earlier_resets_when_the_conversation_changes(app, env, long_conversation):
    conv_id, _, _ = long_conversation
    at = app({"c": conv_id}).run()
    at.button(key="aeries.chat.earlier").click().run()
    assert len(at.chat_message) == 2 * WINDOW
    at.button(key="aeries.new_chat").click().run()
    assert len(at.chat_message) == 0
    at.button(key=f"conv-{conv_id}").click().run()
    assert not at.exception
    assert len(at.chat_message) == WINDOW


def test_another_user_cannot_load_it(app, env, long_conversation):
    conv_id, owner, branch = long_conversation
    rt = _runtime()
    bob = new_id()  # any other user id
    assert load_skeleton(rt.db, bob, conv_id) == []
    assert load_messages(rt.db, bob, conv_id) == []
    assert load_texts(rt.db, bob, conv_id, branch[:10]) == {}
    assert len(load_skeleton(rt.db, owner, conv_id)) == len(branch)
    # The owner's texts, asked for with ids of another conversation, stay out too.
    assert load_texts(rt.db, owner, new_id(), branch[:10]) == {}
    # The page's loading path and the exports go through the same scoped queries. (Which user
    # a session is comes from aeries.ui.identity; test_personas_and_users opens it as bob.)
    assert _load(rt, bob, conv_id) is None
    conversation = get_conversation(rt.db, owner, conv_id)
    assert conversation is not None
    assert json.loads(json_export(rt.db, bob, conversation, None))["messages"] == []


def test_switching_branch_loads_the_other_branch_text(app, env, long_conversation):
    conv_id, _, branch = long_conversation
    rt = _runtime()
    question = rt.db.one("SELECT parent_id, created_at FROM messages WHERE id = ?", [branch[-2]])
    parent, when = question
    # An older version of the last question (an edit), with its own answer further down.
    alt = Message(
        new_id(), conv_id, parent, "user", "alt question", when - timedelta(microseconds=1)
    )
    answer = Message(new_id(), conv_id, alt.id, "assistant", "alt answer", when)
    rt.writer.submit(Insert("messages", message_row(alt)), Insert("messages", message_row(answer)))
    rt.writer.flush()
    at = app({"c": conv_id}).run()
    assert any(m.value == "2 / 2" for m in at.markdown)
    assert not any(m.value == "alt answer" for m in at.markdown)
    at.button(key=f"prev-{branch[-2]}").click().run()
    assert not at.exception
    texts = [m.value for m in at.markdown]
    assert "alt question" in texts and "alt answer" in texts
    assert "1 / 2" in texts
    assert len(at.chat_message) == WINDOW


def test_skeleton_has_no_text_until_it_is_asked_for(app, env, long_conversation):
    conv_id, owner, branch = long_conversation
    rt = _runtime()
    skeleton = load_skeleton(rt.db, owner, conv_id)
    assert [m.id for m in skeleton] == branch
    assert not any(m.content for m in skeleton) and not any(m.loaded for m in skeleton)
    assert skeleton[1].meta["model"] == "sim-llama-3.1-8b"  # the first answer's figures
    texts = load_texts(rt.db, owner, conv_id, branch[-3:])
    assert [texts[i][0] for i in branch[-3:]] == [
        "assistant message 9997",
        "user message 9998",
        "assistant message 9999",
    ]


HUGE = ("word " * (MESSAGE_MAX_CHARS // 5))[:-1] + "."  # exactly the most Aeries accepts


def test_a_huge_message_does_not_poison_the_next_ones(app, env, sim):
    assert len(HUGE) == MESSAGE_MAX_CHARS
    at = app().run()
    send(at, HUGE)
    assert not at.exception
    assert any("too long" in e.value for e in at.error)
    send(at, "a short follow-up")
    assert not at.exception
    rows = db_rows(
        env, "SELECT status, params FROM exchanges WHERE source = 'chat' ORDER BY started_at"
    )
    assert [r[0] for r in rows] == ["error", "ok"]
    sent = [m for m in last_chat_request(sim)["messages"] if m["role"] != "system"]
    assert sent == [{"role": "user", "content": "a short follow-up"}]
    assert json.loads(rows[1][1])["history_omitted"] == 1
    send(at, "and another")
    assert db_rows(env, "SELECT status FROM exchanges WHERE source = 'chat'")[-1] == ("ok",)
    sent = [m["content"] for m in last_chat_request(sim)["messages"] if m["role"] != "system"]
    assert sent[0] == "a short follow-up" and sent[-1] == "and another"


def test_a_huge_message_is_drawn_cut_and_can_be_shown_whole(app, env):
    at = app().run()
    send(at, HUGE)
    assert not at.exception
    (user_id,) = db_rows(env, "SELECT id FROM messages WHERE role = 'user'")[0]
    hidden = f"{MESSAGE_MAX_CHARS:,} characters"
    assert any(hidden in c.value and "more are hidden" in c.value for c in at.caption)
    longest = max(len(m.value) for m in at.markdown)
    assert longest < 2 * LONG_TEXT  # escaped for literal display, still far from 1,000,000
    at.button(key=f"whole-{user_id}").click().run()
    assert not at.exception
    assert max(len(m.value) for m in at.markdown) >= MESSAGE_MAX_CHARS
    assert not any("more are hidden" in c.value for c in at.caption)
    at.button(key=f"less-{user_id}").click().run()
    assert any("more are hidden" in c.value for c in at.caption)
