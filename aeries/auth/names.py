"""Participant names: how a typed name is cleaned for display and matched to an account.

A name is display text, not a credential: an account is reached through its signed link
(aeries.auth.tokens) or a login. Names only have to be unique, so that two people never share
an account and look-alike spellings (``Alice`` / ``alice`` / full-width ``Ａｌｉｃｅ`` / a
zero-width space inside) cannot make a second account that passes for the first.
"""

from __future__ import annotations

import unicodedata

NAME_MAX = 64
RESERVED_KEYS = frozenset({"researcher", "local researcher", "admin", "aeries"})
OIDC_PREFIX = "oidc:"
STUDY_PREFIX = "study:"  # study participants' accounts: never reachable by a typed name


class NameRefused(ValueError):
    """A typed name cannot be used; the message says why, for the person who typed it."""


def _keep(char: str) -> bool:
    # Cc: controls (NUL, escape, …); Cf: format characters (zero-width space/joiner,
    # direction overrides, BOM); Co/Cs/Cn: private use, surrogates, unassigned.
    return unicodedata.category(char) not in ("Cc", "Cf", "Co", "Cs", "Cn")


def display_name(raw: str) -> str:
    """The name as it is shown: NFKC, controls and invisible characters removed, whitespace
    runs collapsed to one space, trimmed. Never shortened."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(c if _keep(c) else (" " if c in "\t\n\r\x0b\x0c" else "") for c in text)
    return " ".join(text.split())


def name_key(name: str) -> str:
    """The form two names are compared in: the display form, case-folded (NFKC again after
    folding, as Unicode's NFKC_Casefold does)."""
    return unicodedata.normalize("NFKC", display_name(name).casefold())


def email_key(email: str) -> str:
    """The account key of a signed-in (OIDC) identity; never equal to a typed name's key."""
    return OIDC_PREFIX + name_key(email)


def check_participant_name(raw: str | None) -> tuple[str, str]:
    """(display name, key) for a name typed by a participant, or NameRefused saying why not."""
    name = display_name(raw or "")
    if not name:
        raise NameRefused("Type your name or participant ID first.")
    if len(name) > NAME_MAX:
        raise NameRefused(
            f"That name is {len(name)} characters long; use at most {NAME_MAX} "
            "(a participant ID works well)."
        )
    key = name_key(name)
    if key in RESERVED_KEYS or key.startswith((OIDC_PREFIX, STUDY_PREFIX)):
        raise NameRefused(f"“{name}” is reserved. Pick another name.")
    return name, key
