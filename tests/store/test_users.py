"""aeries.store.users under concurrency: claiming a name is one check-then-insert under the
store-wide lock "users:claim" (name_key has no unique index), and renewing a link returns the
epoch its own UPDATE wrote."""

from __future__ import annotations

from aeries.auth.names import name_key
from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.users import (
    NameTaken,
    create_account,
    get_account,
    login_account,
    renew_link,
)
from tests.store.concurrency import at_once, waits_for


def test_claiming_a_name_waits_for_the_store_wide_claim_lock(db: Database) -> None:
    account = waits_for(db, "users:claim", lambda: create_account(db, "Ann", "ann", "name"))
    assert get_account(db, account.id) == account


def test_adopting_a_legacy_login_waits_for_the_claim_lock(db: Database) -> None:
    email = "Old@Example.org"
    db.execute(
        "INSERT INTO users (id, name, name_key, origin, created_at)"
        " VALUES ('old', ?, ?, 'legacy', ?)",
        [email, name_key(email), utcnow()],
    )
    adopted = waits_for(db, "users:claim", lambda: login_account(db, "old@example.org"))
    assert (adopted.id, adopted.origin) == ("old", "oidc")


def test_threads_claiming_one_name_at_once_make_one_account(db: Database) -> None:
    results = at_once(8, lambda: create_account(db, "Dana", "dana", "name"))
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1
    assert all(isinstance(r, NameTaken) for r in results if r not in made)
    assert db.rows("SELECT id FROM users WHERE name_key = 'dana'") == [(made[0].id,)]


def test_renew_link_returns_the_epoch_it_wrote(db: Database) -> None:
    account = create_account(db, "Eve", "eve", "name")
    assert [renew_link(db, account.id) for _ in range(3)] == [1, 2, 3]
    renewed = get_account(db, account.id)
    assert renewed is not None and renewed.link_epoch == 3
