"""Migration 1: core tables.

The PostgreSQL twin of ``m001``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    1,
    "core tables: users, conversations, messages, exchanges, signals",
    (
        """CREATE TABLE users (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE conversations (
            id VARCHAR PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            persona_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            last_message_at TIMESTAMPTZ,
            message_count INTEGER NOT NULL DEFAULT 0,
            current_leaf_id VARCHAR,
            archived BOOLEAN NOT NULL DEFAULT false,
            deleted BOOLEAN NOT NULL DEFAULT false,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE messages (
            id VARCHAR NOT NULL,
            conversation_id VARCHAR NOT NULL,
            parent_id VARCHAR,
            role VARCHAR NOT NULL,
            content VARCHAR NOT NULL,
            reasoning VARCHAR,
            status VARCHAR,
            exchange_id VARCHAR,
            origin VARCHAR NOT NULL DEFAULT 'new',
            origin_message_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            edited_at TIMESTAMPTZ
        )""",
        """CREATE TABLE exchanges (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            message_id VARCHAR,
            source VARCHAR NOT NULL,
            endpoint VARCHAR,
            model VARCHAR NOT NULL,
            persona_id VARCHAR,
            brief_enabled BOOLEAN,
            params JSON,
            request_messages JSON,
            response_text VARCHAR,
            reasoning_text VARCHAR,
            status VARCHAR NOT NULL,
            error VARCHAR,
            error_kind VARCHAR,
            finish_reason VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            ttft_ms DOUBLE PRECISION,
            e2e_ms DOUBLE PRECISION,
            tpot_ms DOUBLE PRECISION,
            itl_mean_ms DOUBLE PRECISION,
            itl_p50_ms DOUBLE PRECISION,
            itl_p95_ms DOUBLE PRECISION,
            itl_max_ms DOUBLE PRECISION,
            chunk_count INTEGER,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE signals (
            id VARCHAR NOT NULL,
            user_id VARCHAR,
            conversation_id VARCHAR,
            exchange_id VARCHAR,
            message_id VARCHAR,
            kind VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value_num DOUBLE PRECISION,
            value_text VARCHAR,
            extractor VARCHAR,
            extractor_version VARCHAR,
            prompt_hash VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            synthetic BOOLEAN NOT NULL DEFAULT false
        )""",
    ),
)
