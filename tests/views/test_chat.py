"""The chat page through AppTest, against the simulator and a temporary database."""

from __future__ import annotations

import json

import pytest

from aeries.ui.chat.conversations import ACTIONS_KEY
from aeries.ui.text import literal
from tests.helpers import db_rows, last_chat_request, markdown_texts, send


def test_chat_turn_streams_answer_and_logs_exchange(app, env, sim):
    at = app().run()
    assert not at.exception
    send(at, "What is a Bradley-Terry model?")
    assert not at.exception
    rows = db_rows(
        env,
        "SELECT status, model, params, completion_tokens, prompt_tokens, ttft_ms,"
        " response_text, source, endpoint FROM exchanges WHERE source = 'chat'",
    )
    assert len(rows) == 1
    status, model, params, completion, prompt, ttft, text, source, endpoint = rows[0]
    assert (status, model, source) == ("ok", "sim-llama-3.1-8b", "chat")
    assert completion == 30 + 1 and prompt > 0  # vLLM counts the end-of-sequence token
    # At least the server's 20 ms prefill; how long past it depends on the threads sharing
    # this process (the exact rule is pinned in tests/llm/test_timing_rule.py).
    assert 20 <= ttft < 1000
    assert json.loads(params)["temperature"] == 0.7
    assert endpoint == sim.base_url
    assert any(text.strip()[:40] in m for m in markdown_texts(at))
    caption = " ".join(c.value for c in at.caption)
    assert "TTFT" in caption and "31 tokens" in caption
    # Both messages stored, conversation titled from the first message.
    assert db_rows(env, "SELECT role FROM messages ORDER BY created_at") == [
        ("user",),
        ("assistant",),
    ]
    assert db_rows(env, "SELECT title, message_count FROM conversations") == [
        ("What is a Bradley-Terry model?", 2)
    ]
    assert at.query_params["c"]


def test_answer_is_shown_finished_only_once_saved(app, env, sim, monkeypatch):
    from aeries.config import load_settings
    from aeries.ui.chat import stream
    from aeries.ui.resources import _runtime

    at = app().run()
    rt = _runtime(load_settings(secrets={}))
    # A writer slow to commit (as on a loaded machine): it would hold the batch for 5 s.
    rt.writer.max_delay_s = 5.0
    seen: list[list[tuple]] = []
    draw = stream.metrics_caption

    def committed_then_draw(*args, **kwargs):
        # No flush: what is on disk at the moment the metrics line is drawn.
        seen.append(rt.db.rows("SELECT status FROM exchanges WHERE source = 'chat'"))
        return draw(*args, **kwargs)

    monkeypatch.setattr(stream, "metrics_caption", committed_then_draw)
    send(at, "Is it saved before the page says it is done?")
    assert "TTFT" in " ".join(c.value for c in at.caption)
    assert seen == [[("ok",)]]
    assert not at.error


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_blank_message_is_refused_with_hint(app, env, text):
    at = app().run()
    send(at, text)
    assert not at.exception
    assert any("empty or blank" in w.value for w in at.warning)
    assert db_rows(env, "SELECT count(*) FROM exchanges WHERE source = 'chat'") == [(0,)]


def test_reasoning_shown_in_collapsed_expander(app, env, sim):
    at = app().run()
    at.selectbox(key="aeries.model").select_index(1).run()  # sim-qwen3-8b
    send(at, "think first")
    assert not at.exception
    expanders = [e for e in at.expander if e.label == "Reasoning"]
    assert expanders
    reasoning, content = db_rows(
        env, "SELECT reasoning_text, response_text FROM exchanges WHERE source = 'chat'"
    )[0]
    assert reasoning and content and reasoning not in content


def test_thinking_inside_content_is_shown_as_reasoning(app, env, monkeypatch):
    # One vLLM process serving a reasoning model without --reasoning-parser: <think>…</think>
    # arrives inside content; the page shows it as reasoning, not as part of the answer.
    from aeries.sim import SimModel, SimServer, single_model_config

    model = SimModel("sim-qwen3-8b", reasoning=True, reasoning_parser=None)
    server = SimServer(single_model_config(model, ttft_ms=5, itl_ms=1, tokens=12)).start()
    monkeypatch.setenv("AERIES_BASE_URL", server.base_url)
    try:
        at = app().run()
        send(at, "think first")
    finally:
        server.stop()
    assert not at.exception
    assert [e for e in at.expander if e.label == "Reasoning"]
    assert not any("<think>" in m or "</think>" in m for m in markdown_texts(at))
    reasoning, content = db_rows(
        env, "SELECT reasoning_text, response_text FROM exchanges WHERE source = 'chat'"
    )[0]
    assert reasoning and content and "<think>" not in content + reasoning


