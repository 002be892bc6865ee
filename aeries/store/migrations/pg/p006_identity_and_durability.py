"""Migration 6: users' name keys, roles and link epochs; persona visibility; in-flight answers;
the ledger of spill files already applied.

The PostgreSQL twin of ``m006``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION), the same Python backfill, and one addition: a unique index
on ``users.name_key``. DuckDB leaves that rule to a lock in ``aeries.store.users``; with several
processes sharing a PostgreSQL store, the index is what keeps two claims of one name apart.

The backfill writes ``?`` placeholders, as every statement in Aeries does: the runner hands it a
cursor that turns them into PostgreSQL's ``$1, $2, …``.

Released: frozen. Its SQL is a literal here, and its Python backfill is self-contained (the
standard library only): it imports nothing from runtime code, so later changes to how
``aeries.auth`` normalises names never change what this migration did.
"""

import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

from aeries.store.migrations.base import Migration


class _Result(Protocol):
    def fetchall(self) -> list[Any]: ...


class _Cursor(Protocol):
    """What the backfill uses of its cursor: ``execute`` with ``?`` placeholders."""

    def execute(self, query: str, parameters: Sequence[Any] = ..., /) -> _Result: ...


def _backfill_name_keys(cur: _Cursor) -> None:
    """Give every existing user the key names are matched by (NFKC, no invisible characters,
    case-folded). Where two old names now match (``Alice`` and ``alice``), the older account
    keeps the key and the newer one gets ``<key>#<id prefix>``: both keep their rows, and
    neither can be reached by typing a name (only by a link a researcher makes)."""

    def key(name: str) -> str:
        text = unicodedata.normalize("NFKC", name)
        text = "".join(
            c if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn") else " "
            for c in text
        )
        return unicodedata.normalize("NFKC", " ".join(text.split()).casefold())

    rows = cur.execute("SELECT id, name FROM users ORDER BY created_at, id").fetchall()
    taken: set[str] = set()
    for user_id, name in rows:
        k = key(name)
        if k in taken:
            k = f"{k}#{user_id[:8]}"
        taken.add(k)
        origin = "researcher" if k == "researcher" else "legacy"
        cur.execute("UPDATE users SET name_key = ?, origin = ? WHERE id = ?", [k, origin, user_id])


MIGRATION = Migration(
    6,
    "users' name keys, roles and link epochs; persona visibility; in-flight answers; "
    "the ledger of spill files already applied",
    (
        # name_key: how names are matched (unique: the index below). role: a role a researcher
        # granted ('participant' or 'annotator'; researchers are known by their sign-in, never
        # by a stored role). origin: how the account came to be. link_epoch: raising it
        # revokes the account's earlier personal links.
        "ALTER TABLE users ADD COLUMN name_key VARCHAR",
        "ALTER TABLE users ADD COLUMN role VARCHAR NOT NULL DEFAULT 'participant'",
        "ALTER TABLE users ADD COLUMN origin VARCHAR NOT NULL DEFAULT 'legacy'",
        "ALTER TABLE users ADD COLUMN link_epoch INTEGER NOT NULL DEFAULT 0",
        # An index, not a constraint, so the keys table_constraints lists stay those of the
        # DuckDB schema; NULL keys (accounts not yet backfilled) never collide.
        "CREATE UNIQUE INDEX users_name_key_unique ON users (name_key)",
        # Personas are owned by created_by; 'shared' ones are offered to everyone and only
        # researchers change them, 'private' ones are their owner's alone. Until now every
        # persona was global: the default and the researcher's stay shared, the rest become
        # their creator's.
        "ALTER TABLE personas ADD COLUMN visibility VARCHAR NOT NULL DEFAULT 'private'",
        """UPDATE personas SET visibility = 'shared'
        WHERE is_default OR created_by IS NULL
           OR created_by IN (SELECT id FROM users WHERE name = 'researcher')""",
        # An answer being streamed, from its first token until it ends; what is left here after
        # a crash is filed as an 'interrupted' exchange on the next start.
        """CREATE TABLE inflight (
            exchange_id VARCHAR PRIMARY KEY,
            user_id VARCHAR,
            conversation_id VARCHAR,
            exchange JSON NOT NULL,
            message JSON,
            response_text VARCHAR NOT NULL DEFAULT '',
            reasoning_text VARCHAR,
            ttft_ms DOUBLE PRECISION,
            e2e_ms DOUBLE PRECISION,
            chunk_count INTEGER,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        # Spill files (rows the writer kept on disk while the database could not take them)
        # already written back, so a crash between writing one back and deleting it never
        # writes it twice.
        """CREATE TABLE applied_spills (
            id VARCHAR PRIMARY KEY,
            ops INTEGER NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL
        )""",
    ),
    backfill=_backfill_name_keys,
)
