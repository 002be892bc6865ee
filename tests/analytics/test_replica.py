"""The analytics replica of a PostgreSQL store (aeries.store.replica): the first read loads in
full, later reads refresh at most every ``refresh_s`` and only incrementally, and whatever
happened in between (inserts, updates, rows of a transaction still open at the last refresh, a
rebuild, deleted demo rows) leaves the replica equal to the store, never ahead of it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from aeries import analytics as A
from aeries.demo import DemoConfig, delete_synthetic, write_demo
from aeries.store.db import Database, DatabaseError
from aeries.store.facts import rebuild_facts
from aeries.store.replica import EXCLUDED, ROWS, TABLES, XMIN, AnalyticsReplica, pg_snapshot
from tests.analytics.test_analytics import D1, END, START, UA, build_db, xid

EXCHANGE = """INSERT INTO exchanges (id, user_id, model, source, status, started_at, ttft_ms)
              VALUES (?, ?, 'm-new', 'chat', 'ok', ?, ?)"""


@pytest.fixture
def store(pg_migrated_url: str, tmp_path: Path) -> Iterator[Database]:
    """The hand-built database of test_analytics, on PostgreSQL."""
    db = build_db(pg_migrated_url, local_base=tmp_path)
    yield db
    db.close()


@pytest.fixture
def replica(store: Database) -> Iterator[AnalyticsReplica]:
    """A replica (refreshed when due, or on ``refresh``)."""
    r = AnalyticsReplica(store, refresh_s=0)
    yield r
    r.close()


def columns(table: str, store: Database) -> list[str]:
    rows = store.rows(
        """SELECT column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position""",
        [table],
    )
    return [r[0] for r in rows if r[0] not in EXCLUDED.get(table, ())]


def assert_mirrors(replica: AnalyticsReplica, store: Database, tables=TABLES) -> None:
    """Each table of the replica holds exactly the store's rows (its kept columns)."""
    for table in tables:
        names = ", ".join(columns(table, store))
        where = ROWS.get(table, "true")
        want = sorted(store.rows(f"SELECT {names} FROM {table} WHERE {where}"), key=repr)
        got = sorted(replica.db.rows(f"SELECT {names} FROM {table}"), key=repr)
        assert got == want, table


def add_exchanges(db: Database, first: int, n: int) -> None:
    for i in range(first, first + n):
        db.execute(EXCHANGE, [xid(i), UA, D1 + timedelta(minutes=i % 600), float(i)])


def test_the_first_read_loads_every_named_table_in_full(replica, store):
    handle = replica.reader(["exchanges", "users"])
    assert handle is replica.db
    assert set(replica.tables) == {"exchanges", "users"}
    assert {t: r.how for t, r in replica.last.tables.items()} == {
        "exchanges": "full",
        "users": "full",
    }
    assert_mirrors(replica, store, ("exchanges", "users"))
    replica.reader()  # every replicated table
    assert set(replica.tables) == set(TABLES)
    assert_mirrors(replica, store)
    with pytest.raises(ValueError, match="not a replicated table"):
        replica.reader(["votes"])


