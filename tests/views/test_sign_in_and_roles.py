"""Roles and identity through AppTest: signed links, navigation, crafted URLs, login, local
mode, the researcher secret, and names that cannot be cut or confused."""

from __future__ import annotations

import pytest

from aeries.auth import hash_secret, participant_token
from tests.helpers import ROOT, db_rows, participant_link, send

SECRET = "correct horse battery staple"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x",
    "client_id": "c",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:9/.well-known",
}


@pytest.fixture
def remote(monkeypatch):
    """Sessions come from another machine: local mode never applies."""
    monkeypatch.setattr("aeries.ui.identity.is_local", lambda rt: False)


def owner_names(env) -> list[str]:
    return [
        r[0]
        for r in db_rows(
            env,
            "SELECT u.name FROM conversations c JOIN users u ON u.id = c.user_id "
            "ORDER BY c.created_at",
        )
    ]


def page_titles(at) -> list[str]:
    return [t.value for t in at.title]


def conv_buttons(at) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith("conv-")]


def signed_in_as(at) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


# --- navigation keeps the identity ---------------------------------------------------------


def message_owners(env) -> dict[str, int]:
    rows = db_rows(
        env,
        "SELECT u.name, count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN users u ON u.id = c.user_id WHERE m.role = 'user' GROUP BY u.name",
    )
    return dict(rows)


def navigate(at, target: str):
    """What a click in the sidebar does: another page, and the URL's query parameters gone
    (Streamlit's navigation does not carry them; AppTest would keep them otherwise)."""
    at.switch_page(target)
    for key in list(at.query_params):
        del at.query_params[key]
    return at.run()


@pytest.mark.parametrize("target", ["views/analytics.py", "views/arena.py", "views/personas.py"])
def test_a_participant_stays_themselves_across_pages(app, env, target, remote):
    at = app(participant_link(env, "alice")).run()
    send(at, "alice writes here")
    token = at.query_params["p"]
    navigate(at, target)
    assert not at.exception
    assert at.query_params["p"] == token  # re-attached to the URL on the new page
    assert "alice" in signed_in_as(at) and "researcher" not in signed_in_as(at).lower()
    assert not at.dataframe and not at.get("vega_lite_chart")
    navigate(at, "views/chat.py")
    assert at.query_params["p"] == token
    send(at, "alice again")
    assert message_owners(env) == {"alice": 2}


def test_a_participant_cannot_open_analytics_or_participants(app, env, remote, monkeypatch):
    monkeypatch.setenv("AERIES_RESEARCHER_SECRET_HASH", hash_secret(SECRET))
    at = app(participant_link(env, "bob")).run()
    assert _nav(at) == ["Chat", "Arena", "Personas"]
    for page in ("views/analytics.py", "views/participants.py"):
        assert not opens(at, page, page.split("/")[1][:-3].capitalize())


def test_research_pages_refuse_a_participant_who_reaches_them(app, env, remote, monkeypatch):
    """Defence in depth: even if navigation let a participant through, the page says no."""
    from streamlit.testing.v1 import AppTest

    import aeries.ui.sign_in as sign_in

    at = app(participant_link(env, "bob")).run()
    monkeypatch.setattr(sign_in, "auth_mode", lambda rt: "secret")
    # Run the analytics page script directly as bob (the navigation would not list it).
    direct = AppTest.from_file(str(ROOT / "views" / "analytics.py"), default_timeout=30)
    direct.session_state["aeries.identity"] = at.session_state["aeries.identity"]
    direct.run()
    assert any("for researchers" in e.value for e in direct.error)
    assert not direct.get("vega_lite_chart")


# --- crafted URLs --------------------------------------------------------------------------


def test_a_bare_name_in_the_url_signs_nobody_in(app, env, remote):
    alice = app(participant_link(env, "alice")).run()
    send(alice, "alice's secret plan")
    conv = alice.query_params["c"]
    for query in ({"u": "alice"}, {"u": "alice", "c": conv}, {"u": "researcher"}, {}):
        at = app(query).run()
        assert not at.exception
        assert page_titles(at) == ["Welcome to Aeries"]
        assert not conv_buttons(at)
        assert not any("secret plan" in m.value for m in at.markdown)
        assert not at.chat_input


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "f" + t[1:],  # user id changed
        lambda t: t.split(".")[0] + ".1." + t.split(".")[2],  # epoch changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "x" * 500,
        lambda t: t + "\x00",
    ],
)
def test_a_forged_or_mangled_link_is_refused(app, env, remote, mangle):
    good = participant_link(env, "alice")["p"]
    alice = app({"p": good}).run()
    send(alice, "alice's diary")
    at = app({"p": mangle(good)}).run()
    assert not at.exception
    assert page_titles(at) == ["Welcome to Aeries"]
    assert any("not valid" in w.value for w in at.warning)
    assert "p" not in at.query_params
    assert not any("diary" in m.value for m in at.markdown)


