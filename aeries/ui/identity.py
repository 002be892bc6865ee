"""Who is using this session: resolved once per run by app.py, kept across pages.

Streamlit's page navigation drops query parameters, so the identity lives in session state and
a participant's signed link (``?p=``) is put back into the URL on every page, so a reload keeps
it. With OIDC login configured only the signed-in identity counts; otherwise a session is a
participant through a signed link, the researcher through the researcher secret (a signed,
expiring token in session state and a cookie), or the researcher of local mode. A bare name in
the URL never identifies anyone.
"""

from __future__ import annotations

import streamlit as st

from aeries.auth import Identity, local_mode_applies, read_participant_token
from aeries.auth.roles import ResearcherAuth, link_role, login_role, researcher_auth
from aeries.auth.tokens import RESEARCHER_SESSION_S, read_researcher_token
from aeries.runtime import Runtime
from aeries.store.users import Account, get_account, login_account, researcher_account
from aeries.ui.notices import notice

LINK_PARAM = "p"
LEGACY_NAME_PARAM = "u"
RESEARCHER_COOKIE = "aeries_researcher"
_IDENTITY = "aeries.identity"
_RESEARCHER_TOKEN = "aeries.researcher_token"
_SIGNED_OUT = "aeries.signed_out"
_COOKIE_PENDING = "aeries.researcher_cookie"
BAD_LINK_SEEN = "aeries.bad_link"
BAD_LINK = (
    "This personal link is not valid: it may be mistyped, or the researcher made you a new "
    "one. Open the newest link you were given."
)


