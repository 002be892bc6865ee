"""The exact schema a new database gets: every table's columns (in order) with their types,
nullability and defaults, and every primary key and unique constraint, written out here by hand.

A schema change that is not meant (a migration edited, a column retyped, a default lost) fails
this test loudly. A meant one adds a migration and updates this description in the same change
(and docs/schema.md: ``cog -r docs/schema.md``).
"""

from __future__ import annotations

from aeries.store import migrations as mig
from aeries.store.db import Database
from tests.store.helpers import Column, Key, schema_columns, schema_keys

NULL, NOT_NULL = True, False
TSTZ = "TIMESTAMP WITH TIME ZONE"

COLUMNS: dict[str, list[Column]] = {
    "users": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
        ("name_key", "VARCHAR", NULL, None),
        ("role", "VARCHAR", NOT_NULL, "'participant'"),
        ("origin", "VARCHAR", NOT_NULL, "'legacy'"),
        ("link_epoch", "INTEGER", NOT_NULL, "0"),
    ],
    "conversations": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NOT_NULL, None),
        ("title", "VARCHAR", NOT_NULL, None),
        ("persona_id", "VARCHAR", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("last_message_at", TSTZ, NULL, None),
        ("message_count", "INTEGER", NOT_NULL, "0"),
        ("current_leaf_id", "VARCHAR", NULL, None),
        ("archived", "BOOLEAN", NOT_NULL, "false"),
        ("deleted", "BOOLEAN", NOT_NULL, "false"),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
        ("brief_enabled", "BOOLEAN", NOT_NULL, "true"),
    ],
    "messages": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("conversation_id", "VARCHAR", NOT_NULL, None),
        ("parent_id", "VARCHAR", NULL, None),
        ("role", "VARCHAR", NOT_NULL, None),
        ("content", "VARCHAR", NOT_NULL, None),
        ("reasoning", "VARCHAR", NULL, None),
        ("status", "VARCHAR", NULL, None),
        ("exchange_id", "VARCHAR", NULL, None),
        ("origin", "VARCHAR", NOT_NULL, "'new'"),
        ("origin_message_id", "VARCHAR", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("edited_at", TSTZ, NULL, None),
    ],
    "exchanges": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("conversation_id", "VARCHAR", NULL, None),
        ("message_id", "VARCHAR", NULL, None),
        ("source", "VARCHAR", NOT_NULL, None),
        ("endpoint", "VARCHAR", NULL, None),
        ("model", "VARCHAR", NOT_NULL, None),
        ("persona_id", "VARCHAR", NULL, None),
        ("brief_enabled", "BOOLEAN", NULL, None),
        ("params", "JSON", NULL, None),
        ("request_messages", "JSON", NULL, None),
        ("response_text", "VARCHAR", NULL, None),
        ("reasoning_text", "VARCHAR", NULL, None),
        ("status", "VARCHAR", NOT_NULL, None),
        ("error", "VARCHAR", NULL, None),
        ("error_kind", "VARCHAR", NULL, None),
        ("finish_reason", "VARCHAR", NULL, None),
        ("started_at", TSTZ, NOT_NULL, None),
        ("ttft_ms", "DOUBLE", NULL, None),
        ("e2e_ms", "DOUBLE", NULL, None),
        ("tpot_ms", "DOUBLE", NULL, None),
        ("itl_mean_ms", "DOUBLE", NULL, None),
        ("itl_p50_ms", "DOUBLE", NULL, None),
        ("itl_p95_ms", "DOUBLE", NULL, None),
        ("itl_max_ms", "DOUBLE", NULL, None),
        ("chunk_count", "INTEGER", NULL, None),
        ("prompt_tokens", "INTEGER", NULL, None),
        ("completion_tokens", "INTEGER", NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
        ("server_queue_ms", "DOUBLE", NULL, None),
        ("server_ttft_ms", "DOUBLE", NULL, None),
        ("server_generation_ms", "DOUBLE", NULL, None),
        ("server_mean_itl_ms", "DOUBLE", NULL, None),
        ("server_tokens_per_second", "DOUBLE", NULL, None),
    ],
    "signals": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("conversation_id", "VARCHAR", NULL, None),
        ("exchange_id", "VARCHAR", NULL, None),
        ("message_id", "VARCHAR", NULL, None),
        ("kind", "VARCHAR", NOT_NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("value_num", "DOUBLE", NULL, None),
        ("value_text", "VARCHAR", NULL, None),
        ("extractor", "VARCHAR", NULL, None),
        ("extractor_version", "VARCHAR", NULL, None),
        ("prompt_hash", "VARCHAR", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
    ],
    "personas": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("system_prompt", "VARCHAR", NOT_NULL, "''"),
        ("model", "VARCHAR", NULL, None),
        ("temperature", "DOUBLE", NOT_NULL, "0.7"),
        ("top_p", "DOUBLE", NOT_NULL, "1.0"),
        ("max_tokens", "INTEGER", NULL, None),
        ("thinking", "BOOLEAN", NOT_NULL, "true"),
        ("is_default", "BOOLEAN", NOT_NULL, "false"),
        ("created_by", "VARCHAR", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("updated_at", TSTZ, NOT_NULL, None),
        ("deleted", "BOOLEAN", NOT_NULL, "false"),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
        ("visibility", "VARCHAR", NOT_NULL, "'private'"),
    ],
    "events": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("conversation_id", "VARCHAR", NULL, None),
        ("kind", "VARCHAR", NOT_NULL, None),
        ("payload", "JSON", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
    ],
    "battles": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NOT_NULL, None),
        ("parent_battle_id", "VARCHAR", NULL, None),
        ("prompt", "VARCHAR", NOT_NULL, None),
        ("blind", "BOOLEAN", NOT_NULL, "true"),
        ("contestant_count", "INTEGER", NOT_NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
    ],
    "battle_sides": [
        ("battle_id", "VARCHAR", NOT_NULL, None),
        ("position", "INTEGER", NOT_NULL, None),
        ("contestant", "VARCHAR", NOT_NULL, None),
        ("model", "VARCHAR", NOT_NULL, None),
        ("persona_id", "VARCHAR", NULL, None),
        ("params", "JSON", NULL, None),
        ("exchange_id", "VARCHAR", NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
    ],
    "votes": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("battle_id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NOT_NULL, None),
        ("outcome", "VARCHAR", NOT_NULL, None),
        ("best_position", "INTEGER", NULL, None),
        ("reasons", "VARCHAR[]", NULL, None),
        ("comment", "VARCHAR", NULL, None),
        ("ms_to_vote", "DOUBLE", NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
    ],
    "preferences": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("kind", "VARCHAR", NOT_NULL, None),
        ("source", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("battle_id", "VARCHAR", NULL, None),
        ("vote_id", "VARCHAR", NULL, None),
        ("conversation_id", "VARCHAR", NULL, None),
        ("contestant_a", "VARCHAR", NOT_NULL, None),
        ("contestant_b", "VARCHAR", NOT_NULL, None),
        ("model_a", "VARCHAR", NOT_NULL, None),
        ("model_b", "VARCHAR", NOT_NULL, None),
        ("exchange_a", "VARCHAR", NULL, None),
        ("exchange_b", "VARCHAR", NULL, None),
        ("position_a", "INTEGER", NULL, None),
        ("position_b", "INTEGER", NULL, None),
        ("winner", "VARCHAR", NOT_NULL, None),
        ("weight", "DOUBLE", NOT_NULL, "1.0"),
        ("created_at", TSTZ, NOT_NULL, None),
        ("synthetic", "BOOLEAN", NOT_NULL, "false"),
        ("ttft_a_ms", "DOUBLE", NULL, None),
        ("ttft_b_ms", "DOUBLE", NULL, None),
    ],
    "profile_stats": [
        ("user_id", "VARCHAR", NOT_NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("value", "VARCHAR", NOT_NULL, None),
        ("score", "DOUBLE", NOT_NULL, None),
        ("n", "INTEGER", NOT_NULL, None),
        ("first_at", TSTZ, NOT_NULL, None),
        ("last_at", TSTZ, NOT_NULL, None),
        ("reset_at", TSTZ, NULL, None),
    ],
    "answer_scores": [
        ("exchange_id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("started_at", TSTZ, NOT_NULL, None),
        ("model", "VARCHAR", NOT_NULL, None),
        ("source", "VARCHAR", NOT_NULL, None),
        ("persona_id", "VARCHAR", NULL, None),
        ("brief_enabled", "BOOLEAN", NULL, None),
        ("thumb", "DOUBLE", NULL, None),
        ("thumb_at", TSTZ, NULL, None),
        ("satisfaction_sum", "DOUBLE", NOT_NULL, "0"),
        ("satisfaction_n", "INTEGER", NOT_NULL, "0"),
        ("sentiment_sum", "DOUBLE", NOT_NULL, "0"),
        ("sentiment_n", "INTEGER", NOT_NULL, "0"),
    ],
    "learned_notes": [
        ("signal_id", "VARCHAR", NOT_NULL, None),
        ("created_at", TSTZ, NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("exchange_id", "VARCHAR", NULL, None),
        ("model", "VARCHAR", NULL, None),
        ("source", "VARCHAR", NULL, None),
        ("persona_id", "VARCHAR", NULL, None),
        ("brief_enabled", "BOOLEAN", NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("value", "VARCHAR", NOT_NULL, None),
    ],
    "inflight": [
        ("exchange_id", "VARCHAR", NOT_NULL, None),
        ("user_id", "VARCHAR", NULL, None),
        ("conversation_id", "VARCHAR", NULL, None),
        ("exchange", "JSON", NOT_NULL, None),
        ("message", "JSON", NULL, None),
        ("response_text", "VARCHAR", NOT_NULL, "''"),
        ("reasoning_text", "VARCHAR", NULL, None),
        ("ttft_ms", "DOUBLE", NULL, None),
        ("e2e_ms", "DOUBLE", NULL, None),
        ("chunk_count", "INTEGER", NULL, None),
        ("updated_at", TSTZ, NOT_NULL, None),
    ],
    "applied_spills": [
        ("id", "VARCHAR", NOT_NULL, None),
        ("ops", "INTEGER", NOT_NULL, None),
        ("applied_at", TSTZ, NOT_NULL, None),
    ],
    "schema_migrations": [
        ("version", "INTEGER", NOT_NULL, None),
        ("name", "VARCHAR", NOT_NULL, None),
        ("applied_at", TSTZ, NOT_NULL, None),
    ],
}
KEYS: dict[str, list[Key]] = {
    "users": [("PRIMARY KEY", ("id",)), ("UNIQUE", ("name",))],
    "conversations": [("PRIMARY KEY", ("id",))],
    "personas": [("PRIMARY KEY", ("id",))],
    "battles": [("PRIMARY KEY", ("id",))],
    "votes": [("PRIMARY KEY", ("id",))],
    "profile_stats": [("PRIMARY KEY", ("user_id", "name", "value"))],
    "answer_scores": [("PRIMARY KEY", ("exchange_id",))],
    "inflight": [("PRIMARY KEY", ("exchange_id",))],
    "applied_spills": [("PRIMARY KEY", ("id",))],
    "schema_migrations": [("PRIMARY KEY", ("version",))],
}


def test_a_new_database_has_exactly_the_described_columns(db: Database) -> None:
    columns = schema_columns(db)
    assert sorted(columns) == sorted(COLUMNS), "tables added or missing"
    for table, expected in COLUMNS.items():
        assert columns[table] == expected, f"the columns of {table} changed"


def test_a_new_database_has_exactly_the_described_keys(db: Database) -> None:
    assert schema_keys(db) == KEYS


def test_a_new_database_has_only_base_tables(db: Database) -> None:
    kinds = db.rows(
        "SELECT DISTINCT table_type FROM information_schema.tables WHERE table_schema = 'main'"
    )
    assert kinds == [("BASE TABLE",)]  # no views
    assert db.rows("SELECT index_name FROM duckdb_indexes()") == []
    assert db.rows("SELECT sequence_name FROM duckdb_sequences()") == []


def test_the_newest_version_is_the_one_described() -> None:
    # Adding a migration means revisiting the description above (and the upgrade tests).
    assert [m.version for m in mig.MIGRATIONS] == [1, 2, 3, 4, 5, 6, 7]