def test_a_renewed_link_replaces_the_old_one(app, env, remote):
    from aeries.config import load_settings
    from aeries.store.db import Database
    from aeries.store.users import renew_link

    old = participant_link(env, "carol")
    assert app(old).run().chat_input
    settings = load_settings(secrets={})
    db = Database(settings.store_target)
    uid = db.one("SELECT id FROM users WHERE name = 'carol'")[0]
    renew_link(db, uid)
    db.close()
    assert page_titles(app(old).run()) == ["Welcome to Aeries"]
    assert app(participant_link(env, "carol")).run().chat_input


def test_with_login_configured_links_and_names_are_ignored(app, env):
    """OIDC on, not logged in: neither Alice's valid link nor her name opens anything."""
    link = participant_link(env, "alice")
    alice = app(link).run()
    send(alice, "alice before login existed")
    for query in (link, {"u": "alice"}, {**link, "c": alice.query_params["c"]}):
        at = app(query)
        at.secrets["auth"] = AUTH
        at.run()
        assert not at.exception
        assert page_titles(at) == ["Welcome to Aeries"]
        assert [b.label for b in at.button] == ["Log in"]
        assert not any("before login" in m.value for m in at.markdown)
        assert "p" not in at.query_params and "u" not in at.query_params


def test_login_identity_and_researcher_list(app, env, monkeypatch):
    monkeypatch.setenv("AERIES_RESEARCHERS", "Boss@Example.org")

    def logged_in(email):
        at = app()
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email}
        return at.run()

    alice = logged_in("alice@example.org")
    assert _nav(alice) == ["Chat", "Arena", "Personas"]
    send(alice, "hello from alice")
    assert not opens(alice, "views/analytics.py", "Analytics")
    boss = logged_in("boss@example.org")  # case-insensitive match
    assert "Analytics" in _nav(boss)
    assert opens(boss, "views/analytics.py", "Analytics")


REFUSALS = ("for researchers", "Sign in on the start page")


def opens(at, page: str, title: str) -> bool:
    """Whether asking for ``page`` shows it. A page outside the session's navigation is refused
    by AppTest, or Streamlit runs the default page instead; and a page script run on its own
    refuses by itself and shows no data."""
    try:
        at.switch_page(page)
    except ValueError:
        return False
    at.run()
    assert not at.exception
    refused = any(r in m.value for m in (*at.error, *at.info) for r in REFUSALS)
    shown = title in page_titles(at) and not refused
    if not shown:
        assert not at.get("vega_lite_chart") and not at.dataframe
    return shown


def _nav(at) -> list[str]:
    """Titles of the pages in this session's navigation (what st.navigation registered; AppTest
    keeps no public accessor for it)."""
    return [info["page_name"] for info in at._registered_pages.values()]


# --- no shared default account ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["", "   ", "researcher", "Researcher", "RESEARCHER", "\x00"])
def test_reserved_or_empty_names_are_refused(app, env, remote, typed):
    at = app().run()
    at.text_input(key="aeries.signin.name").input(typed)
    at.button[0].click().run()
    assert not at.exception
    assert at.error  # said why
    assert page_titles(at) == ["Welcome to Aeries"]
    assert db_rows(env, "SELECT count(*) FROM users WHERE origin = 'name'") == [(0,)]


def test_two_visitors_without_a_link_never_share_an_account(app, env, remote):
    first, second = app().run(), app().run()
    assert not first.chat_input and not second.chat_input


def enrol(app, name):
    at = app().run()
    at.text_input(key="aeries.signin.name").input(name)
    at.button[0].click().run()
    return at


@pytest.mark.parametrize("look_alike", ["alice", "ALICE", " Alice ", "Ａｌｉｃｅ", "Ali\u200bce"])
def test_look_alike_names_are_taken_not_new_accounts(app, env, remote, look_alike):
    first = enrol(app, "Alice")
    assert first.chat_input and "p" in first.query_params
    send(first, "the real alice")
    other = enrol(app, look_alike)
    assert not other.exception
    assert any("already taken" in e.value for e in other.error)
    assert not other.chat_input
    assert db_rows(env, "SELECT count(*) FROM users WHERE origin = 'name'") == [(1,)]


def test_long_names_are_refused_not_cut(app, env, remote):
    base = "p" * 64
    assert enrol(app, base).chat_input
    longer = enrol(app, base + "2")
    assert any("at most 64" in e.value for e in longer.error)
    assert db_rows(env, "SELECT name FROM users WHERE origin = 'name'") == [(base,)]


