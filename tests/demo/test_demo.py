"""The demo database: realistic shape, consistent references, reproducible, safe to re-run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from aeries import analytics as A
from aeries import vocabulary as V
from aeries.__main__ import main
from aeries.demo import DemoConfig, DemoError, run_demo, split_exchanges, write_demo
from aeries.demo.calls import uuid7
from aeries.store.db import Database, DatabaseLocked
from tests.test_snapshot import holding

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
N = 4000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    report = run_demo(path, DemoConfig(exchanges=N, seed=7, weeks=6, end=END))
    db = Database(path)
    yield db, report
    db.close()


def one(db: Database, sql: str, params=None):
    return db.one(sql, params)[0]


def test_counts_and_every_row_is_synthetic(demo):
    db, report = demo
    assert one(db, "SELECT count(*) FROM exchanges") == N == report.rows["exchanges"]
    signals = one(db, "SELECT count(*) FROM signals")
    assert signals == report.rows["signals"] and 4 * N < signals < 6 * N
    flagged = ("users", "personas", "conversations", "exchanges", "signals", "battles")
    for table in (*flagged, "battle_sides", "votes", "preferences"):
        assert one(db, f"SELECT count(*) FILTER (WHERE NOT synthetic) FROM {table}") == 0
        assert one(db, f"SELECT count(*) FROM {table}") > 0, table


def test_models_differ_in_latency_and_drift(demo):
    db, _ = demo
    medians = dict(
        db.rows("SELECT model, median(ttft_ms) FROM exchanges WHERE status = 'ok' GROUP BY ALL")
    )
    assert len(medians) == 5
    assert max(medians.values()) > 2.5 * min(medians.values())
    # llama got faster half-way (an upgrade): later weeks beat earlier ones clearly
    early, late = db.rows(
        """SELECT median(ttft_ms) FROM exchanges
           WHERE model = 'llama-3.1-8b-instruct' AND status = 'ok'
           GROUP BY started_at < ?::TIMESTAMPTZ - INTERVAL 14 DAY ORDER BY 1 DESC""",
        [END],
    )
    assert late[0] < 0.8 * early[0]


def test_failures_carry_the_error_kind_the_app_would_log(demo):
    db, _ = demo
    # A stopped answer is logged by the app with error_kind 'aborted' and no error text.
    kinds = dict(
        db.rows(
            """SELECT coalesce(error_kind, '(none)'), count(*) FROM exchanges
               WHERE status = 'aborted' GROUP BY ALL"""
        )
    )
    assert list(kinds) == ["aborted"] and kinds["aborted"] > 0
    assert (
        one(db, "SELECT count(*) FROM exchanges WHERE status = 'aborted' AND error IS NOT NULL")
        == 0
    )
    assert (
        one(db, "SELECT count(*) FROM exchanges WHERE status = 'error' AND error_kind IS NULL") == 0
    )
    assert (
        one(db, "SELECT count(*) FROM exchanges WHERE status = 'ok' AND error_kind IS NOT NULL")
        == 0
    )


def test_statuses_sources_kinds_and_brief_all_present(demo):
    db, _ = demo
    statuses = dict(db.rows("SELECT status, count(*) FROM exchanges GROUP BY ALL"))
    assert set(statuses) == {"ok", "error", "aborted"} and statuses["ok"] > 0.9 * N
    chat, battles, observer = split_exchanges(N)
    assert dict(db.rows("SELECT source, count(*) FROM exchanges GROUP BY ALL")) == {
        "chat": chat,
        "arena": 2 * battles,
        "observer": observer,
    }
    names = set(db.rows("SELECT DISTINCT kind, name FROM signals"))
    for expected in [("feedback", "thumbs"), ("observer", "satisfaction"), ("observer", "topic")]:
        assert expected in names
    assert ("observer", "preference") in names and ("implicit", "regenerate") in names
    kinds = dict(db.rows("SELECT kind, count(*) FROM preferences GROUP BY ALL"))
    assert kinds["explicit"] > 0 and kinds["implicit"] > 0
    brief = {r[0] for r in db.rows("SELECT DISTINCT brief_enabled FROM exchanges")}
    assert {True, False} <= brief


def test_references_are_consistent(demo):
    db, _ = demo
    orphans = {
        "message exchange": """SELECT count(*) FROM messages m WHERE m.exchange_id IS NOT NULL
            AND m.exchange_id NOT IN (SELECT id FROM exchanges)""",
        "signal exchange": """SELECT count(*) FROM signals s
            WHERE s.exchange_id NOT IN (SELECT id FROM exchanges)""",
        "preference exchange": """SELECT count(*) FROM preferences p
            WHERE p.exchange_a NOT IN (SELECT id FROM exchanges)""",
        "message parent": """SELECT count(*) FROM messages m WHERE m.parent_id IS NOT NULL
            AND m.parent_id NOT IN (SELECT id FROM messages)""",
        "vote battle": "SELECT count(*) FROM votes WHERE battle_id NOT IN (SELECT id FROM battles)",
        "message count": """SELECT count(*) FROM conversations c WHERE message_count <>
            (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)""",
        "leaf": """SELECT count(*) FROM conversations c
            WHERE current_leaf_id NOT IN (SELECT id FROM messages)""",
    }
    for name, sql in orphans.items():
        assert one(db, sql) == 0, name
    assert one(db, "SELECT count(*) - count(DISTINCT id) FROM exchanges") == 0
    # ids sort by time: the UUIDv7 time prefix is the start time in milliseconds
    lag = one(
        db,
        """SELECT max(abs(('0x' || replace(id, '-', '')[1:12])::BIGINT
                          - epoch_ms(started_at))) FROM exchanges""",
    )
    assert lag <= 1


def test_analytics_run_on_the_demo(demo):
    db, _ = demo
    f = A.Filters(datetime(2026, 1, 1, tzinfo=UTC), END)
    assert A.latency_trend(db, f, "ttft")["n"].sum() > 0.9 * N * 0.9
    assert not A.volume_trend(db, f).empty


def test_same_seed_same_data(tmp_path):
    rows = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.duckdb"
        run_demo(path, DemoConfig(exchanges=500, seed=3, weeks=2, end=END))
        db = Database(path)
        rows.append(
            db.rows("SELECT model, status, ttft_ms, started_at FROM exchanges ORDER BY 4, 1")
        )
        db.close()
    assert rows[0] == rows[1]


def test_rerun_needs_replace_and_locked_database_is_explained(tmp_path, capsys):
    path = tmp_path / "d.duckdb"
    cfg = DemoConfig(exchanges=300, seed=1, weeks=1, end=END)
    db = Database(path)
    write_demo(db, cfg)
    with pytest.raises(DemoError, match="--replace"):
        write_demo(db, cfg)
    write_demo(db, cfg, replace=True)
    assert one(db, "SELECT count(*) FROM exchanges") == 300
    assert one(db, "SELECT count(*) FROM messages WHERE conversation_id NOT IN "
               "(SELECT id FROM conversations)") == 0  # fmt: skip
    db.close()
    with holding(path):
        with pytest.raises(DatabaseLocked):
            run_demo(path, cfg, replace=True)
        assert main(["demo", "--exchanges", "300", "--db", str(path), "--replace"]) == 2
    assert "in use by another program" in capsys.readouterr().err


def test_cli_demo_prints_counts(tmp_path, capsys):
    path = tmp_path / "cli.duckdb"
    assert main(["demo", "--exchanges", "1_000", "--db", str(path), "--weeks", "2"]) == 0
    out = capsys.readouterr().out
    assert "exchanges" in out and "1,000" in out
    assert main(["demo", "--exchanges", "5", "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "at least 10" in capsys.readouterr().err


def test_uuid7_strings_are_valid_and_time_ordered():
    ms = np.array([1, 2, 2, 1_700_000_000_000, 1_800_000_000_000], dtype=np.int64) * 1000
    ids = uuid7(ms, np.random.default_rng(0)).to_pylist()
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert ids[0] < ids[1] and ids[3] < ids[4] and len(set(ids)) == 5
    assert int(ids[3].replace("-", "")[:12], 16) == 1_700_000_000_000


def test_demo_fills_the_profile_behind_the_brief(tmp_path):
    from aeries.brief import assemble_brief
    from aeries.demo import DemoConfig, run_demo
    from aeries.store.db import Database

    path = tmp_path / "brief-demo.duckdb"
    run_demo(path, DemoConfig(2000, 0, 4, None))
    db = Database(path)
    try:
        user = db.one("""SELECT user_id FROM profile_stats WHERE name = 'preference'
                         GROUP BY user_id ORDER BY sum(n) DESC LIMIT 1""")
        assert user is not None
        assert assemble_brief(db, user[0]).lines
    finally:
        db.close()


def test_every_value_the_demo_writes_is_in_the_vocabulary(demo):
    db, _ = demo
    columns = {
        "exchanges.source": ("SELECT DISTINCT source FROM exchanges", V.SOURCES),
        "exchanges.status": ("SELECT DISTINCT status FROM exchanges", V.EXCHANGE_STATUSES),
        "exchanges.error_kind": ("SELECT DISTINCT error_kind FROM exchanges", V.ERROR_KINDS),
        "signals.kind": ("SELECT DISTINCT kind FROM signals", V.SIGNAL_KINDS),
        "votes.outcome": ("SELECT DISTINCT outcome FROM votes", V.VOTE_OUTCOMES),
        "votes.reasons": ("SELECT DISTINCT unnest(reasons) FROM votes", V.VOTE_REASONS),
        "preferences.kind": ("SELECT DISTINCT kind FROM preferences", V.PREFERENCE_KINDS),
        "preferences.source": ("SELECT DISTINCT source FROM preferences", V.SOURCES),
        "preferences.winner": ("SELECT DISTINCT winner FROM preferences", V.WINNERS),
        "messages.origin": ("SELECT DISTINCT origin FROM messages", V.MESSAGE_ORIGINS),
        "messages.status": ("SELECT DISTINCT status FROM messages", V.EXCHANGE_STATUSES),
    }
    for kind in V.SIGNAL_KINDS:
        columns[f"signals.name ({kind})"] = (
            f"SELECT DISTINCT name FROM signals WHERE kind = '{kind}'",
            V.SIGNAL_NAMES[kind],
        )
    for column, (sql, allowed) in columns.items():
        written = {r[0] for r in db.rows(sql)} - {None}
        assert written, column
        assert written <= set(allowed), (column, written - set(allowed))
