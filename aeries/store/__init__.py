"""DuckDB storage: the connection, the migrations, the background writer and its write ops, and
answers in flight. Each table family has its own module (``aeries.store.conversations``,
``exchanges``, ``signals``, ``battles``, ``preferences``, ``personas``, ``users``, ``profile``,
``events``, ``evidence``, ``facts``), imported by that name: one builder per row kind, every
read scoped to its user. This package imports no model-calling code (an import-linter contract).
"""

from aeries.store.db import Database, DatabaseError, DatabaseLocked, is_storage_error
from aeries.store.inflight import InflightRecord, recover_inflight
from aeries.store.migrations import migrate
from aeries.store.ops import Execute, Insert, Op
from aeries.store.writer import StoreHealth, Writer, WriterClosed, replay_spills

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseLocked",
    "Execute",
    "InflightRecord",
    "Insert",
    "Op",
    "StoreHealth",
    "Writer",
    "WriterClosed",
    "is_storage_error",
    "migrate",
    "recover_inflight",
    "replay_spills",
]
