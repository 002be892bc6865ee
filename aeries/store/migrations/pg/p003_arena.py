"""Migration 3: the arena's battles, sides, votes and pairwise preferences.

The PostgreSQL twin of ``m003``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    3,
    "arena: battles, their sides, votes, and pairwise preferences (explicit and implicit)",
    (
        """CREATE TABLE battles (
            id VARCHAR PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            parent_battle_id VARCHAR,
            prompt VARCHAR NOT NULL,
            blind BOOLEAN NOT NULL DEFAULT true,
            contestant_count INTEGER NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE battle_sides (
            battle_id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            contestant VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            persona_id VARCHAR,
            params JSON,
            exchange_id VARCHAR,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE votes (
            id VARCHAR PRIMARY KEY,
            battle_id VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            best_position INTEGER,
            reasons VARCHAR[],
            comment VARCHAR,
            ms_to_vote DOUBLE PRECISION,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE preferences (
            id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            user_id VARCHAR,
            battle_id VARCHAR,
            vote_id VARCHAR,
            conversation_id VARCHAR,
            contestant_a VARCHAR NOT NULL,
            contestant_b VARCHAR NOT NULL,
            model_a VARCHAR NOT NULL,
            model_b VARCHAR NOT NULL,
            exchange_a VARCHAR,
            exchange_b VARCHAR,
            position_a INTEGER,
            position_b INTEGER,
            winner VARCHAR NOT NULL,
            weight DOUBLE PRECISION NOT NULL DEFAULT 1.0,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
    ),
)
