"""The PostgreSQL migrations: one frozen twin ``pNNN`` of every DuckDB migration ``mNNN``, with
the same version and name, giving the same tables, columns, defaults and keys.

PostgreSQL needs its own set because DuckDB's SQL is not all PostgreSQL's (``DOUBLE``,
``any_value``, ``arg_max``), and a released migration never changes. From now on every schema
change is a pair ``mNNN``/``pNNN``; tests/store/test_pg_migrations.py fails when one is missing
and compares the two schemas column by column.
"""

from aeries.store.migrations.base import Migration
from aeries.store.migrations.pg.p001_core_tables import MIGRATION as CORE_TABLES
from aeries.store.migrations.pg.p002_personas_and_events import MIGRATION as PERSONAS_AND_EVENTS
from aeries.store.migrations.pg.p003_arena import MIGRATION as ARENA
from aeries.store.migrations.pg.p004_profile import MIGRATION as PROFILE
from aeries.store.migrations.pg.p005_analytics_facts import MIGRATION as ANALYTICS_FACTS
from aeries.store.migrations.pg.p006_identity_and_durability import (
    MIGRATION as IDENTITY_AND_DURABILITY,
)
from aeries.store.migrations.pg.p007_server_metrics import MIGRATION as SERVER_METRICS
from aeries.store.migrations.pg.p008_studies import MIGRATION as STUDIES
from aeries.store.migrations.pg.p009_annotation import MIGRATION as ANNOTATION

__all__ = ["PG_MIGRATIONS"]

PG_MIGRATIONS: tuple[Migration, ...] = (
    CORE_TABLES,
    PERSONAS_AND_EVENTS,
    ARENA,
    PROFILE,
    ANALYTICS_FACTS,
    IDENTITY_AND_DURABILITY,
    SERVER_METRICS,
    STUDIES,
    ANNOTATION,
)
