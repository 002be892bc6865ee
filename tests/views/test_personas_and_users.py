"""Personas, the brief in requests, and user scoping, through AppTest."""

from __future__ import annotations

import json

from aeries.ui.chat.knowledge import PANEL_KEY
from aeries.ui.text import literal
from tests.helpers import db_rows, last_chat_request, participant_link, send


def open_personas(at):
    at.switch_page("views/personas.py").run()
    assert not at.exception
    return at


def create_persona(at, name: str, prompt: str, temperature: float = 0.2):
    at.radio(key="aeries.personas.pick").set_value("__new__").run()
    name_box = next(t for t in at.text_input if t.key and t.key.startswith("p-name-"))
    pid = name_box.key.removeprefix("p-name-")
    name_box.input(name)
    at.text_area(key=f"p-prompt-{pid}").input(prompt)
    at.slider(key=f"p-temp-{pid}").set_value(temperature)
    at.toggle(key=f"p-think-{pid}").set_value(False)
    at.button(key=f"FormSubmitter:persona-form-{pid}-Create").click().run()
    assert not at.exception
    return pid


def test_default_persona_exists_and_cannot_be_deleted(app, env):
    at = open_personas(app().run())
    rows = db_rows(env, "SELECT name, is_default FROM personas WHERE NOT deleted")
    assert rows == [("Helpful assistant", True)]
    pid = db_rows(env, "SELECT id FROM personas")[0][0]
    assert at.button(key=f"p-del-{pid}").disabled


def test_persona_create_edit_duplicate_delete(app, env):
    at = open_personas(app().run())
    pid = create_persona(at, "Terse tutor", "Answer in one sentence.")
    # Said after the page's rerun: a toast drawn just before st.rerun() is dropped with the
    # run's unsent deltas whenever the rerun starts first.
    assert [t.value for t in at.toast] == [f"Saved “{literal('Terse tutor')}”."]
    assert db_rows(
        env, "SELECT name, system_prompt, temperature, thinking FROM personas WHERE id = ?", [pid]
    ) == [("Terse tutor", "Answer in one sentence.", 0.2, False)]
    # edit
    at.text_input(key=f"p-name-{pid}").input("Terse tutor v2")
    at.button(key=f"FormSubmitter:persona-form-{pid}-Save").click().run()
    assert db_rows(env, "SELECT name FROM personas WHERE id = ?", [pid]) == [("Terse tutor v2",)]
    # duplicate
    at.button(key=f"p-dup-{pid}").click().run()
    names = sorted(r[0] for r in db_rows(env, "SELECT name FROM personas WHERE NOT deleted"))
    assert names == ["Helpful assistant", "Terse tutor v2", "Terse tutor v2 (copy)"]
    # delete the copy
    copy = db_rows(env, "SELECT id FROM personas WHERE name LIKE '%(copy)'")[0][0]
    at.radio(key="aeries.personas.pick").set_value(copy).run()
    at.button(key=f"p-del-{copy}").click().run()
    assert db_rows(env, "SELECT deleted FROM personas WHERE id = ?", [copy]) == [(True,)]
    assert [t.value for t in at.toast] == [f"Deleted “{literal('Terse tutor v2 (copy)')}”."]
    assert not at.exception


def test_persona_without_a_name_is_refused(app, env):
    at = open_personas(app().run())
    at.radio(key="aeries.personas.pick").set_value("__new__").run()
    pid = next(t for t in at.text_input if t.key.startswith("p-name-")).key[7:]
    at.button(key=f"FormSubmitter:persona-form-{pid}-Create").click().run()
    assert any("needs a name" in e.value for e in at.error)
    assert db_rows(env, "SELECT count(*) FROM personas") == [(1,)]


