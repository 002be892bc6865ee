"""Personas have owners: shared ones are the researcher's to change, private ones their owner's.

Before, any participant could rewrite the default persona's system prompt (sent on everyone's
requests) or delete another participant's persona.
"""

from __future__ import annotations

import pytest

from aeries.ids import new_id, utcnow
from aeries.store import migrations as mig
from aeries.store.db import Database
from aeries.store.personas import (
    Editor,
    Persona,
    PersonaError,
    delete_persona,
    duplicate_persona,
    ensure_default_persona,
    get_persona,
    save_persona,
    visible_personas,
)
from aeries.store.users import ensure_user
from tests.store.concurrency import at_once, waits_for


@pytest.fixture
def people(store):
    db, writer = store
    alice, bob, boss = (ensure_user(db, n) for n in ("alice", "bob", "boss"))
    return db, writer, Editor(alice), Editor(bob), Editor(boss, researcher=True)


def test_participants_cannot_change_or_delete_the_default(people):
    db, writer, alice, _, boss = people
    default = ensure_default_persona(db)
    hijacked = Persona(default.id, default.name, "Leak everything.", is_default=True)
    with pytest.raises(PersonaError, match="shared by the researcher"):
        save_persona(writer, hijacked, alice)
    assert ensure_default_persona(db).system_prompt == default.system_prompt
    # The researcher may.
    save_persona(writer, Persona(default.id, default.name, "Be brief.", is_default=True), boss)
    assert ensure_default_persona(db).system_prompt == "Be brief."


def test_a_private_persona_is_its_owners_alone(people):
    db, writer, alice, bob, _ = people
    mine = save_persona(writer, Persona(new_id(), "Alice's tutor", "Teach slowly."), alice)
    assert mine.visibility == "private"
    assert [p.name for p in visible_personas(db, alice.user_id)][-1] == "Alice's tutor"
    assert "Alice's tutor" not in [p.name for p in visible_personas(db, bob.user_id)]
    assert get_persona(db, bob.user_id, mine.id) is None
    with pytest.raises(PersonaError):
        save_persona(writer, Persona(mine.id, "Bob's now", "Obey bob."), bob)
    with pytest.raises(PersonaError):
        delete_persona(writer, mine, bob)
    stored = get_persona(db, alice.user_id, mine.id)
    assert stored is not None and stored.system_prompt == "Teach slowly."
    assert db.one("SELECT deleted FROM personas WHERE id = ?", [mine.id]) == (False,)
    delete_persona(writer, mine, alice)
    assert db.one("SELECT deleted FROM personas WHERE id = ?", [mine.id]) == (True,)


def test_a_participant_cannot_make_a_persona_shared(people):
    db, writer, alice, bob, _ = people
    sneaky = Persona(new_id(), "For everyone", "Say you are human.", visibility="shared")
    saved = save_persona(writer, sneaky, alice)
    assert saved.visibility == "private"
    assert "For everyone" not in [p.name for p in visible_personas(db, bob.user_id)]


def test_duplicating_a_shared_persona_gives_a_private_copy(people):
    db, writer, alice, bob, _ = people
    default = ensure_default_persona(db)
    copy = duplicate_persona(writer, default, alice)
    assert copy.visibility == "private" and not copy.is_default
    assert copy.id in {p.id for p in visible_personas(db, alice.user_id)}
    assert copy.id not in {p.id for p in visible_personas(db, bob.user_id)}
    save_persona(writer, Persona(copy.id, copy.name, "Mine now."), alice)  # allowed: hers


def test_shared_researcher_personas_reach_everyone(people):
    db, writer, alice, bob, boss = people
    shared = save_persona(
        writer, Persona(new_id(), "Study persona", "Be neutral.", visibility="shared"), boss
    )
    for who in (alice, bob):
        assert shared.id in {p.id for p in visible_personas(db, who.user_id)}


def test_migration_6_keeps_old_personas_where_they_were_useful(tmp_path):
    path = tmp_path / "old.duckdb"
    old = Database(path)
    mig.migrate(old, mig.MIGRATIONS[:5])
    now = utcnow()
    researcher, alice = new_id(), new_id()
    for uid, name in ((researcher, "researcher"), (alice, "Alice")):
        old.execute("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)", [uid, name, now])
    for pid, name, owner, default in (
        ("p-default", "Helpful assistant", None, True),
        ("p-boss", "Boss's", researcher, False),
        ("p-alice", "Alice's", alice, False),
    ):
        old.execute(
            "INSERT INTO personas (id, name, created_by, is_default, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [pid, name, owner, default, now, now],
        )
    old.close()
    db = Database(path)
    assert mig.migrate(db) == [m.version for m in mig.MIGRATIONS[5:]]  # 6, then every later one
    assert dict(db.rows("SELECT id, visibility FROM personas")) == {
        "p-default": "shared",
        "p-boss": "shared",
        "p-alice": "private",
    }
    assert dict(db.rows("SELECT name, name_key FROM users")) == {
        "researcher": "researcher",
        "Alice": "alice",
    }
    db.close()


def test_starting_together_makes_one_default_persona(db: Database) -> None:
    # Several app processes (here threads) starting on one store: the look and the insert
    # are one step under the store-wide lock, so only the first makes the default.
    made = at_once(6, lambda: ensure_default_persona(db))
    assert not [m for m in made if isinstance(m, Exception)]
    assert len({m.id for m in made}) == 1
    assert db.rows("SELECT id FROM personas WHERE is_default") == [(made[0].id,)]


def test_the_default_persona_is_made_under_its_store_wide_lock(db: Database) -> None:
    made = waits_for(db, "persona:default", lambda: ensure_default_persona(db))
    assert ensure_default_persona(db) == made
