"""Accounts: participants, annotators and researchers.

An account is reached only through something that proves it: a signed personal link, an OIDC
login, the researcher secret or local mode (see aeries.auth). Names are display text kept
unique by their key (aeries.auth.names.name_key), so typing a name never opens someone else's
account: a name already taken is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aeries.auth.names import STUDY_PREFIX, email_key, name_key
from aeries.ids import new_id, utcnow
from aeries.store.db import Database

RESEARCHER_NAME = "researcher"
DEFAULT_USER = RESEARCHER_NAME  # the install's own researcher account (local mode, secret)

AssignedRole = Literal["participant", "annotator"]
ASSIGNED_ROLES: tuple[AssignedRole, ...] = ("participant", "annotator")
Origin = Literal["name", "invite", "oidc", "researcher", "legacy", "study"]

_COLUMNS = "id, name, name_key, role, origin, link_epoch, created_at"
# The store-wide lock that makes "is the key free? then take it" atomic for every process on
# the store (name_key has no unique index to refuse a second claim).
_CLAIM = "users:claim"


class NameTaken(ValueError):
    """Another account already has this name (compared by key)."""


@dataclass(frozen=True)
class Account:
    """A users row."""

    id: str
    name: str
    name_key: str | None
    role: AssignedRole
    origin: Origin
    link_epoch: int
    created_at: datetime


def get_account(db: Database, user_id: str) -> Account | None:
    """The account with this id."""
    row = db.one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", [user_id])
    return Account(*row) if row else None


def account_by_key(db: Database, key: str) -> Account | None:
    """The account whose name has this key."""
    row = db.one(f"SELECT {_COLUMNS} FROM users WHERE name_key = ?", [key])
    return Account(*row) if row else None


def create_account(db: Database, name: str, key: str, origin: Origin) -> Account:
    """A new account; NameTaken if the key (or the exact display name) is in use."""
    with db.lock(_CLAIM):
        taken = db.one("SELECT 1 FROM users WHERE name_key = ? OR name = ?", [key, name])
        if taken:
            raise NameTaken(name)
        user_id = new_id()
        db.execute(
            "INSERT INTO users (id, name, name_key, origin, created_at) VALUES (?, ?, ?, ?, ?)",
            [user_id, name, key, origin, utcnow()],
        )
    account = get_account(db, user_id)
    assert account is not None
    return account


def researcher_account(db: Database) -> Account:
    """The install's researcher account (local mode and the researcher secret share it)."""
    found = account_by_key(db, RESEARCHER_NAME)
    if found is not None:
        return found
    try:
        return create_account(db, RESEARCHER_NAME, RESEARCHER_NAME, "researcher")
    except NameTaken:  # a legacy row named "researcher" without its key yet
        row = db.one("SELECT id FROM users WHERE name = ?", [RESEARCHER_NAME])
        assert row is not None
        db.execute(
            "UPDATE users SET name_key = ?, origin = 'researcher' WHERE id = ?",
            [RESEARCHER_NAME, row[0]],
        )
        found = get_account(db, row[0])
        assert found is not None
        return found


def login_account(db: Database, email: str) -> Account:
    """The account of an OIDC identity, created on first login. An account from before keys
    existed (origin 'legacy') named exactly this email is adopted, so earlier logins keep their
    history; a name typed since then is never adopted."""
    key = email_key(email)
    found = account_by_key(db, key)
    if found is not None:
        return found
    with db.lock(_CLAIM):
        legacy = db.one(
            "SELECT id FROM users WHERE origin = 'legacy' AND name_key = ?", [name_key(email)]
        )
        if legacy:
            db.execute(
                "UPDATE users SET name_key = ?, origin = 'oidc' WHERE id = ?", [key, legacy[0]]
            )
    if legacy:
        adopted = get_account(db, legacy[0])
        assert adopted is not None
        return adopted
    display = email.strip()
    try:
        return create_account(db, display, key, "oidc")
    except NameTaken:  # a participant typed this email as a name: keep both apart
        return create_account(db, f"{display} (login)", key, "oidc")


def study_account(db: Database, study_id: str, participant_key: str) -> Account:
    """The account of one study participant (made on enrolment; never reached by a name: its
    key has a prefix no typed name can have, since names are refused with a ':' prefix)."""
    key = f"{STUDY_PREFIX}{study_id}:{participant_key}"
    found = account_by_key(db, key)
    if found is not None:
        if found.origin != "study":  # cannot happen through the app: such keys are refused
            raise NameTaken(found.name)
        return found
    name = f"{participant_key} · {study_id}"
    try:
        return create_account(db, name, key, "study")
    except NameTaken:  # someone typed that display name: the key, not the name, is who this is
        if account_by_key(db, key) is not None:
            raise
        return create_account(db, f"{name} · {new_id()[:8]}", key, "study")


def ensure_user(db: Database, name: str) -> str:
    """The id of the account named ``name``, made if missing. For tools and tests only: the app
    never reaches an account by its name."""
    found = account_by_key(db, name_key(name))
    if found is not None:
        return found.id
    return create_account(db, name, name_key(name), "name").id


def set_role(db: Database, user_id: str, role: AssignedRole) -> None:
    """Grant or withdraw the annotator role (researchers are known by their sign-in)."""
    if role not in ASSIGNED_ROLES:
        raise ValueError(f"Unknown role {role!r}.")
    db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])


def renew_link(db: Database, user_id: str) -> int:
    """Revoke an account's personal links: the next link has a new epoch. Returns it."""
    # One statement: two renewals at once each get their own epoch (a SELECT after the UPDATE
    # could read the other's).
    row = db.one(
        "UPDATE users SET link_epoch = link_epoch + 1 WHERE id = ? RETURNING link_epoch",
        [user_id],
    )
    assert row is not None
    return int(row[0])


def participant_overview(db: Database) -> list[dict[str, object]]:
    """Every account but the researcher's, with what it has done, newest first."""
    return db.records(
        """SELECT u.id, u.name, u.role, u.origin, u.created_at, u.link_epoch,
                  (SELECT count(*) FROM conversations c
                   WHERE c.user_id = u.id AND NOT c.deleted) AS conversations,
                  (SELECT count(*) FROM exchanges e
                   WHERE e.user_id = u.id AND e.source = 'chat') AS answers,
                  (SELECT max(e.started_at) FROM exchanges e WHERE e.user_id = u.id) AS last_seen
           FROM users u
           WHERE u.name_key IS DISTINCT FROM ? AND NOT u.synthetic
           ORDER BY u.created_at DESC, u.id DESC""",
        [RESEARCHER_NAME],
    )