def login_configured() -> bool:
    """Whether OIDC login is set up in secrets (``[auth]``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all, or one Streamlit cannot parse
        return False


def _login_email() -> str | None:
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    email = user.get("email") or user.get("sub")
    return str(email).strip() if email else None


def is_local(rt: Runtime) -> bool:
    """Local mode: no researcher sign-in configured, the server listens on loopback only and
    this browser is on the same machine (see aeries.auth.roles.local_mode_applies)."""
    if login_configured() or rt.settings.researcher_secret_hash:
        return False
    return local_mode_applies(
        bind_address=st.get_option("server.address"),
        headers=dict(st.context.headers),
        peer_loopback=st.context.ip_address is None,
    )


def auth_mode(rt: Runtime) -> ResearcherAuth:
    """How researchers sign in on this install (or 'none': nobody can)."""
    return researcher_auth(rt.settings, oidc=login_configured(), local=is_local(rt))


def _keep(identity: Identity | None) -> Identity | None:
    if identity is None:
        st.session_state.pop(_IDENTITY, None)
    else:
        st.session_state[_IDENTITY] = identity
    return identity


def _from_login(rt: Runtime, cached: Identity | None) -> Identity | None:
    email = _login_email()
    if email is None:
        return None
    if cached is not None and cached.via == "login" and cached.name == email:
        return cached
    account = login_account(rt.db, email)
    role = login_role(rt.settings, email, account.role)
    return Identity(account.id, email, role, "login")


def _from_link(rt: Runtime, token: str, cached: Identity | None) -> Identity | None:
    if cached is not None and cached.link_token == token:
        return cached
    claim = read_participant_token(rt.key, token)
    account = get_account(rt.db, claim.user_id) if claim else None
    if claim is None or account is None or account.link_epoch != claim.epoch:
        return None
    if account.origin == "study":  # reached only through its study, never into the app
        return None
    return link_identity(account, token)


def link_identity(account: Account, token: str) -> Identity:
    """The identity a valid personal link gives."""
    return Identity(account.id, account.name, link_role(account.role), "link", token)


def _researcher(rt: Runtime, via: str) -> Identity:
    account = researcher_account(rt.db)
    return Identity(account.id, account.name, "researcher", via)  # type: ignore[arg-type]


def _secret_session_valid(rt: Runtime, token: str | None) -> bool:
    return read_researcher_token(rt.key, rt.settings.researcher_secret_hash, token)


def resolve_identity(rt: Runtime) -> Identity | None:
    """The identity of this session, or None (the sign-in page is shown). Cheap when nothing
    changed: no database read on an ordinary rerun."""
    cached: Identity | None = st.session_state.get(_IDENTITY)
    if login_configured():
        for param in (LINK_PARAM, LEGACY_NAME_PARAM):  # only the signed-in identity counts
            if param in st.query_params:
                del st.query_params[param]
        return _keep(_from_login(rt, cached))
    token = st.query_params.get(LINK_PARAM)
    if token:
        found = _from_link(rt, token, cached)
        if found is not None:
            return _keep(found)
        del st.query_params[LINK_PARAM]
        st.session_state[BAD_LINK_SEEN] = True
        notice(BAD_LINK)
    if cached is not None and cached.via == "link":
        st.query_params[LINK_PARAM] = cached.link_token or ""
        return cached
    if cached is not None and cached.via == "secret":
        if _secret_session_valid(rt, st.session_state.get(_RESEARCHER_TOKEN)):
            return cached
        notice("Your researcher sign-in has expired. Sign in again.")
        return _keep(None)
    if st.session_state.get(_SIGNED_OUT):
        return _keep(None)
    cookie = st.context.cookies.get(RESEARCHER_COOKIE)
    if cookie and _secret_session_valid(rt, cookie):
        st.session_state[_RESEARCHER_TOKEN] = cookie
        return _keep(_researcher(rt, "secret"))
    if is_local(rt):
        return _keep(cached if cached is not None else _researcher(rt, "local"))
    return _keep(None)


def current_identity() -> Identity | None:
    """The identity app.py resolved for this run."""
    return st.session_state.get(_IDENTITY)


def current_user(rt: Runtime) -> str:
    """The user id of this session; a page reached without one says so and stops."""
    identity = resolve_identity(rt)  # app.py resolved it already; cheap again (or run alone)
    if identity is None:
        st.info("Sign in on the start page first.")
        st.stop()
    return identity.user_id


def is_researcher(rt: Runtime) -> bool:
    """Whether this session belongs to an authenticated researcher."""
    identity = resolve_identity(rt)
    return identity is not None and identity.is_researcher


def sign_in(identity: Identity, *, researcher_token: str | None = None) -> None:
    """Start a session as ``identity`` (after a form proved it); the next run shows its pages."""
    st.session_state.pop(_SIGNED_OUT, None)
    st.session_state[_RESEARCHER_TOKEN] = researcher_token
    if researcher_token:
        st.session_state[_COOKIE_PENDING] = researcher_token
    _keep(identity)
    if identity.link_token:
        st.query_params[LINK_PARAM] = identity.link_token
    _leave_conversation()


def _leave_conversation(*params: str) -> None:
    """A new identity starts on a new chat: the chat page makes a fresh view for another user,
    and the conversation (and a legacy name) leave the URL."""
    for param in (*params, LEGACY_NAME_PARAM, "c"):
        if param in st.query_params:
            del st.query_params[param]


def sign_out() -> None:
    """Forget this session's identity (a participant needs their link to come back)."""
    identity = current_identity()
    st.session_state.pop(_RESEARCHER_TOKEN, None)
    st.session_state[_SIGNED_OUT] = True
    _keep(None)
    _leave_conversation(LINK_PARAM)
    if identity is not None and identity.via == "secret":
        st.session_state[_COOKIE_PENDING] = ""


def write_researcher_cookie() -> None:
    """Keep (or clear, after sign-out) the researcher's signed sign-in in a cookie, so a reload
    or a new tab does not ask for the secret again until it expires. Drawn once after a change;
    the value is our own signed token, never user input."""
    token = st.session_state.pop(_COOKIE_PENDING, None)
    if token is None:
        return
    value, age = (token, RESEARCHER_SESSION_S) if token else ("", 0)
    st.html(
        "<script>document.cookie = "
        f"'{RESEARCHER_COOKIE}={value}; Max-Age={age}; Path=/; SameSite=Strict'"
        " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


PAGE_PATHS = frozenset({"chat", "arena", "personas", "analytics", "participants", "annotate"})


def personal_link(token: str) -> str:
    """The address that signs this participant in: the app's start page, with their token
    (whatever page the link is made on)."""
    base = (st.context.url or "").split("?")[0].split("#")[0].rstrip("/")
    head, _, last = base.rpartition("/")
    if last in PAGE_PATHS and "://" in head + "/":
        base = head
    return f"{base}/?{LINK_PARAM}={token}"
