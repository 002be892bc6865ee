"""The same generated data in a DuckDB file and in PostgreSQL (read through the analytics
replica, or through ADBC for details, exports and bundles) gives the same analytics frames, for
every analytics function: the demo (``aeries.demo``, written by each engine's own path) with its
synthetic study, both with the same seed and end time."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aeries import analytics as A
from aeries import ids
from aeries.analytics import arena as P
from aeries.analytics import drill as D
from aeries.analytics import feedback as S
from aeries.demo import DemoConfig, write_demo
from aeries.demo.study import write_synthetic_study
from aeries.store import replica
from aeries.store.db import Database
from aeries.store.pg_server import PostgresServer
from aeries.store.studies import get_study, get_version
from aeries.store.writer import Writer
from aeries.studies import report
from aeries.studies.bundle import bundle_tables
from aeries.studies.spec import Study, parse_study

# scipy warns about "precision loss" for a group of equal values (e.g. every thumb up).
pytestmark = pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CFG = DemoConfig(exchanges=4000, seed=11, weeks=3, end=END)
WEEK = A.Filters(END - timedelta(days=7), END)  # by hour
ALL = A.Filters(END - timedelta(days=22), END, bucket="day")
NARROW = A.Filters(END - timedelta(days=22), END, bucket="week", sources=("chat",), brief=True)
FILTERS = {"week": WEEK, "all": ALL, "narrow": NARROW}


def _write(db: Database) -> str:
    """The demo and its study. The study goes through the app's own flow, which makes ids
    from the clock and os.urandom: here they come from a counter, the same on both engines."""
    count = itertools.count(1)

    def counted_id() -> str:
        return f"00000000-0000-7000-8000-{next(count):012d}"

    write_demo(db, CFG)
    writer = Writer(db, checkpoint_interval_s=None)
    original = ids.new_id  # (aeries.ids is patched too, so compare with the original)
    with pytest.MonkeyPatch.context() as patch:
        for module in list(sys.modules.values()):
            if (
                module
                and module.__name__.startswith("aeries.")
                and (getattr(module, "new_id", None) is original)
            ):
                patch.setattr(module, "new_id", counted_id)
        try:
            return write_synthetic_study(db, writer, participants=40, seed=3, end=END)
        finally:
            writer.close()


@pytest.fixture(scope="module")
def stores(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, Database, Study]]:
    """(DuckDB file, PostgreSQL store, the study) holding the same generated data."""
    folder = tmp_path_factory.mktemp("parity")
    duck = Database(folder / "demo.duckdb")
    name = f"parity_{uuid.uuid4().hex[:12]}"
    pg = Database(pg_server.create_database(name), local_base=folder / "pg")
    study_id = _write(duck)
    assert _write(pg) == study_id
    record = get_study(duck, study_id)
    assert record is not None
    version = get_version(duck, study_id, record.current_version)
    assert version is not None
    yield duck, pg, parse_study(version.config_toml)
    duck.close()
    pg.close()
    pg_server.drop_database(name)


@pytest.fixture(autouse=True)
def fresh_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "REFRESH_S", 0.0)
    monkeypatch.setattr(replica, "COST_FACTOR", 0.0)


def same_frame(a: pd.DataFrame, b: pd.DataFrame, *, keys: list[str] | None = None) -> None:
    """Equal frames: same columns, dtypes and values (floats to 1e-9, for sums added in
    another order). With ``keys``, rows are compared sorted by them (SQL without ORDER BY)."""
    if keys:
        a = a.sort_values(keys, kind="stable").reset_index(drop=True)
        b = b.sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)


def both(stores: tuple[Database, Database, Study], fn: Callable[[Database], object]) -> tuple:
    duck, pg, _ = stores
    return fn(duck), fn(pg)


def test_the_demo_has_the_same_rows_on_both_engines(stores):
    duck, pg, _ = stores
    for table in (*replica.TABLES, "votes", "battle_sides", "messages", "conversations"):
        sql = f"SELECT count(*) FROM {table}"
        assert duck.one(sql) == pg.one(sql), table
    assert duck.one("SELECT count(*) FROM exchanges")[0] > 4000  # the study's too


def test_filter_options_agree(stores):
    for fn in (A.data_range, A.model_options, A.persona_options, A.user_options):
        a, b = both(stores, fn)
        assert a == b and a, fn.__name__
    for table in A.COUNTED_TABLES:
        a, b = both(stores, lambda db, t=table: A.has_rows(db, t))
        assert a == b


@pytest.mark.parametrize("which", FILTERS)
def test_latency_and_volume_agree(stores, which):
    f = FILTERS[which]
    for metric in A.METRICS:
        same_frame(*both(stores, lambda db, m=metric: A.latency_trend(db, f, m)))
        same_frame(*both(stores, lambda db, m=metric: A.latency_table(db, f, m)))
    volume = both(stores, lambda db: A.volume_trend(db, f))
    assert not volume[0].empty
    same_frame(*volume)
    same_frame(*both(stores, lambda db: A.ttft_breakdown(db, f)))


@pytest.mark.parametrize("which", FILTERS)
def test_feedback_agrees(stores, which):
    f = FILTERS[which]
    a, b = both(stores, lambda db: S.signal_summary(db, f))
    assert sorted(a) == sorted(b)
    for part in a:
        same_frame(a[part], b[part])
    learned = both(stores, lambda db: S.top_learned(db, f))
    assert not learned[0].empty or which == "narrow"
    same_frame(*learned)


@pytest.mark.parametrize("which", FILTERS)
def test_arena_agrees(stores, which):
    f = FILTERS[which]
    for bucket in ("hour", "day", "week"):
        same_frame(*both(stores, lambda db, b=bucket: P.preference_counts(db, f, b)))
    prefs = both(stores, lambda db: P.preference_counts(db, f, P.rating_period(f)))
    for implicit in (False, True):
        a, b = (P.select_kinds(p, implicit) for p in prefs)
        if not a.empty:
            same_frame(
                P.leaderboard(a.drop(columns=["bucket"])), P.leaderboard(b.drop(columns=["bucket"]))
            )
            same_frame(P.rating_trend(a), P.rating_trend(b))
        same_frame(*both(stores, lambda db, i=implicit: P.win_matrix(db, f, i)))
        same_frame(*both(stores, lambda db, i=implicit: P.position_bias(db, f, i)))
        same_frame(*both(stores, lambda db, i=implicit: P.latency_preference(db, f, i)))


def test_drill_down_details_and_exports_agree(stores):
    duck, _, _ = stores
    for status in (None, "ok", "error"):
        same_frame(*both(stores, lambda db, s=status: D.exchange_list(db, ALL, status=s)))
    model = A.model_options(duck)[0]
    listed = both(stores, lambda db: D.exchange_list(db, WEEK, model=model))
    same_frame(*listed)
    for exchange_id in listed[0]["id"][:5]:
        a, b = both(stores, lambda db, x=exchange_id: D.exchange_detail(db, x))
        assert a is not None and b is not None
        assert a.row == b.row and a.request == b.request and a.params == b.params
        same_frame(a.signals, b.signals, keys=list(a.signals.columns))  # ties in time
    for what in D.EXPORTS:
        a, b = both(stores, lambda db, w=what: D.export_table(db, w, WEEK))
        assert a.schema == b.schema, what
        assert a.num_rows == b.num_rows and a.num_rows > 0, what
        order = [("id", "ascending")]
        assert a.sort_by(order).equals(b.sort_by(order)), what
        assert D.to_csv(a.sort_by(order)) == D.to_csv(b.sort_by(order)), what


def test_the_study_report_agrees(stores):
    _, _, study = stores
    now = END + timedelta(days=1)
    same_frame(*both(stores, lambda db: report.funnel(db, study, now)))
    same_frame(*both(stores, lambda db: report.step_funnel(db, study.id)))
    same_frame(*both(stores, lambda db: report.step_times(db, study.id)))
    same_frame(*both(stores, lambda db: report.arena_ratings(db, study.id, rounds=20)))
    (ma, ka), (mb, kb) = both(stores, lambda db: report.measures(db, study))
    assert ka == kb
    # Participants are new accounts with ids of their own on each engine: compare the values.
    keys = ["condition", "measure", "value"]
    assert len(ma) > 40
    same_frame(ma.drop(columns=["participant"]), mb.drop(columns=["participant"]), keys=keys)
    a, b = both(stores, lambda db: report.outcomes(db, study))
    assert a and [dataclasses.astuple(o)[:4] for o in a] == [dataclasses.astuple(o)[:4] for o in b]
    for x, y in zip(a, b, strict=True):
        for name in ("mean", "sd", "diff", "ci_low", "ci_high", "effect", "p_value"):
            u, v = getattr(x, name), getattr(y, name)
            assert (u is None and v is None) or np.isclose(u, v, rtol=1e-9), (x, name)


def test_the_study_bundle_has_the_same_tables_and_types(stores):
    _, _, study = stores
    a, b = both(stores, lambda db: bundle_tables(db, study.id))
    assert [t.name for t in a] == [t.name for t in b]
    for x, y in zip(a, b, strict=True):
        assert x.types == y.types, x.name  # the codebook's types: JSON, VARCHAR[], TIMESTAMPTZ
        assert x.rows.schema == y.rows.schema, x.name
        assert x.rows.num_rows == y.rows.num_rows, x.name
    kinds = {kind for t in a for kind in t.types.values()}
    assert {"JSON", "VARCHAR[]", "TIMESTAMPTZ", "DOUBLE", "INTEGER", "BOOLEAN"} <= kinds


def test_the_replica_leaves_out_heavy_text_and_keeps_study_signals_only(stores):
    duck, pg, _ = stores
    held = pg.analytics("exchanges", "signals", "personas", "battles")
    for table, left_out in replica.EXCLUDED.items():
        columns = [r[0] for r in held.rows(f"DESCRIBE {table}")]
        assert not set(left_out) & set(columns), table
        kept = [r[0] for r in duck.rows(f"DESCRIBE {table}") if r[0] not in left_out]
        assert [c for c in columns if c != replica.XMIN] == kept, table
    study_signals = duck.one("SELECT count(*) FROM signals WHERE study_id IS NOT NULL")
    assert held.one("SELECT count(*) FROM signals") == study_signals
    assert study_signals[0] > 0


def test_replica_tables_have_the_duckdb_types(stores):
    """Each replicated column has the type the DuckDB file gives it (Arrow over ADBC)."""
    duck, pg, _ = stores
    held = pg.analytics()
    for table in replica.TABLES:
        want = {r[0]: r[1] for r in duck.rows(f"DESCRIBE {table}")}
        got = {r[0]: r[1] for r in held.rows(f"DESCRIBE {table}") if r[0] != replica.XMIN}
        assert got == {c: t for c, t in want.items() if c in got}, table


def test_a_snapshot_reads_every_table_with_the_duckdb_types(stores):
    duck, pg, _ = stores
    tables = [r[0] for r in duck.rows("SELECT table_name FROM duckdb_tables() ORDER BY 1")]
    with replica.pg_snapshot(pg) as snap:
        for table in tables:
            relation = snap.relation(f"SELECT * FROM {table} LIMIT 0")
            expected = duck.rows(f"DESCRIBE {table}")
            assert [(c, str(t)) for c, t in zip(relation.columns, relation.types, strict=True)] == [
                (r[0], r[1]) for r in expected
            ], table
            assert isinstance(relation.to_arrow_table(), pa.Table)


def test_duckdb_reads_analytics_from_the_file_itself(tmp_path: Path):
    db = Database(tmp_path / "x.duckdb")
    assert db.analytics("exchanges") is db and db.analytics() is db
    db.close()
