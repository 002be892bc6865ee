"""Users: participants and researchers, identified by a display name or a login identity."""

from __future__ import annotations

from aeries.ids import new_id, utcnow
from aeries.store.db import Database

DEFAULT_USER = "researcher"


def ensure_user(db: Database, name: str) -> str:
    """The id of the user called ``name``, created on first sight (synchronous: rare)."""
    row = db.one("SELECT id FROM users WHERE name = ?", [name])
    if row:
        return row[0]
    user_id = new_id()
    db.execute(
        "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        [user_id, name, utcnow()],
    )
    row = db.one("SELECT id FROM users WHERE name = ?", [name])
    assert row is not None
    return row[0]
