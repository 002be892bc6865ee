"""Migration 4: profile_stats, the aggregates behind the brief.

The PostgreSQL twin of ``m004``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    4,
    "profile_stats: incrementally maintained, recency-weighted aggregates behind the brief",
    (
        # score = sum of weight * exp((t - epoch) / tau) over the user's signals for this value;
        # the decayed weight at time T is score * exp(-(T - epoch) / tau). Kept by addition, so
        # the brief reads a few rows instead of scanning every signal of the user.
        """CREATE TABLE profile_stats (
            user_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            n INTEGER NOT NULL,
            first_at TIMESTAMPTZ NOT NULL,
            last_at TIMESTAMPTZ NOT NULL,
            reset_at TIMESTAMPTZ,
            PRIMARY KEY (user_id, name, value)
        )""",
    ),
)