def test_enrolling_gives_a_personal_link_that_signs_back_in(app, env, remote):
    at = enrol(app, "Dora")
    send(at, "dora's note")
    token = at.query_params["p"]
    back = app({"p": token}).run()
    assert "Dora" in signed_in_as(back)
    assert conv_buttons(back)


def test_invite_only_install_offers_no_name_box(app, env, remote, monkeypatch):
    monkeypatch.setenv("AERIES_SIGNUP", "invite")
    at = app().run()
    assert not at.text_input
    assert any("personal link" in i.value for i in at.info)


# --- researchers ---------------------------------------------------------------------------


def test_in_process_session_is_local_mode_researcher(app, env):
    at = app().run()
    assert "Local mode" in signed_in_as(at)
    assert "Analytics" in _nav(at)


def test_without_any_researcher_the_research_pages_explain_setup(app, env, remote):
    at = app(participant_link(env, "erin")).run()
    assert "Analytics" in _nav(at)  # shown so the setup help can be found
    at.switch_page("views/analytics.py").run()
    assert any("researcher-secret" in w.value for w in at.warning)
    assert not at.get("vega_lite_chart") and not at.dataframe


def test_researcher_secret_signs_in_and_wrong_ones_are_throttled(app, env, remote, monkeypatch):
    monkeypatch.setenv("AERIES_RESEARCHER_SECRET_HASH", hash_secret(SECRET))
    at = app().run()
    assert "Analytics" not in _nav(at)
    at.text_input(key="aeries.signin.secret").input("not the secret!")
    at.button(key="FormSubmitter:aeries.signin.researcher-Sign in").click().run()
    assert any("not the researcher secret" in e.value for e in at.error)
    at.text_input(key="aeries.signin.secret").input(SECRET)
    at.button(key="FormSubmitter:aeries.signin.researcher-Sign in").click().run()
    assert opens(at, "views/analytics.py", "Analytics") and not at.error
    # Five wrong secrets in a row pause every attempt, the right one included.
    for _ in range(5):
        other = app().run()
        other.text_input(key="aeries.signin.secret").input("wrong wrong wrong")
        other.button(key="FormSubmitter:aeries.signin.researcher-Sign in").click().run()
    late = app().run()
    late.text_input(key="aeries.signin.secret").input(SECRET)
    late.button(key="FormSubmitter:aeries.signin.researcher-Sign in").click().run()
    assert any("Too many wrong secrets" in e.value for e in late.error)
    assert page_titles(late) == ["Welcome to Aeries"]


def test_a_participant_link_is_never_a_researcher(app, env):
    """Even in local mode, a participant's link makes the session that participant."""
    at = app(participant_link(env, "frank")).run()
    assert "frank" in signed_in_as(at)
    assert "Analytics" not in _nav(at)


def test_researcher_sees_participants_and_makes_links(app, env):
    at = app().run()
    at.switch_page("views/participants.py").run()
    at.text_area(key="aeries.participants.names").input("P001\nP002\np001\n\nresearcher")
    at.button[0].click().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "already taken" in warnings and "reserved" in warnings
    rows = db_rows(env, "SELECT name, origin FROM users WHERE origin = 'invite' ORDER BY name")
    assert rows == [("P001", "invite"), ("P002", "invite")]
    links = at.dataframe[0].value["link"].tolist()
    token = links[0].split("?p=")[1]
    assert "P001" in signed_in_as(app({"p": token}).run())


def test_tokens_are_bound_to_the_install_key(app, env):
    link = participant_link(env, "gina")
    uid, epoch, _ = link["p"].split(".")
    assert participant_token(b"another key" * 3, uid, int(epoch)) != link["p"]


def test_there_is_no_pages_folder_beside_app_py():
    """Streamlit 1.67 switches to its old multipage mode whenever a ``pages/`` folder exists
    beside the entry script: each page script named in a URL or a rerun then runs *without*
    app.py, so identity, navigation and the store banner would be skipped. The page scripts
    live in ``views/``."""
    assert not (ROOT / "pages").exists()
    assert (ROOT / "views" / "chat.py").exists()


def test_app_py_runs_on_every_rerun(app, env, monkeypatch):
    import aeries.ui.store_health as store_health

    calls: list[int] = []
    original = store_health.store_banner  # drawn by app.py only
    monkeypatch.setattr(store_health, "store_banner", lambda rt: calls.append(1) or original(rt))
    at = app().run()
    send(at, "a rerun")
    at.run()
    assert len(calls) == 3


def test_a_personal_link_points_at_the_start_page_whatever_page_made_it(monkeypatch):
    from aeries.ui import identity

    class Context:
        url = "https://study.example.org/base/participants"

    monkeypatch.setattr(identity.st, "context", Context)
    assert identity.personal_link("T") == "https://study.example.org/base/?p=T"
    Context.url = "http://localhost:8501"
    assert identity.personal_link("T") == "http://localhost:8501/?p=T"
