"""Migration 2: personas, the per-conversation brief switch, conversation events.

The PostgreSQL twin of ``m002``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    2,
    "personas, per-conversation brief switch, conversation events",
    (
        """CREATE TABLE personas (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            system_prompt VARCHAR NOT NULL DEFAULT '',
            model VARCHAR,
            temperature DOUBLE PRECISION NOT NULL DEFAULT 0.7,
            top_p DOUBLE PRECISION NOT NULL DEFAULT 1.0,
            max_tokens INTEGER,
            thinking BOOLEAN NOT NULL DEFAULT true,
            is_default BOOLEAN NOT NULL DEFAULT false,
            created_by VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT false,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        "ALTER TABLE conversations ADD COLUMN brief_enabled BOOLEAN NOT NULL DEFAULT true",
        """CREATE TABLE events (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            kind VARCHAR NOT NULL,
            payload JSON,
            created_at TIMESTAMPTZ NOT NULL
        )""",
    ),
)