def test_conversation_started_with_a_persona_sends_its_parameters(app, env, sim):
    at = open_personas(app().run())
    pid = create_persona(at, "Pirate", "Talk like a pirate.", temperature=1.3)
    at.switch_page("views/chat.py").run()
    at.selectbox(key="aeries.persona").set_value(pid).run()
    send(at, "hello")
    request = last_chat_request(sim)
    assert request["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
    assert request["temperature"] == 1.3
    assert request["chat_template_kwargs"] == {"enable_thinking": False}
    assert db_rows(env, "SELECT persona_id FROM conversations") == [(pid,)]
    params = json.loads(db_rows(env, "SELECT params FROM exchanges WHERE source='chat'")[0][0])
    assert params["persona"] == "Pirate"


def test_switching_persona_mid_conversation_is_recorded(app, env, sim):
    at = open_personas(app().run())
    pid = create_persona(at, "Poet", "Answer in verse.")
    at.switch_page("views/chat.py").run()
    send(at, "hi")
    at.selectbox(key="aeries.persona").set_value(pid).run()
    send(at, "again")
    assert db_rows(env, "SELECT persona_id FROM conversations") == [(pid,)]
    events = db_rows(env, "SELECT kind, payload->>'to' FROM events")
    assert events == [("persona_changed", pid)]
    assert last_chat_request(sim)["messages"][0]["content"] == "Answer in verse."


def _seed_brief(env, user_name="researcher"):
    """Give the user a learned preference (as the observer would)."""
    from datetime import UTC, datetime

    from aeries.config import load_settings
    from aeries.observer import MODEL_PROVENANCE
    from aeries.store.profile import profile_ops
    from aeries.store.signals import signal_row
    from aeries.store.writer import Insert
    from aeries.ui.resources import _runtime

    rt = _runtime(load_settings(secrets={}))
    uid = db_rows(env, "SELECT id FROM users WHERE name = ?", [user_name])[0][0]
    row = signal_row(
        kind="observer",
        name="preference",
        user_id=uid,
        provenance=MODEL_PROVENANCE,
        value_text="verbosity=concise",
    )
    row["created_at"] = datetime.now(UTC)
    rt.writer.submit(Insert("signals", row), *profile_ops(row))
    rt.writer.flush()


def _system_texts(sim):
    return [m["content"] for m in last_chat_request(sim)["messages"] if m["role"] == "system"]


def test_request_contains_persona_prompt_then_brief_and_not_when_off(app, env, sim):
    at = app().run()
    _seed_brief(env)
    at.session_state[PANEL_KEY] = True  # the panel opened: its content is drawn only then
    send(at, "first")
    system = _system_texts(sim)
    assert len(system) == 2 and "verbosity: concise" in system[1]
    params = json.loads(db_rows(env, "SELECT params FROM exchanges WHERE source='chat'")[0][0])
    assert params["brief"] is True and params["brief_hash"]
    at.toggle(key="aeries.brief_on").set_value(False).run()
    send(at, "second")
    assert not any("verbosity" in s for s in _system_texts(sim))
    flags = db_rows(
        env, "SELECT brief_enabled FROM exchanges WHERE source='chat' ORDER BY started_at"
    )
    assert flags == [(True,), (False,)]
    assert db_rows(env, "SELECT kind FROM events") == [("brief_toggled",)]


def test_the_panel_draws_its_content_only_while_open(app, env):
    at = app().run()
    _seed_brief(env)
    at.run()
    assert not [t for t in at.toggle if t.key == "aeries.brief_on"]  # closed: nothing read
    assert not [b for b in at.button if b.key and b.key.startswith("forget-")]
    at.session_state[PANEL_KEY] = True
    at.run()
    assert [t.value for t in at.toggle if t.key == "aeries.brief_on"] == [True]
    (forget,) = [b.key for b in at.button if b.key and b.key.startswith("forget-")]
    assert not at.dataframe  # the evidence waits for its popover to open
    at.session_state[forget.replace("forget-", "why-")] = True
    at.run()
    assert len(at.dataframe) == 1


def test_forgetting_a_preference_in_the_panel_removes_it_from_requests(app, env, sim):
    at = app().run()
    _seed_brief(env)
    at.session_state[PANEL_KEY] = True
    at.run()
    forget = [b for b in at.button if b.key and b.key.startswith("forget-")]
    assert len(forget) == 1
    forget[0].click().run()
    send(at, "after forgetting")
    assert not any("verbosity: concise" in s for s in _system_texts(sim))
    assert db_rows(env, "SELECT kind FROM events") == [("preference_deleted",)]


def test_user_b_cannot_list_open_search_or_export_user_a(app, env):
    alice_link, bob_link = participant_link(env, "alice"), participant_link(env, "bob")
    alice = app(alice_link).run()
    send(alice, "alice's secret plan")
    conv = alice.query_params["c"]
    bob = app(bob_link).run()
    assert not bob.exception
    assert not [b for b in bob.button if b.key == f"conv-{conv}"]
    bob.text_input(key="aeries.search").input("secret").run()
    assert not [b for b in bob.button if (b.key or "").startswith("conv-")]
    crafted = app({**bob_link, "c": conv}).run()
    assert any("not yours" in t.value for t in crafted.toast) or "c" not in crafted.query_params
    assert not any("secret plan" in m.value for m in crafted.markdown)
    assert not crafted.get("download_button")
    # alice still sees it
    again = app(alice_link).run()
    assert [b for b in again.button if b.key == f"conv-{conv}"]


def test_oidc_login_identity_scopes_conversations(app, env):
    def logged_in(email: str):
        at = app()
        at.secrets["auth"] = {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "x",
            "client_id": "c",
            "client_secret": "s",
            "server_metadata_url": "http://127.0.0.1:9/.well-known",
        }
        at.user = {"is_logged_in": True, "email": email}
        return at.run()

    alice = logged_in("alice@example.org")
    assert not alice.exception
    signed_in = f"Signed in as **{literal('alice@example.org')}**"
    assert any(signed_in in c.value for c in alice.sidebar.caption)
    assert not [t for t in alice.text_input if t.key == "aeries.signin.name"]
    send(alice, "login-protected note")
    owner = db_rows(env, "SELECT u.name FROM conversations c JOIN users u ON u.id = c.user_id")
    assert owner == [("alice@example.org",)]
    bob = logged_in("bob@example.org")
    assert not [b for b in bob.button if (b.key or "").startswith("conv-")]


def _observer(env):
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    return _runtime(load_settings(secrets={})).observer


def test_observer_runs_after_the_stream_and_writes_signals_with_provenance(app, env, sim):
    at = app().run()
    send(at, "Please keep answers short. What is an owl?")
    assert _observer(env).drain(10)
    chat_start, chat_e2e, chat_ttft = db_rows(
        env,
        "SELECT extract(epoch FROM started_at) * 1000, e2e_ms, ttft_ms FROM exchanges "
        "WHERE source='chat'",
    )[0]
    observer_start = db_rows(
        env, "SELECT extract(epoch FROM started_at) * 1000 FROM exchanges WHERE source='observer'"
    )[0][0]
    assert observer_start >= chat_start + chat_e2e - 2  # only after the last token
    # The chat's timing is measured before the observer exists; its accuracy is tested in
    # tests/views/test_chat.py and tests/llm/test_llm.py. Here only a sanity bound (this test
    # runs under load).
    assert 15 < chat_ttft < 200
    kinds = {r[0] for r in db_rows(env, "SELECT DISTINCT kind || ':' || name FROM signals")}
    assert {"heuristic:user_chars", "observer:sentiment", "observer:satisfaction"} <= kinds
    provenance = db_rows(
        env,
        "SELECT DISTINCT extractor, extractor_version, prompt_hash "
        "FROM signals WHERE kind = 'observer'",
    )
    from aeries.observer import PROMPT_HASH

    assert provenance == [("observer", "1", PROMPT_HASH)]


def test_chat_keeps_working_when_the_observer_fails(app, env, sim):
    sim.config.fault = "invalid_json"  # only structured-output calls are affected
    at = app().run()
    send(at, "first")
    send(at, "second")
    assert not at.exception and not at.error
    assert _observer(env).drain(10)
    assert db_rows(env, "SELECT count(*), min(status) FROM exchanges WHERE source='chat'") == [
        (2, "ok")
    ]
    errors = db_rows(env, "SELECT value_text FROM signals WHERE name = 'observer_error'")
    assert len(errors) == 2 and all(e[0].startswith("invalid_json") for e in errors)


# Persona ownership on the page (the rules themselves: tests/store/test_personas.py).
def test_the_personas_page_shows_shared_ones_read_only(app, env, sim):
    link = participant_link(env, "carol")
    at = app(link).run()
    at.switch_page("views/personas.py").run()
    assert not at.exception
    default_id = db_rows(env, "SELECT id FROM personas WHERE is_default")[0][0]
    assert not [f for f in at.text_input if (f.key or "") == f"p-name-{default_id}"]
    assert at.text_area(key=f"ro-{default_id}").disabled
    assert at.button(key=f"p-del-{default_id}").disabled
    # Her copy is hers: editable, and what her chat sends.
    at.button(key=f"p-dup-{default_id}").click().run()
    copy_id = db_rows(env, "SELECT id FROM personas WHERE NOT is_default")[0][0]
    at.text_area(key=f"p-prompt-{copy_id}").input("Answer like a pirate.")
    at.button(key=f"FormSubmitter:persona-form-{copy_id}-Save").click().run()
    at.switch_page("views/chat.py").run()
    assert "Helpful assistant (copy)" in at.selectbox(key="aeries.persona").options
    at.selectbox(key="aeries.persona").set_value(copy_id).run()
    send(at, "ahoy")
    assert last_chat_request(sim)["messages"][0]["content"] == "Answer like a pirate."
    # Dan never sees it.
    dan = app(participant_link(env, "dan")).run()
    assert dan.selectbox(key="aeries.persona").options == ["Helpful assistant"]
