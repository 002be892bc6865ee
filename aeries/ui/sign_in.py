"""The start page for a session nobody is signed in to, and the sidebar box once someone is."""

from __future__ import annotations

import streamlit as st

from aeries.auth import (
    Identity,
    NameRefused,
    check_participant_name,
    participant_token,
    secret_matches,
)
from aeries.auth.researcher_secret import MIN_LENGTH
from aeries.auth.tokens import researcher_token
from aeries.runtime import Runtime
from aeries.store.db import is_storage_error, store_errors
from aeries.store.users import NameTaken, create_account, researcher_account
from aeries.ui.identity import (
    BAD_LINK,
    BAD_LINK_SEEN,
    LEGACY_NAME_PARAM,
    auth_mode,
    current_identity,
    link_identity,
    personal_link,
    resolve_identity,
    sign_in,
    sign_out,
    write_researcher_cookie,
)
from aeries.ui.store_health import STORE_DOWN_NEW, store_is_down
from aeries.ui.text import literal

_NAME = "aeries.signin.name"

SETUP_HELP = """No researcher is set up for this Aeries, so nobody can see the research pages.
To set one up, either:

- **a researcher secret**: run `python -m aeries researcher-secret`, put the line it prints
  (`AERIES_RESEARCHER_SECRET_HASH=…`) in the environment or in `.streamlit/secrets.toml`
  under `[aeries]`, and restart; then sign in here with the secret;
- **OIDC login**: configure Streamlit's `[auth]` in `.streamlit/secrets.toml` and list the
  researchers' emails in `AERIES_RESEARCHERS`;
- **local mode**, for one researcher on their own computer: run Aeries bound to loopback
  (`streamlit run app.py`, whose `.streamlit/config.toml` sets `server.address = "127.0.0.1"`)
  and open it on that computer."""


def _enrol(rt: Runtime) -> None:
    try:
        name, key = check_participant_name(st.session_state.get(_NAME))
    except NameRefused as exc:
        st.session_state["aeries.signin.error"] = str(exc)
        return
    if store_is_down(rt):
        st.session_state["aeries.signin.error"] = STORE_DOWN_NEW
        return
    try:
        account = create_account(rt.db, name, key, "name")
    except NameTaken:
        st.session_state["aeries.signin.error"] = (
            f"The name “{name}” is already taken. If it is yours, open the personal link you got "
            "when you first started (it signs you in). Otherwise, pick another name."
        )
        return
    except store_errors() as exc:
        if not is_storage_error(exc):
            raise
        st.session_state["aeries.signin.error"] = STORE_DOWN_NEW
        return
    sign_in(link_identity(account, participant_token(rt.key, account.id, account.link_epoch)))
    st.session_state["aeries.signin.welcome"] = True


def _researcher_sign_in(rt: Runtime) -> None:
    secret = st.session_state.pop("aeries.signin.secret", "") or ""
    wait = rt.throttle.wait_s()
    if wait > 0:
        st.session_state["aeries.signin.error"] = (
            f"Too many wrong secrets. Try again in {wait:.0f} seconds."
        )
        return
    stored = rt.settings.researcher_secret_hash
    ok = bool(stored) and secret_matches(stored or "", secret)
    rt.throttle.record(ok)
    if not ok:
        st.session_state["aeries.signin.error"] = "That is not the researcher secret."
        return
    account = researcher_account(rt.db)
    sign_in(
        Identity(account.id, account.name, "researcher", "secret"),
        researcher_token=researcher_token(rt.key, stored or ""),
    )


def _participant_form(rt: Runtime) -> None:
    if rt.settings.signup == "invite":
        st.info("To take part, open the personal link the researcher gave you.")
        return
    legacy = st.query_params.get(LEGACY_NAME_PARAM)
    if legacy and _NAME not in st.session_state:
        st.session_state[_NAME] = legacy
        st.caption(
            "Links with `?u=` no longer sign anyone in (anybody could type them). Press Start "
            "to begin under this name, or open the personal link you were given."
        )
    with st.form("aeries.signin.participant"):
        st.text_input(
            "Your name or participant ID",
            key=_NAME,
            placeholder="e.g. P017",
            help="Shown to the researcher with your conversations. Names are unique.",
        )
        st.form_submit_button("Start", type="primary", on_click=_enrol, args=(rt,))


def _researcher_form(rt: Runtime) -> None:
    mode = auth_mode(rt)
    with st.expander("Researcher sign-in", expanded=mode == "none"):
        if mode == "secret":
            with st.form("aeries.signin.researcher"):
                st.text_input(
                    "Researcher secret",
                    type="password",
                    key="aeries.signin.secret",
                    help=f"At least {MIN_LENGTH} characters; set with "
                    "`python -m aeries researcher-secret`.",
                )
                st.form_submit_button("Sign in", on_click=_researcher_sign_in, args=(rt,))
        else:
            st.markdown(SETUP_HELP)


def sign_in_page(rt: Runtime) -> None:
    """The page a session without an identity sees: take part, or sign in."""
    st.title("Welcome to Aeries", anchor=False)
    write_researcher_cookie()  # after a sign-out, the cookie is cleared from here
    if error := st.session_state.pop("aeries.signin.error", None):
        st.error(literal(error))
    if st.session_state.pop(BAD_LINK_SEEN, False):
        st.warning(BAD_LINK)
    if auth_mode(rt) == "oidc":
        st.write("Sign in to continue.")
        st.button("Log in", type="primary", on_click=st.login, key="aeries.login")
        return
    st.write(
        "Aeries is a research study: you talk with an AI model, and what you write is kept "
        "as research data."
    )
    _participant_form(rt)
    _researcher_form(rt)


def identity_box(rt: Runtime) -> None:
    """Sidebar: who this session is, their personal link, and signing out."""
    identity = current_identity()
    write_researcher_cookie()
    if identity is None:
        return
    bar = st.sidebar
    role = {"researcher": "researcher", "annotator": "annotator"}.get(identity.role, "")
    suffix = f" ({role})" if role else ""
    if identity.is_researcher:
        bar.caption(f"Data: `{rt.settings.db_path}`")
    if identity.via == "local":
        bar.caption(
            "**Local mode**: you are this computer's researcher. Only this computer can "
            "connect (Aeries listens on loopback)."
        )
    else:
        bar.caption(f"Signed in as **{literal(identity.name)}**{suffix}")
    if identity.link_token:
        if st.session_state.pop("aeries.signin.welcome", False):
            st.toast("Welcome! Keep this page's address: it is your personal link back.")
        with bar.popover("Your personal link", width="stretch"):
            st.caption(
                "Open this address to come back to your conversations, on any device. "
                "Keep it to yourself: anyone with it can read them."
            )
            st.code(personal_link(identity.link_token), language=None, wrap_lines=True)
    if identity.via == "login":
        bar.button("Log out", on_click=st.logout, key="aeries.logout")
    elif identity.via != "local":
        bar.button("Sign out", on_click=sign_out, key="aeries.signout")


def research_gate(rt: Runtime) -> bool:
    """On a research page: True for a researcher; otherwise say why the page is closed."""
    identity = resolve_identity(rt)
    if identity is not None and identity.is_researcher:
        return True
    if auth_mode(rt) == "none":
        st.warning(SETUP_HELP)
    else:
        st.error("This page is for researchers.")
    return False
