"""Migration 8: studies — their frozen versions, enrolments and the steps they went through,
questionnaire answers — and the study an exchange, signal, battle or vote was made in.

The PostgreSQL twin of ``m008``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    8,
    "studies, study_versions, enrolments, enrolment_steps, answers; study columns on "
    "exchanges, signals, battles and votes",
    (
        # status: draft, live, paused or closed. current_version: the version new enrolments get.
        """CREATE TABLE studies (
            id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            current_version INTEGER NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        # config_toml: the study file as written; config_hash: SHA-256 of its validated meaning.
        # frozen_at: when the version first went live; from then on it never changes.
        """CREATE TABLE study_versions (
            study_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            config_hash VARCHAR NOT NULL,
            config_toml VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            frozen_at TIMESTAMPTZ,
            PRIMARY KEY (study_id, version)
        )""",
        # One per participant and study (participant_key: the platform's participant id).
        # condition, stratum and slot are set when the task starts; turns counts chat turns,
        # votes arena votes.
        """CREATE TABLE enrolments (
            id VARCHAR PRIMARY KEY,
            study_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            config_hash VARCHAR NOT NULL,
            participant_key VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            platform_params VARCHAR NOT NULL,
            condition VARCHAR,
            stratum VARCHAR,
            slot INTEGER,
            step VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attention_failures INTEGER NOT NULL DEFAULT 0,
            turns INTEGER NOT NULL DEFAULT 0,
            votes INTEGER NOT NULL DEFAULT 0,
            conversation_id VARCHAR,
            completion_code VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            step_started_at TIMESTAMPTZ NOT NULL,
            task_started_at TIMESTAMPTZ,
            finished_at TIMESTAMPTZ
        )""",
        # Every step an enrolment entered, and when it left it (NULL while there).
        """CREATE TABLE enrolment_steps (
            enrolment_id VARCHAR NOT NULL,
            study_id VARCHAR NOT NULL,
            step VARCHAR NOT NULL,
            entered_at TIMESTAMPTZ NOT NULL,
            left_at TIMESTAMPTZ,
            PRIMARY KEY (enrolment_id, step)
        )""",
        # One row per questionnaire item answered. value_text: the answer as shown (a choice's
        # label; a JSON list for multiple choice); value_number: numeric answers and the point
        # of a Likert answer (1 = lowest label). correct: for attention checks only.
        """CREATE TABLE answers (
            enrolment_id VARCHAR NOT NULL,
            study_id VARCHAR NOT NULL,
            config_hash VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            questionnaire VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            value_text VARCHAR,
            value_number DOUBLE PRECISION,
            correct BOOLEAN,
            answered_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (enrolment_id, item_id)
        )""",
        "ALTER TABLE exchanges ADD COLUMN study_id VARCHAR",
        "ALTER TABLE exchanges ADD COLUMN study_hash VARCHAR",
        "ALTER TABLE exchanges ADD COLUMN study_condition VARCHAR",
        "ALTER TABLE signals ADD COLUMN study_id VARCHAR",
        "ALTER TABLE signals ADD COLUMN study_hash VARCHAR",
        "ALTER TABLE signals ADD COLUMN study_condition VARCHAR",
        "ALTER TABLE battles ADD COLUMN study_id VARCHAR",
        "ALTER TABLE battles ADD COLUMN study_hash VARCHAR",
        "ALTER TABLE battles ADD COLUMN study_condition VARCHAR",
        "ALTER TABLE votes ADD COLUMN study_id VARCHAR",
        "ALTER TABLE votes ADD COLUMN study_hash VARCHAR",
        "ALTER TABLE votes ADD COLUMN study_condition VARCHAR",
    ),
)