def test_reads_refresh_at_most_every_refresh_s(store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    replica = AnalyticsReplica(store, refresh_s=60)
    try:
        replica.reader(["exchanges"])
        first = replica.last
        add_exchanges(store, 100, 3)
        replica.reader(["exchanges"])
        assert replica.last is first  # within refresh_s: no query to PostgreSQL at all
        assert replica.db.one("SELECT count(*) FROM exchanges") == (12,)
        replica.refresh_s = 0
        replica.reader(["exchanges"])
        assert replica.last is not first
        assert replica.last.tables["exchanges"].how == "incremental"
        assert replica.db.one("SELECT count(*) FROM exchanges") == (15,)
    finally:
        replica.close()


def test_a_table_is_refreshed_again_only_after_a_few_times_its_refresh(replica, store):
    replica.reader(["exchanges"])
    first = replica.last
    replica.tables["exchanges"].cost = 30.0  # as if it had taken 30 s: due in 150 s
    add_exchanges(store, 100, 1)
    replica.reader(["exchanges"])
    assert replica.last is first
    replica.tables["exchanges"].cost = 0.0
    replica.reader(["exchanges"])
    assert replica.last is not first and replica.last.tables["exchanges"].rows == 1


def test_no_refresh_while_nothing_has_committed(replica, store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    replica.reader(["exchanges", "users"])
    first = replica.last
    for _ in range(3):
        replica.reader(["exchanges", "users"])  # due, but the store's snapshot is the same
    assert replica.last is first
    add_exchanges(store, 100, 2)
    replica.reader(["exchanges"])
    assert replica.last is not first
    assert replica.last.tables["exchanges"].rows == 2


def test_a_slow_refresh_runs_in_the_background_while_reads_go_on(replica, store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    monkeypatch.setattr(module, "BACKGROUND_S", 0.0)  # every refresh counts as slow
    replica.reader(["exchanges"])
    add_exchanges(store, 100, 2)
    with replica._lock:  # hold the refresh back, as a long one would be
        started = time.perf_counter()
        handle = replica.reader(["exchanges"])
        assert time.perf_counter() - started < 1.0
        assert handle.one("SELECT count(*) FROM exchanges") == (12,)  # what was there
        assert replica._refreshing()
        assert replica.reader(["exchanges"]).one("SELECT count(*) FROM exchanges") == (12,)
    replica.wait(30)
    assert replica.db.one("SELECT count(*) FROM exchanges") == (14,)
    assert replica.last.tables["exchanges"].how == "incremental"


def test_a_failed_background_refresh_is_raised_by_the_next_read(replica, store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    monkeypatch.setattr(module, "BACKGROUND_S", 0.0)
    replica.reader(["exchanges"])
    real = replica._refresh_on
    monkeypatch.setattr(
        replica, "_refresh_on", lambda *a: (_ for _ in ()).throw(DatabaseError("server gone"))
    )
    add_exchanges(store, 100, 1)
    replica.reader(["exchanges"])  # starts the refresh that fails, and reads what is there
    replica.wait(30)
    with pytest.raises(DatabaseError, match="server gone"):
        replica.reader(["exchanges"])  # now in the foreground
    monkeypatch.setattr(replica, "_refresh_on", real)
    assert replica.reader(["exchanges"]).one("SELECT count(*) FROM exchanges") == (13,)


def test_inserts_are_fetched_incrementally(replica, store):
    replica.reader(["exchanges", "preferences"])
    add_exchanges(store, 100, 25)
    report = replica.refresh(["exchanges", "preferences"])
    assert (report.tables["exchanges"].how, report.tables["exchanges"].rows) == ("incremental", 25)
    assert report.tables["preferences"].how == "unchanged"
    assert_mirrors(replica, store, ("exchanges", "preferences"))
    again = replica.refresh(["exchanges"])  # nothing new: nothing fetched, nothing doubled
    assert again.tables["exchanges"].how == "unchanged"
    assert_mirrors(replica, store, ("exchanges",))


def test_updates_of_keyed_tables_replace_their_rows(replica, store):
    replica.reader(["users", "answer_scores"])
    store.execute("UPDATE users SET name = 'alicia' WHERE id = ?", [UA])
    store.execute("UPDATE answer_scores SET thumb = 1 - thumb WHERE thumb IS NOT NULL")
    report = replica.refresh(["users", "answer_scores"])
    assert report.tables["users"].how == "incremental"
    assert report.tables["answer_scores"].how == "incremental"
    assert_mirrors(replica, store, ("users", "answer_scores"))
    assert A.user_options(store)[UA] == "alicia"


def test_an_updated_log_row_reloads_its_table(replica, store):
    replica.reader(["exchanges"])
    store.execute("UPDATE exchanges SET ttft_ms = 1 WHERE id = ?", [xid(1)])
    report = replica.refresh(["exchanges"])
    assert report.tables["exchanges"].how == "full"
    assert "held" in report.tables["exchanges"].reason
    assert_mirrors(replica, store, ("exchanges",))


def test_rows_of_a_transaction_open_at_the_last_refresh_arrive_at_the_next(
    replica, store, pg_migrated_url
):
    replica.reader(["exchanges"])
    with psycopg.connect(pg_migrated_url) as slow, psycopg.connect(pg_migrated_url) as fast:
        # slow takes its transaction id first, then fast writes and commits after it.
        slow.execute(
            "INSERT INTO exchanges (id, model, source, status, started_at) "
            "VALUES (%s, 'm-slow', 'chat', 'ok', %s)",
            [xid(500), D1],
        )
        fast.execute(
            "INSERT INTO exchanges (id, model, source, status, started_at) "
            "VALUES (%s, 'm-fast', 'chat', 'ok', %s)",
            [xid(501), D1],
        )
        fast.commit()
        replica.refresh(["exchanges"])
        held = {r[0] for r in replica.db.rows("SELECT model FROM exchanges")}
        assert "m-fast" in held and "m-slow" not in held  # never another's uncommitted row
        slow.commit()
    report = replica.refresh(["exchanges"])
    assert report.tables["exchanges"].how == "incremental"
    # m-fast came again (its transaction is after the old watermark) and is held once.
    assert replica.db.rows(
        "SELECT model, count(*) FROM exchanges WHERE model LIKE 'm-%' AND model NOT IN "
        "('m-a', 'm-b') GROUP BY model ORDER BY model"
    ) == [("m-fast", 1), ("m-slow", 1)]
    assert_mirrors(replica, store, ("exchanges",))


HOLDER = textwrap.dedent(
    """
    import sys, psycopg
    with psycopg.connect(sys.argv[1]) as conn:
        conn.execute(
            "INSERT INTO exchanges (id, model, source, status, started_at) "
            "VALUES ('00000000-0000-7000-8000-000000000777', 'm-other', 'chat', 'ok', now())"
        )
        print("inserted", flush=True)
        sys.stdin.readline()
        conn.commit()
        print("committed", flush=True)
    """
)


def test_another_processs_uncommitted_rows_are_never_served(replica, store, pg_migrated_url):
    replica.reader(["exchanges"])
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_migrated_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "inserted"
        replica.refresh(["exchanges"])
        assert replica.db.one("SELECT count(*) FROM exchanges WHERE model = 'm-other'") == (0,)
        other.stdin.write("\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "committed"
    finally:
        other.wait(timeout=30)
    replica.refresh(["exchanges"])
    assert replica.db.one("SELECT count(*) FROM exchanges WHERE model = 'm-other'") == (1,)


def test_a_rebuild_of_the_facts_reloads_them(replica, store):
    replica.reader(["answer_scores", "learned_notes"])
    store.execute("DELETE FROM signals WHERE kind = 'observer' AND name = 'topic'")
    rebuild_facts(store)  # deletes both tables and writes them again, in one transaction
    report = replica.refresh(["answer_scores", "learned_notes"])
    assert report.tables["learned_notes"].how == "full"
    assert report.tables["answer_scores"].how in ("full", "incremental")
    assert_mirrors(replica, store, ("answer_scores", "learned_notes"))
    assert "topic" not in {r[0] for r in replica.db.rows("SELECT name FROM learned_notes")}


def test_deleting_the_demo_rows_reloads_what_changed(pg_migrated_url, tmp_path):
    store = Database(pg_migrated_url, local_base=tmp_path)
    replica = AnalyticsReplica(store, refresh_s=0)
    try:
        write_demo(store, DemoConfig(exchanges=300, seed=1, weeks=1, end=END))
        add_exchanges(store, 1, 4)  # real rows, which stay
        replica.reader()
        assert_mirrors(replica, store)
        delete_synthetic(store)
        report = replica.refresh()
        assert report.tables["exchanges"].how == "full"
        assert_mirrors(replica, store)
        assert replica.db.one("SELECT count(*) FROM exchanges") == (4,)
    finally:
        replica.close()
        store.close()


def test_log_tables_keep_each_rows_xmin_and_keyed_ones_do_not(replica, store):
    replica.reader(["exchanges", "users"])
    described = {
        t: [r[0] for r in replica.db.rows(f"DESCRIBE {t}")] for t in ("exchanges", "users")
    }
    assert described["exchanges"][-1] == XMIN and XMIN not in described["users"]
    assert replica.tables["users"].key == ("id",) and replica.tables["exchanges"].key == ()


def test_a_snapshot_does_not_see_rows_committed_after_it_began(store):
    with pg_snapshot(store) as snap:
        before = snap.arrow("SELECT count(*) AS n FROM exchanges").column("n")[0].as_py()
        add_exchanges(store, 900, 2)  # committed by the store's own pool, meanwhile
        after = snap.arrow("SELECT count(*) AS n FROM exchanges").column("n")[0].as_py()
        assert after == before
    assert store.one("SELECT count(*) FROM exchanges") == (before + 2,)


def test_db_analytics_uses_one_replica_per_store(store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "REFRESH_S", 0.0)
    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    first = store.analytics("exchanges")
    assert first is store.analytics("personas") and first is not store
    assert first.one("SELECT count(*) FROM exchanges") == (12,)
    assert A.data_range(store) == (D1, A.data_range(store)[1])
    f = A.Filters(START, END, bucket="day")
    assert int(A.volume_trend(store, f)["requests"].sum()) == 12


def test_the_process_replica_is_a_temporary_file_by_default(store, tmp_path, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "REPLICA_DIR", str(tmp_path))
    held = module.replica_of(store)
    assert held is module.replica_of(store)
    store.analytics("users")
    assert list(tmp_path.glob("aeries-replica-*/replica.duckdb"))
    limit = held.db.one("SELECT current_setting('memory_limit')")
    assert limit is not None and "MiB" in str(limit[0])  # MEMORY_LIMIT, not 80% of the machine


def test_a_replica_in_a_file_is_removed_when_closed(store, tmp_path):
    replica = AnalyticsReplica(store, path=tmp_path, refresh_s=0)
    replica.reader(["exchanges"])
    made = list(tmp_path.glob("aeries-replica-*"))
    assert len(made) == 1 and (made[0] / "replica.duckdb").exists()
    assert replica.db.one("SELECT count(*) FROM exchanges") == (12,)
    replica.close()
    assert not made[0].exists()


def test_a_broken_kept_connection_is_replaced(replica, store):
    replica.reader(["exchanges"])
    assert replica._conn is not None
    with replica._conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        pid = cur.fetch_arrow_table().column("pid")[0].as_py()
    store.execute("SELECT pg_terminate_backend(?)", [pid])  # as a server restart would
    add_exchanges(store, 100, 2)
    report = replica.refresh(["exchanges"])
    assert report.tables["exchanges"].rows == 2
    assert_mirrors(replica, store, ("exchanges",))


def test_a_closed_store_cannot_be_read(store, monkeypatch):
    from aeries.store import replica as module

    monkeypatch.setattr(module, "COST_FACTOR", 0.0)
    replica = AnalyticsReplica(store, refresh_s=0)
    replica.reader(["users"])
    store.close()
    with pytest.raises(DatabaseError, match="closed"):
        replica.reader(["users"])
    replica.close()


def test_refresh_time_is_reported(replica):
    started = time.perf_counter()
    report = replica.refresh(["exchanges"])
    assert 0 < report.seconds <= time.perf_counter() - started
    assert report.tables["exchanges"].seconds <= report.seconds
