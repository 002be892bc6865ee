"""aeries.analytics*: every aggregate checked against values computed by hand (or numpy) from a
small database built here, row by row: on a DuckDB file, and on PostgreSQL, where the queries
run on the analytics replica (refreshed before every read here, so a row written in a test is
read back at once)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aeries import analytics as A
from aeries import ratings
from aeries.analytics import arena as P
from aeries.analytics import drill as D
from aeries.analytics import feedback as S
from aeries.store import replica
from aeries.store.db import Database
from aeries.store.facts import rebuild_facts
from aeries.store.migrations import migrate

D1 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday
D2 = D1 + timedelta(days=1)
UA, UB = "00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b"
PT = "00000000-0000-7000-8000-0000000000f1"
START, END = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC)


def xid(n: int) -> str:
    return f"00000000-0000-7000-8000-{n:012d}"


# id, user, model, source, persona, brief, status, start, ttft, e2e, tpot, prompt, completion
EXCHANGES = [
    (1, UA, "m-a", "chat", PT, True, "ok", D1, 100, 1100, 10, 50, 101),
    (2, UA, "m-a", "chat", PT, True, "ok", D1 + timedelta(minutes=1), 200, 2200, 20, 60, 101),
    (3, UB, "m-a", "chat", None, False, "ok", D1 + timedelta(minutes=2), 400, 3400, 30, 70, 101),
    (4, UB, "m-a", "chat", None, False, "error", D1 + timedelta(minutes=3), None, 5, None, None, None),  # noqa: E501
    (5, UA, "m-a", "chat", PT, True, "aborted", D1 + timedelta(minutes=4), 150, 600, 15, 40, 31),
    (6, UA, "m-a", "chat", PT, True, "ok", D2, 120, 920, 8, 55, 101),
    (7, UB, "m-a", "arena", None, None, "ok", D2 + timedelta(minutes=1), 300, 1300, 10, 20, 101),
    (8, UA, "m-b", "chat", None, False, "ok", D1 + timedelta(minutes=5), 250, 2250, 20, 45, 101),
    (9, UB, "m-b", "chat", None, False, "ok", D1 + timedelta(minutes=6), 350, 1350, 10, 45, 101),
    (10, UB, "m-b", "arena", None, None, "ok", D2 + timedelta(minutes=1), 500, 1500, 10, 20, 101),
    (11, UA, "m-b", "arena", None, None, "error", D2 + timedelta(minutes=2), None, 7, None, None, None),  # noqa: E501
    (12, UA, "m-b", "observer", None, None, "ok", D2 + timedelta(minutes=3), 90, 390, 3, 600, 101),
]  # fmt: skip
T = timedelta(minutes=10)
# exchange, kind, name, num, text, user, created
SIGNALS = [
    (1, "feedback", "thumbs", 1.0, None, UA, D1 + T),
    (1, "feedback", "thumbs", 0.0, None, UA, D1 + 2 * T),  # changed mind: the latest counts
    (2, "feedback", "thumbs", 1.0, None, UA, D1 + T),
    (3, "feedback", "thumbs", 0.0, None, UB, D1 + T),
    (6, "feedback", "thumbs", 1.0, None, UA, D2 + T),
    (8, "feedback", "thumbs", 1.0, None, UA, D1 + T),
    (9, "feedback", "thumbs", 1.0, None, UB, D1 + T),
    (1, "observer", "satisfaction", 0.8, None, UA, D1 + T),
    (2, "observer", "satisfaction", 0.6, None, UA, D1 + T),
    (3, "observer", "satisfaction", 0.2, None, UB, D1 + T),
    (6, "observer", "satisfaction", 0.9, None, UA, D2 + T),
    (8, "observer", "satisfaction", 0.5, None, UA, D1 + T),
    (1, "observer", "sentiment", 0.5, None, UA, D1 + T),
    (3, "observer", "sentiment", -0.5, None, UB, D1 + T),
    (1, "observer", "topic", None, "python", UA, D1 + T),
    (2, "observer", "topic", None, "python", UA, D1 + T),
    (3, "observer", "topic", None, "math", UB, D1 + T),
    (1, "observer", "preference", None, "verbosity=concise", UA, D1 + T),
    (8, "observer", "preference", None, "verbosity=concise", UA, D1 + T),
    (9, "observer", "preference", None, "tone=formal", UB, D1 + T),
    (1, "heuristic", "answer_chars", 400.0, None, UA, D1 + T),
]
# kind, source, user, model_a, model_b, exchange_a, exchange_b, pos_a, pos_b, winner, weight, at
PREFERENCES = [
    ("explicit", "arena", UB, "m-a", "m-b", 7, 10, 0, 1, "a", 1.0, D2 + 5 * T),
    ("explicit", "arena", UB, "m-b", "m-a", 10, 7, 1, 0, "a", 1.0, D2 + 6 * T),
    ("explicit", "arena", UB, "m-a", "m-b", 7, 10, 0, 1, "tie", 1.0, D2 + 7 * T),
    ("explicit", "arena", UA, "m-a", "m-b", None, None, 0, 1, "b", 1.0, D1 + 3 * T),
    ("implicit", "chat", UA, "m-a", "m-b", 2, 8, None, None, "a", 0.5, D1 + 4 * T),
]


ENGINES = ("duckdb", "postgres")


def build_db(
    target: Path | str,
    *,
    votes: bool = True,
    observer: bool = True,
    local_base: Path | None = None,
) -> Database:
    """The hand-built database (optionally without arena votes or observer signals): a DuckDB
    file, or a PostgreSQL database given by its URL (then ``local_base`` names its spill
    files)."""
    db = Database(target, local_base=local_base) if isinstance(target, str) else Database(target)
    migrate(db)
    db.execute("INSERT INTO users (id, name, created_at) VALUES (?, 'alice', ?)", [UA, D1])
    db.execute("INSERT INTO users (id, name, created_at) VALUES (?, 'bob', ?)", [UB, D1])
    db.execute(
        "INSERT INTO personas (id, name, created_at, updated_at) VALUES (?, 'Tutor', ?, ?)",
        [PT, D1, D1],
    )
    for n, user, model, source, persona, brief, status, at, *timing in EXCHANGES:
        if source == "observer" and not observer:
            continue
        request = json.dumps([{"role": "user", "content": f"question {n}"}])
        db.execute(
            """INSERT INTO exchanges (id, user_id, model, source, persona_id, brief_enabled,
                   status, started_at, ttft_ms, e2e_ms, tpot_ms, prompt_tokens,
                   completion_tokens, request_messages, response_text, params)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{"temperature": 0.7}')""",
            [xid(n), user, model, source, persona, brief, status, at, *timing, request, f"A{n}"],
        )
    for i, (n, kind, name, num, text, user, at) in enumerate(SIGNALS):
        if kind == "observer" and not observer:
            continue
        db.execute(
            """INSERT INTO signals (id, user_id, exchange_id, kind, name, value_num, value_text,
                   created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [xid(1000 + i), user, xid(n), kind, name, num, text, at],
        )
    for i, (kind, source, user, ma, mb, xa, xb, pa_, pb, winner, w, at) in enumerate(PREFERENCES):
        if not votes:
            continue
        sides = [xid(xa) if xa else None, xid(xb) if xb else None]
        db.execute(
            """INSERT INTO preferences (id, kind, source, user_id, contestant_a, contestant_b,
                   model_a, model_b, exchange_a, exchange_b, position_a, position_b, winner,
                   weight, created_at) VALUES (?, ?, ?, ?, 'A', 'B', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [xid(2000 + i), kind, source, user, ma, mb, *sides, pa_, pb, winner, w, at],
        )
    rebuild_facts(db)
    return db


@pytest.fixture(autouse=True)
def fresh_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every analytics read brings the PostgreSQL replica up to date (the app waits a few times
    a refresh's duration between two)."""
    monkeypatch.setattr(replica, "REFRESH_S", 0.0)
    monkeypatch.setattr(replica, "COST_FACTOR", 0.0)


def store_target(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's store goes: a DuckDB file, or a fresh migrated PostgreSQL database."""
    if engine == "postgres":
        url: str = request.getfixturevalue("pg_migrated_url")
        return url
    return tmp_path / "a.duckdb"


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path):
    database = build_db(store_target(request.param, request, tmp_path), local_base=tmp_path)
    yield database
    database.close()


def F(**kw) -> A.Filters:
    return A.Filters(
        kw.pop("start", START), kw.pop("end", END), bucket=kw.pop("bucket", "day"), **kw
    )


def ok_values(model: str, day: datetime, column: int, *, users=None) -> list[float]:
    """Independent selection from the literal rows: ok exchanges of a model on a day."""
    return [
        float(r[column])
        for r in EXCHANGES
        if r[2] == model and r[6] == "ok" and r[7].date() == day.date()
        and (users is None or r[1] in users) and r[column] is not None
    ]  # fmt: skip


# ---------------------------------------------------------------------------
# Filters


def test_filters_reject_inverted_and_empty_ranges():
    with pytest.raises(A.FilterError, match="inverted"):
        A.Filters(END, START)
    with pytest.raises(A.FilterError, match="empty"):
        A.Filters(START, START)
    with pytest.raises(A.FilterError, match="time zone"):
        A.Filters(START.replace(tzinfo=None), END)
    with pytest.raises(A.FilterError, match="bucket"):
        A.Filters(START, END, bucket="minute")
    with pytest.raises(A.FilterError, match="source"):
        A.Filters(START, END, sources=("email",))


def test_bucket_choice_and_week_starts_monday():
    assert A.choose_bucket(START, START + timedelta(days=2)) == "hour"
    assert A.choose_bucket(START, START + timedelta(days=30)) == "day"
    assert A.choose_bucket(START, START + timedelta(days=200)) == "week"
    assert A.Filters(START, START + timedelta(days=10)).bucket == "day"
    sunday = datetime(2026, 1, 11, 23, 0, tzinfo=UTC)
    assert A.bucket_start(sunday, "week") == datetime(2026, 1, 5, tzinfo=UTC)


# ---------------------------------------------------------------------------
# Latency


@pytest.mark.parametrize(("metric", "column"), [("ttft", 8), ("e2e", 9), ("tpot", 10)])
def test_latency_trend_matches_numpy_percentiles(db, metric, column):
    trend = A.latency_trend(db, F(), metric)
    assert len(trend) == 4  # 2 days × 2 models
    for row in trend.itertuples():
        values = ok_values(row.model, row.bucket, column)
        assert row.n == len(values)
        assert row.p50 == pytest.approx(np.percentile(values, 50))
        assert row.p95 == pytest.approx(np.percentile(values, 95))
        assert row.p99 == pytest.approx(np.percentile(values, 99))


def test_latency_table_and_tokens_per_second_definition(db):
    table = A.latency_table(db, F(), "tps").set_index("model")
    for model in ("m-a", "m-b"):
        rows = [r for r in EXCHANGES if r[2] == model and r[6] == "ok"]
        tps = [r[12] / (r[9] / 1000) for r in rows]
        got = table.loc[model]
        assert got["n"] == len(tps)
        assert got["mean"] == pytest.approx(np.mean(tps))
        for q in (50, 90, 95, 99):
            assert got[f"p{q}"] == pytest.approx(np.percentile(tps, q))


def test_volume_counts_errors_aborts_and_tokens(db):
    vol = A.volume_trend(db, F()).set_index(["bucket", "model"])
    day1_a = vol.loc[(pd.Timestamp(START), "m-a")]
    assert (day1_a.requests, day1_a.ok, day1_a.errors, day1_a.aborted) == (5, 3, 1, 1)
    assert day1_a.error_rate == pytest.approx(0.2) and day1_a.abort_rate == pytest.approx(0.2)
    assert day1_a.prompt_tokens == 50 + 60 + 70 + 40
    assert day1_a.completion_tokens == 101 * 3 + 31
    assert vol["requests"].sum() == len(EXCHANGES)


def test_filters_narrow_every_dimension(db):
    def requests(**kw) -> int:
        return int(A.volume_trend(db, F(**kw))["requests"].sum())

    assert requests(models=("m-b",)) == 5
    assert requests(users=(UA,)) == 7
    assert requests(sources=("arena",)) == 3
    assert requests(personas=(PT,)) == 4
    assert requests(personas=(A.NO_PERSONA,)) == 8
    assert requests(brief=True) == 4
    assert requests(brief=False) == 4
    assert requests(start=D2, end=END) == 5  # e6, e7, e10, e11, e12
    ttft = A.latency_table(db, F(users=(UB,)), "ttft").set_index("model")
    assert ttft.loc["m-a", "p50"] == pytest.approx(np.percentile([400, 300], 50))


def test_bucket_by_hour_and_week(db):
    hourly = A.volume_trend(db, F(bucket="hour"))
    assert set(hourly["bucket"]) == {pd.Timestamp(D1), pd.Timestamp(D2)}
    weekly = A.volume_trend(db, F(bucket="week"))
    assert set(weekly["bucket"]) == {pd.Timestamp(datetime(2026, 1, 5, tzinfo=UTC))}


# ---------------------------------------------------------------------------
# Signals


def test_thumbs_use_latest_per_exchange_and_split_by_model_persona_brief(db):
    s = S.signal_summary(db, F())
    model = s["model"].set_index(["bucket", "model"])
    day1_a = model.loc[(pd.Timestamp(START), "m-a")]
    # e1 changed to down, e2 up, e3 down → 1 of 3
    assert (day1_a.thumbs, day1_a.ups) == (3, 1)
    assert day1_a.up_rate == pytest.approx(1 / 3)
    lo, hi = P.wilson(np.array([1]), np.array([3]))
    assert (day1_a.up_lower, day1_a.up_upper) == pytest.approx((lo[0], hi[0]))
    assert day1_a.satisfaction == pytest.approx(np.mean([0.8, 0.6, 0.2]))
    sd = np.std([0.8, 0.6, 0.2], ddof=1)
    assert day1_a.sat_sd == pytest.approx(sd)
    half = 1.96 * sd / np.sqrt(3)
    assert (day1_a.satisfaction_lower, day1_a.satisfaction_upper) == pytest.approx(
        (np.mean([0.8, 0.6, 0.2]) - half, np.mean([0.8, 0.6, 0.2]) + half)
    )
    persona = s["persona"].set_index(["bucket", "persona"])
    assert persona.loc[(pd.Timestamp(START), "Tutor"), "up_rate"] == pytest.approx(1 / 2)
    assert persona.loc[(pd.Timestamp(START), P.NO_PERSONA_LABEL), "up_rate"] == pytest.approx(2 / 3)
    brief = s["brief"].set_index("brief")
    assert brief.loc[True, "up_rate"] == pytest.approx(2 / 3)  # e1 down, e2 up, e6 up
    assert brief.loc[False, "up_rate"] == pytest.approx(2 / 3)  # e3 down, e8 up, e9 up
    assert brief.loc[True, "satisfaction"] == pytest.approx(np.mean([0.8, 0.6, 0.9]))
    assert brief.loc[False, "satisfaction"] == pytest.approx(np.mean([0.2, 0.5]))
    overall = s["overall"].set_index("bucket")
    assert overall.loc[pd.Timestamp(START), "sentiment"] == pytest.approx(0.0)
    assert overall.loc[pd.Timestamp(START), "sent_n"] == 2
    assert overall.loc[pd.Timestamp(START), "sent_sd"] == pytest.approx(np.std([0.5, -0.5], ddof=1))


def test_signal_summary_follows_exchange_filters(db):
    s = S.signal_summary(db, F(models=("m-b",)))
    assert set(s["model"]["model"]) == {"m-b"}
    assert s["brief"].set_index("brief").loc[False, "thumbs"] == 2
    s = S.signal_summary(db, F(users=(UB,)))
    assert s["overall"]["thumbs"].sum() == 2  # e3, e9


def test_top_learned_counts_mentions_and_users(db):
    top = S.top_learned(db, F())
    rows = {(r.name, r.value): (r.mentions, r.users) for r in top.itertuples()}
    assert rows == {
        ("topic", "python"): (2, 1),
        ("topic", "math"): (1, 1),
        ("preference", "verbosity=concise"): (2, 1),
        ("preference", "tone=formal"): (1, 1),
    }
    assert S.top_learned(db, F(), limit=1).groupby("name").size().max() == 1
    by_model = S.top_learned(db, F(models=("m-b",)))  # through the exchange: e8, e9
    assert sorted(by_model["value"]) == ["tone=formal", "verbosity=concise"]
    assert list(S.top_learned(db, F(users=(UB,)))["value"]) == ["tone=formal", "math"]
    tutor = S.top_learned(db, F(personas=(PT,)))  # e1, e2
    assert {(r.value, r.mentions) for r in tutor.itertuples()} == {
        ("python", 2),
        ("verbosity=concise", 1),
    }
    no_persona = S.top_learned(db, F(personas=(A.NO_PERSONA,)))  # e3, e8, e9
    assert sorted(no_persona["value"]) == ["math", "tone=formal", "verbosity=concise"]
    assert sorted(S.top_learned(db, F(brief=False))["value"]) == sorted(no_persona["value"])
    assert S.top_learned(db, F(sources=("arena",))).empty


# ---------------------------------------------------------------------------
# Preferences


def battles_by_hand(kinds=("explicit",)) -> pd.DataFrame:
    rows = sorted((p for p in PREFERENCES if p[0] in kinds), key=lambda p: p[-1])
    return pd.DataFrame(
        {
            "model_a": [p[3] for p in rows],
            "model_b": [p[4] for p in rows],
            "winner": [p[9] for p in rows],
            "weight": [p[10] for p in rows],
        }
    )


def test_win_matrix_matches_ratings_module_and_hand_count(db):
    matrix = P.win_matrix(db, F()).set_index(["model", "opponent"])
    # m-a: win, loss, tie, loss → 1.5 of 4
    assert matrix.loc[("m-a", "m-b"), "win_rate"] == pytest.approx(0.375)
    assert matrix.loc[("m-b", "m-a"), "win_rate"] == pytest.approx(0.625)
    expected = ratings.win_rate_matrix(battles_by_hand())
    assert matrix.loc[("m-a", "m-b"), "win_rate"] == pytest.approx(expected.loc["m-a", "m-b"])
    with_implicit = P.win_matrix(db, F(), implicit=True).set_index(["model", "opponent"])
    assert with_implicit.loc[("m-a", "m-b"), "win_rate"] == pytest.approx(2.0 / 4.5)


def test_leaderboard_and_rating_trend_refit_per_period(db):
    prefs = P.preference_counts(db, F(), "day")
    explicit = P.select_kinds(prefs, implicit=False)
    board = P.leaderboard(explicit.drop(columns=["bucket"]))
    expected = ratings.leaderboard(battles_by_hand(), rounds=100, seed=0)
    pd.testing.assert_frame_equal(board, expected)
    trend = P.rating_trend(explicit).set_index(["bucket", "model"])
    day2 = battles_by_hand().iloc[1:]  # the vote of day 1 comes first in time
    fit = ratings.bootstrap_ratings(day2, rounds=50, seed=0)
    assert trend.loc[(pd.Timestamp(D2.date(), tz=UTC), "m-a"), "rating"] == pytest.approx(
        fit.loc["m-a", "rating"]
    )
    assert trend.loc[(pd.Timestamp(D2.date(), tz=UTC), "m-a"), "votes"] == 3
    assert P.select_kinds(prefs, implicit=True)["n"].sum() == 5


def test_preference_counts_stand_for_identical_votes(db):
    """Each explicit vote cast twice: one row per distinct vote with n = 2, same figures as
    the row-level battles."""
    rows = db.records("SELECT * FROM preferences WHERE kind = 'explicit'")
    names = list(rows[0])
    for row in rows:  # the same rows again under new ids (SQL both engines accept)
        db.execute(
            f"INSERT INTO preferences ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [row["id"] + "-again" if name == "id" else row[name] for name in names],
        )
    prefs = P.preference_counts(db, F(), "day")
    # Sorted by bucket, model_a, model_b, winner: day 1's implicit "a" comes before its "b".
    assert prefs["n"].tolist() == [1, 2, 2, 2, 2]
    explicit = P.select_kinds(prefs, implicit=False)
    twice = pd.concat([battles_by_hand()] * 2, ignore_index=True)
    expected = ratings.leaderboard(twice, rounds=100, seed=0)
    pd.testing.assert_frame_equal(P.leaderboard(explicit.drop(columns=["bucket"])), expected)
    trend = P.rating_trend(explicit).set_index(["bucket", "model"])
    assert trend.loc[(pd.Timestamp(D2.date(), tz=UTC), "m-a"), "votes"] == 6


def test_position_bias_and_latency_preference_by_hand(db):
    bias = P.position_bias(db, F()).set_index("kind")
    assert bias.loc["explicit", "n"] == 4
    assert bias.loc["explicit", "left_win_rate"] == pytest.approx(1.5 / 4)
    gaps = P.latency_preference(db, F()).set_index("gap")
    assert gaps.loc["100–250 ms", "n"] == 3  # e7 vs e10, three votes, 200 ms apart
    assert gaps.loc["100–250 ms", "faster_win_rate"] == pytest.approx(1.5 / 3)
    assert gaps.loc["< 100 ms", "faster_win_rate"] == pytest.approx(1.0)  # implicit e2 vs e8
    assert list(gaps["order"]) == sorted(gaps["order"])


def test_preference_filters(db):
    def votes(f: A.Filters) -> int:
        return int(P.preference_counts(db, f)["n"].sum())

    assert votes(F(users=(UA,))) == 2
    assert votes(F(sources=("chat",))) == 1
    assert votes(F(models=("m-a",))) == 0  # both sides must be selected
    assert votes(F(personas=(PT,))) == 0  # e8 has no persona
    assert votes(F(brief=False)) == 0
    assert P.rating_period(F(start=START, end=START + timedelta(days=60))) == "week"


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_database_gives_empty_frames(engine, request, tmp_path):
    target = store_target(engine, request, tmp_path)
    db = Database(target, local_base=tmp_path) if isinstance(target, str) else Database(target)
    migrate(db)
    f = F()
    assert A.volume_trend(db, f).empty and A.latency_trend(db, f, "ttft").empty
    assert all(df.empty for df in S.signal_summary(db, f).values())
    assert P.win_matrix(db, f).empty and P.position_bias(db, f).empty
    assert P.latency_preference(db, f).empty and S.top_learned(db, f).empty
    assert P.rating_trend(P.preference_counts(db, f)).empty
    assert A.data_range(db) is None and not A.has_rows(db, "preferences")
    db.close()


# ---------------------------------------------------------------------------
# Drill-down and export


def test_drill_down_lists_the_exchanges_behind_a_point(db):
    rows = D.exchange_list(db, F(), model="m-a", bucket_start=START)
    assert list(rows["id"]) == [xid(n) for n in (5, 4, 3, 2, 1)]  # newest first
    assert list(D.exchange_list(db, F(), status="error")["id"]) == [xid(11), xid(4)]
    assert set(D.exchange_list(db, F(users=(UA,)))["user"]) == {"alice"}


def test_exchange_detail_has_request_signals_and_respects_users(db):
    detail = D.exchange_detail(db, xid(1))
    assert detail.request == [{"role": "user", "content": "question 1"}]
    assert detail.params == {"temperature": 0.7}
    assert detail.row["response_text"] == "A1" and detail.row["persona_name"] == "Tutor"
    assert len(detail.signals) == 7  # 2 thumbs, 4 observer, 1 heuristic
    assert D.exchange_detail(db, xid(1), (UB,)) is None  # bob cannot open alice's
    assert D.exchange_detail(db, "'; DROP TABLE exchanges; --") is None
    assert D.exchange_detail(db, xid(999)) is None


def test_exports_round_trip(db):
    f = F(models=("m-a",))
    table = D.export_table(db, "exchanges", f)
    assert sorted(table["id"].to_pylist()) == [xid(n) for n in range(1, 8)]
    back = pq.read_table(io.BytesIO(D.to_parquet(table)))
    assert back.equals(table)
    csv = pd.read_csv(io.BytesIO(D.to_csv(table)))
    assert sorted(csv["id"]) == sorted(table["id"].to_pylist())
    assert csv["ttft_ms"].sum() == pytest.approx(100 + 200 + 400 + 150 + 120 + 300)
    signals = D.export_table(db, "signals", f)
    assert signals.num_rows == len([s for s in SIGNALS if s[0] <= 7])
    votes = D.export_table(db, "preferences", F())
    assert votes.num_rows == 5
    with pytest.raises(ValueError, match="Unknown export"):
        D.export_table(db, "users", f)


def test_answers_the_server_cut_off_count_in_volume_not_in_latency(db):
    # vLLM ended it (finish_reason abort or repetition): a huge TTFT that must not count.
    db.execute(
        """INSERT INTO exchanges (id, user_id, model, source, status, error_kind, started_at,
               ttft_ms, e2e_ms, tpot_ms, prompt_tokens, completion_tokens, finish_reason)
           VALUES (?, ?, 'm-a', 'chat', 'cut_off', 'server_abort', ?, 99999, 99999, 99, 10, 5,
                   'abort')""",
        [xid(99), UA, D1 + timedelta(minutes=8)],
    )
    vol = A.volume_trend(db, F()).set_index(["bucket", "model"])
    day1_a = vol.loc[(pd.Timestamp(START), "m-a")]
    assert (day1_a.requests, day1_a.ok, day1_a.cut_off, day1_a.errors) == (6, 3, 1, 1)
    table = A.latency_table(db, F(), "ttft").set_index("model")
    assert table.loc["m-a", "n"] == len(ok_values("m-a", D1, 8)) + len(ok_values("m-a", D2, 8))
    assert table.loc["m-a", "p99"] < 99999


def test_ttft_breakdown_adds_up_to_the_client_ttft_where_the_server_reported(db):
    # Two ok answers of m-b with the server's timings; the other answers have none (NULL).
    rows = [(101, 250.0, 40.0, 150.0), (102, 350.0, 120.0, 160.0)]
    for n, ttft, queue, prefill in rows:
        db.execute(
            """INSERT INTO exchanges (id, user_id, model, source, status, started_at, ttft_ms,
                   e2e_ms, server_queue_ms, server_ttft_ms)
               VALUES (?, ?, 'm-b', 'chat', 'ok', ?, ?, ?, ?, ?)""",
            [xid(n), UA, D1 + timedelta(minutes=9), ttft, ttft + 500, queue, prefill],
        )
    parts = A.ttft_breakdown(db, F()).set_index("model")
    assert list(parts.index) == ["m-b"]  # m-a's answers carry no server timings
    got = parts.loc["m-b"]
    assert got.n == 2
    assert got.queue_ms == pytest.approx(80.0) and got.prefill_ms == pytest.approx(155.0)
    assert got.between_ms == pytest.approx(np.mean([250 - 40 - 150, 350 - 120 - 160]))
    assert got.queue_ms + got.prefill_ms + got.between_ms == pytest.approx(got.ttft_ms)
    assert got.ttft_ms == pytest.approx(300.0)