def test_thinking_off_sends_enable_thinking_false(app, env, sim):
    at = app().run()
    at.selectbox(key="aeries.model").select_index(1).run()
    at.toggle(key="aeries.thinking").set_value(False).run()
    send(at, "no thinking please")
    assert last_chat_request(sim)["chat_template_kwargs"] == {"enable_thinking": False}
    assert db_rows(env, "SELECT reasoning_text FROM exchanges WHERE source = 'chat'") == [(None,)]
    assert (
        json.loads(db_rows(env, "SELECT params FROM exchanges WHERE source = 'chat'")[0][0])[
            "thinking"
        ]
        is False
    )


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("unknown_model", "unknown_model", "not served"),
        ("context_length", "context_length", "too long"),
        ("midstream_error", "midstream_error", "partial answer was kept"),
        ("server_error", "http_500", "error (500)"),
        ("grammar_error", "bad_request", "refused the request before answering"),
        ("engine_error", "server_failed", "failed before answering"),
        ("engine_paused", "server_busy", "paused or too busy"),
    ],
)
def test_failures_show_clear_message_and_are_logged(app, env, sim, fault, kind, words):
    sim.config.fault = fault
    at = app().run()
    send(at, "hello")
    assert not at.exception
    # Error texts are shown literally (they may quote the request): compare escaped forms.
    assert any(literal(words) in e.value for e in at.error)
    assert db_rows(env, "SELECT status, error_kind FROM exchanges WHERE source = 'chat'") == [
        ("error", kind)
    ]
    # The user's message is kept, and the failed answer is recorded with its status.
    assert db_rows(env, "SELECT role, status FROM messages ORDER BY created_at") == [
        ("user", None),
        ("assistant", "error"),
    ]


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [("server_abort", "server_abort", "before the end"), ("repetition", "repetition", "repeating")],
)
def test_an_answer_the_server_cut_off_is_kept_with_a_warning(app, env, sim, fault, kind, words):
    sim.config.fault = fault
    at = app().run()
    send(at, "hello")
    assert not at.exception
    assert any(words in w.value and "What arrived is kept" in w.value for w in at.warning)
    assert not at.error
    assert db_rows(env, "SELECT status, error_kind FROM exchanges WHERE source = 'chat'") == [
        ("cut_off", kind)
    ]
    [(status, content)] = db_rows(
        env, "SELECT status, content FROM messages WHERE role = 'assistant'"
    )
    assert status == "cut_off" and content
    # Drawn again from the database (a fresh session on the same conversation), it says so.
    again = app().run()
    again.button(
        key=next(b.key for b in again.button if (b.key or "").startswith("conv-"))
    ).click().run()
    assert any(words in w.value for w in again.warning)


def test_server_down_says_aeries_is_resting(app, env, monkeypatch):
    monkeypatch.setenv("AERIES_BASE_URL", "http://127.0.0.1:9/v1")
    at = app().run()
    assert not at.exception
    assert any("Aeries is resting" in w.value for w in at.warning)
    send(at, "anyone there?")
    assert not at.exception
    assert db_rows(env, "SELECT count(*) FROM exchanges WHERE source = 'chat'") == [(0,)]


def test_prompt_too_long_is_a_clear_error_not_a_crash(app, env):
    at = app().run()
    send(at, "x " * 100_000)  # 200 KB
    assert not at.exception
    assert any("too long" in e.value for e in at.error)
    assert db_rows(env, "SELECT status, error_kind FROM exchanges WHERE source = 'chat'") == [
        ("error", "context_length")
    ]
    assert db_rows(env, "SELECT length(content) FROM messages WHERE role='user'") == [(200_000,)]


def _assistant_ids(env):
    return [
        r[0]
        for r in db_rows(env, "SELECT id FROM messages WHERE role='assistant' ORDER BY created_at")
    ]


