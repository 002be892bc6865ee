"""Migration 7: what the model server measured for each answer, beside the client's figures.

vLLM started with ``--enable-per-request-metrics`` puts a ``metrics`` object on the stream's
final usage chunk; each value is NULL when the server did not send it (never 0).

The PostgreSQL twin of ``m007``: the same tables, columns, defaults and keys, in PostgreSQL's
words (DOUBLE is DOUBLE PRECISION). Released: frozen; its SQL is a literal here and it imports
nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

MIGRATION = Migration(
    7,
    "exchanges: the server's own per-request timings (queue, prefill, generation, ITL, rate)",
    (
        "ALTER TABLE exchanges ADD COLUMN server_queue_ms DOUBLE PRECISION",
        "ALTER TABLE exchanges ADD COLUMN server_ttft_ms DOUBLE PRECISION",
        "ALTER TABLE exchanges ADD COLUMN server_generation_ms DOUBLE PRECISION",
        "ALTER TABLE exchanges ADD COLUMN server_mean_itl_ms DOUBLE PRECISION",
        "ALTER TABLE exchanges ADD COLUMN server_tokens_per_second DOUBLE PRECISION",
    ),
)
