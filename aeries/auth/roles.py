"""Roles, and the rules that decide them, independent of Streamlit.

Three roles: a *researcher* is authenticated (OIDC login with an email in AERIES_RESEARCHERS,
the researcher secret, or local mode); an *annotator* is an account a researcher marked as one
(or an OIDC email in AERIES_ANNOTATORS); everyone else is a *participant*. Nobody gains a role
by typing a name or editing a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from aeries.config import Settings

Role = Literal["researcher", "annotator", "participant"]
ROLES: tuple[Role, ...] = ("researcher", "annotator", "participant")
# How this session proved who it is.
Via = Literal["login", "secret", "local", "link"]
ResearcherAuth = Literal["oidc", "secret", "local", "none"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})
_FORWARDING = ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip")


@dataclass(frozen=True)
class Identity:
    """Who is using this session."""

    user_id: str
    name: str
    role: Role
    via: Via
    link_token: str | None = None  # a participant's personal link, kept in the URL

    @property
    def is_researcher(self) -> bool:
        """Whether this session may see every participant's data."""
        return self.role == "researcher"


def researcher_auth(settings: Settings, *, oidc: bool, local: bool) -> ResearcherAuth:
    """How a researcher proves who they are on this install (OIDC wins over the secret; local
    mode applies only when neither is configured)."""
    if oidc:
        return "oidc"
    if settings.researcher_secret_hash:
        return "secret"
    return "local" if local else "none"


def login_role(settings: Settings, email: str, stored: str) -> Role:
    """The role of an OIDC identity: listed researchers, then annotators (listed or granted)."""
    folded = email.strip().casefold()
    if folded in settings.researchers:
        return "researcher"
    if folded in settings.annotators or stored == "annotator":
        return "annotator"
    return "participant"


def link_role(stored: str) -> Role:
    """The role of an account reached through its personal link (never researcher)."""
    return "annotator" if stored == "annotator" else "participant"


def _host(value: str | None) -> str | None:
    if not value:
        return None
    if value.count(":") > 1 and "[" not in value and "/" not in value:  # bare IPv6: ::1
        return value
    try:
        return urlsplit(value if "://" in value else f"//{value}").hostname
    except ValueError:
        return None


def is_loopback(host: str | None) -> bool:
    """Whether a host name or address is this machine's loopback."""
    return host is not None and (host in LOOPBACK_NAMES or host.startswith("127."))


def local_mode_applies(
    *, bind_address: str | None, headers: Mapping[str, str], peer_loopback: bool
) -> bool:
    """Whether this session is the person at the machine itself: the server listens on loopback
    only, and the browser connected from this machine, directly (no proxy in between: no
    forwarding headers, and both Host and Origin name loopback). A session with no HTTP
    client at all (an in-process test) is local too."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "host" not in lowered:
        return True  # no HTTP client at all: the app runs in-process (AppTest)
    if not is_loopback(_host(bind_address)) or not peer_loopback:
        return False
    if any(h in lowered for h in _FORWARDING):
        return False
    if not is_loopback(_host(lowered.get("host"))):
        return False
    origin = lowered.get("origin")
    return origin is None or is_loopback(_host(origin))