def test_regenerate_creates_sibling_and_navigation_switches_branch(app, env):
    at = app().run()
    send(at, "first question")
    first = _assistant_ids(env)[0]
    at.button(key=f"regen-{first}").click().run()
    assert not at.exception
    ids = _assistant_ids(env)
    assert len(ids) == 2
    parents = db_rows(env, "SELECT DISTINCT parent_id FROM messages WHERE role='assistant'")
    assert len(parents) == 1  # siblings share the user message
    origin = db_rows(env, "SELECT origin, origin_message_id FROM messages WHERE id = ?", [ids[1]])
    assert origin == [("regenerate", first)]
    assert any(m.value == "2 / 2" for m in at.markdown)
    texts = db_rows(
        env, "SELECT response_text FROM exchanges WHERE source = 'chat' ORDER BY started_at"
    )
    at.button(key=f"prev-{ids[1]}").click().run()
    assert any(m.value == "1 / 2" for m in at.markdown)
    shown = "\n".join(markdown_texts(at))
    assert texts[0][0][:30] in shown
    leaf = db_rows(env, "SELECT current_leaf_id FROM conversations")[0][0]
    assert leaf == first


def test_edit_creates_sibling_question_and_history_follows_branch(app, env, sim):
    at = app().run()
    send(at, "original question")
    send(at, "follow up")
    user_ids = [
        r[0] for r in db_rows(env, "SELECT id FROM messages WHERE role='user' ORDER BY created_at")
    ]
    at.button(key=f"edit-{user_ids[0]}").click().run()
    at.text_area(key=f"edit-text-{user_ids[0]}").input("edited question")
    at.button(key=f"FormSubmitter:edit-form-{user_ids[0]}-Save and send").click().run()
    assert not at.exception
    rows = db_rows(
        env, "SELECT content, parent_id, origin FROM messages WHERE role='user' ORDER BY created_at"
    )
    assert rows[-1] == ("edited question", None, "edit")
    sent = [m["content"] for m in last_chat_request(sim)["messages"] if m["role"] != "system"]
    assert sent == ["edited question"]  # the new branch only, not the old follow-up
    assert any(m.value == "2 / 2" for m in at.markdown)


def test_history_sent_follows_shown_branch(app, env, sim):
    at = app().run()
    send(at, "q1")
    first = _assistant_ids(env)[0]
    at.button(key=f"regen-{first}").click().run()
    second = _assistant_ids(env)[1]
    at.button(key=f"prev-{second}").click().run()  # back to the first answer
    send(at, "q2")
    sent = [m for m in last_chat_request(sim)["messages"] if m["role"] != "system"]
    first_text = db_rows(env, "SELECT content FROM messages WHERE id = ?", [first])[0][0]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == first_text


def test_feedback_and_comment_land_in_signals(app, env):
    at = app().run()
    send(at, "rate me")
    answer = _assistant_ids(env)[0]
    at.feedback(key=f"thumbs-{answer}").set_value(1).run()
    at.text_area(key=f"comment-{answer}").input("Clear & <b>short</b>")
    at.button(key=f"FormSubmitter:comment-form-{answer}-Save comment").click().run()
    assert not at.exception
    rows = db_rows(
        env,
        "SELECT kind, name, value_num, value_text, message_id, exchange_id IS NOT NULL"
        " FROM signals WHERE kind = 'feedback' ORDER BY created_at",
    )
    assert rows == [
        ("feedback", "thumbs", 1.0, None, answer, True),
        ("feedback", "comment", None, "Clear & <b>short</b>", answer, True),
    ]
    # Analytics files the thumb under its answer's exchange, from the page (just answered) ...
    filed = """SELECT a.thumb, a.model = e.model, a.started_at = e.started_at, a.source,
                      a.persona_id IS NOT DISTINCT FROM e.persona_id,
                      a.brief_enabled IS NOT DISTINCT FROM e.brief_enabled
               FROM answer_scores a JOIN exchanges e ON e.id = a.exchange_id"""
    assert db_rows(env, filed) == [(1.0, True, True, "chat", True, True)]
    # ... and from the conversation loaded back from the database.
    conv = db_rows(env, "SELECT conversation_id FROM messages WHERE id = ?", [answer])[0][0]
    again = app({"c": conv}).run()
    again.feedback(key=f"thumbs-{answer}").set_value(0).run()
    assert not again.exception
    assert db_rows(env, filed) == [(0.0, True, True, "chat", True, True)]


def test_rename_archive_delete_search_and_export(app, env):
    at = app().run()
    send(at, "Owls at night")
    at.button(key="aeries.new_chat").click().run()
    send(at, "Cats by day")
    convs = dict(db_rows(env, "SELECT title, id FROM conversations"))
    owl, cat = convs["Owls at night"], convs["Cats by day"]
    # search by content
    at.text_input(key="aeries.search").input("night").run()
    labels = [b.label for b in at.button if b.key and b.key.startswith("conv-")]
    assert labels == ["Owls at night"]
    at.text_input(key="aeries.search").input("").run()
    assert not [t for t in at.text_input if t.key == f"title-{cat}"]  # closed: not drawn
    at.session_state[ACTIONS_KEY] = True  # "This conversation" opened
    at.run()
    # rename the open conversation (cats)
    at.text_input(key=f"title-{cat}").input("Felines <i>by</i> day").run()
    at.button(key=f"rename-{cat}").click().run()
    assert db_rows(env, "SELECT title FROM conversations WHERE id = ?", [cat]) == [
        ("Felines <i>by</i> day",)
    ]
    # exports
    md = at.get("download_button")
    assert md  # Markdown and JSON download buttons are present
    # archive then delete
    at.button(key=f"archive-{cat}").click().run()
    assert db_rows(env, "SELECT archived FROM conversations WHERE id = ?", [cat]) == [(True,)]
    at.button(key=f"conv-{owl}").click().run()
    at.session_state[ACTIONS_KEY] = True
    at.run()
    at.checkbox(key=f"sure-{owl}").check().run()
    at.button(key=f"delete-{owl}").click().run()
    assert db_rows(env, "SELECT deleted FROM conversations WHERE id = ?", [owl]) == [(True,)]
    assert not [b for b in at.button if b.key == f"conv-{owl}"]
    assert not at.exception


@pytest.mark.parametrize(
    "text",
    [
        "שלום עולם",
        "emoji 👩🏽‍🔬 and combining é",
        "nul\x00byte",
        "<script>alert(1)</script>",
        "**bold** [x](javascript:alert(1))",
    ],
)
def test_unusual_text_is_stored_and_shown_literally(app, env, text):
    at = app().run()
    send(at, text)
    assert not at.exception
    # PostgreSQL text cannot hold U+0000: that store keeps U+FFFD in its place.
    stored = text.replace("\x00", "\ufffd") if env["AERIES_DB"].startswith("postgresql") else text
    assert db_rows(env, "SELECT content FROM messages WHERE role='user'") == [(stored,)]
    from aeries.ui.text import literal

    assert literal(text) in markdown_texts(at)


def test_reload_keeps_conversation_via_query_param(app, env):
    at = app().run()
    send(at, "remember me")
    conv = at.query_params["c"]
    again = app({"c": conv}).run()
    assert not again.exception
    assert any("remember me" in m for m in markdown_texts(again))


def test_crafted_conversation_id_shows_nothing(app, env):
    at = app({"c": "'; DROP TABLE conversations; --"}).run()
    assert not at.exception
    assert db_rows(env, "SELECT count(*) FROM conversations") == [(0,)]


def test_sampling_set_before_the_first_message_survives_the_answer(app, env, sim):
    at = app().run()
    at.number_input(key="aeries.max_tokens").set_value(777).run()
    at.slider(key="aeries.temperature").set_value(0.3).run()
    send(at, "first")
    assert at.number_input(key="aeries.max_tokens").value == 777
    assert at.slider(key="aeries.temperature").value == 0.3
    send(at, "second")
    assert last_chat_request(sim)["max_tokens"] == 777
    assert last_chat_request(sim)["temperature"] == 0.3


def test_the_model_named_in_aeries_model_is_picked_first(app, env, monkeypatch):
    monkeypatch.setenv("AERIES_MODEL", "sim-mistral-7b")
    at = app().run()
    picker = at.selectbox(key="aeries.model")
    assert picker.options[picker.index] == "sim-mistral-7b"
    send(at, "which model answers?")
    assert db_rows(env, "SELECT model FROM exchanges WHERE source = 'chat'") == [
        ("sim-mistral-7b",)
    ]


def test_an_unserved_aeries_model_is_said_not_ignored(app, env, monkeypatch):
    monkeypatch.setenv("AERIES_MODEL", "gpt-17")
    at = app().run()
    assert any("AERIES_MODEL" in w.value and "gpt" in w.value for w in at.warning)
