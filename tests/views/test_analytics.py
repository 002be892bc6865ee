"""The analytics page through AppTest: chart data read back from the Vega-Lite protos and checked
against values computed by hand from the database built in tests/analytics/test_analytics.py,
on a DuckDB file and on a PostgreSQL store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from aeries import ratings
from aeries.auth import hash_secret
from aeries.config import load_settings
from aeries.store import replica
from aeries.store.db import Database
from aeries.ui.analytics.latency import PICK
from aeries.ui.text import literal
from tests.analytics.test_analytics import (
    D2,
    EXCHANGES,
    SIGNALS,
    UB,
    battles_by_hand,
    build_db,
    ok_values,
    xid,
)
from tests.helpers import ROOT
from tests.test_snapshot import holding

PAGE = str(ROOT / "views" / "analytics.py")
DAYS = {"from": "2026-01-05", "to": "2026-01-06", "bucket": "day"}


class Page:
    """Factory of AppTest runs of the analytics page on one fresh store (model server down):
    ``page(query, data=…, script=…)``; ``target`` is the store (a file, or a URL)."""

    def __init__(self, engine: str, target: str | Path, tmp_path: Path) -> None:
        self.engine, self.target, self.tmp_path = engine, target, tmp_path
        self.built = False

    def __call__(self, query: dict | None = None, *, data: str | None = "full", script=PAGE):
        made = self.built or (self.engine == "duckdb" and Path(self.target).exists())
        if data and not made:
            base = self.tmp_path if self.engine == "postgres" else None
            build_db(self.target, votes=data == "full", observer=data == "full", local_base=base)
            self.built = True
        at = AppTest.from_file(script, default_timeout=30)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at.run()

    def open(self) -> Database:
        """The store, opened by the test (as another part of the app would)."""
        if self.engine == "postgres":
            return Database(str(self.target), local_base=self.tmp_path)
        return Database(self.target)


@pytest.fixture(params=("duckdb", "postgres"))
def page(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Page]:
    """The page on a DuckDB file, then on a PostgreSQL store (read through the analytics
    replica, refreshed on every read here)."""
    import streamlit as st

    from aeries.ui.resources import clear_runtime

    if request.param == "postgres":
        target: str | Path = request.getfixturevalue("pg_migrated_url")
    else:
        target = tmp_path / "aeries.duckdb"
    monkeypatch.setattr(replica, "REFRESH_S", 0.0)
    monkeypatch.setattr(replica, "COST_FACTOR", 0.0)
    monkeypatch.setenv("AERIES_DB", str(target))
    monkeypatch.setenv("AERIES_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.chdir(tmp_path)
    clear_runtime()
    st.cache_data.clear()
    yield Page(request.param, target, tmp_path)
    clear_runtime()
    st.cache_data.clear()


def charts(at: AppTest) -> dict[str, pd.DataFrame]:
    """chart_id → the chart's main dataset, decoded from the Arrow IPC bytes in the proto."""
    out = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        frames = [
            pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in element.proto.datasets
        ]
        out[spec["usermeta"]["chart_id"]] = max(frames, key=len)
    return out


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---------------------------------------------------------------------------
# Chart data equals hand-computed numbers


def test_latency_charts_match_numpy_percentiles(page):
    at = ok(page(DAYS))
    data = charts(at)
    ttft = data["latency_ttft"]
    assert len(ttft) == 8  # 2 days × 2 models × (p50, p95)
    for row in ttft.itertuples():
        values = ok_values(row.model, row.bucket, 8)
        q = 50 if row.stat == "p50" else 95
        assert row.value == pytest.approx(np.percentile(values, q))
        assert row.n == len(values)
    e2e = data["latency_e2e"].query("stat == 'p95'")
    assert set(e2e["model"]) == {"m-a", "m-b"}
    table = table_with(at, "metric").set_index(["model", "metric"])
    ttft_ok = [r[8] for r in EXCHANGES if r[2] == "m-a" and r[6] == "ok"]
    assert table.loc[("m-a", "Time to first token (ms)"), "p99"] == pytest.approx(
        np.percentile(ttft_ok, 99)
    )
    helps = " ".join(m.proto.help for m in at.markdown)
    assert "completion_tokens / (e2e_ms / 1000)" in helps  # tokens/s defined in a tooltip
    volume = data["volume"].set_index(["bucket", "model"])
    assert volume["requests"].sum() == len(EXCHANGES)
    errors = data["error_rate"].set_index(["bucket", "model"])
    assert errors.loc[(pd.Timestamp("2026-01-05", tz="UTC"), "m-a"), "error_rate"] == 0.2
    aborts = data["abort_rate"].set_index(["bucket", "model"])
    assert aborts.loc[(pd.Timestamp("2026-01-05", tz="UTC"), "m-a"), "abort_rate"] == 0.2
    tokens = data["completion_tokens"].set_index(["bucket", "model"])
    assert tokens.loc[(pd.Timestamp("2026-01-05", tz="UTC"), "m-b"), "completion_tokens"] == 202


def test_the_first_token_wait_is_split_where_the_server_sent_its_timings(page, tmp_path):
    at = ok(page(DAYS))
    assert "ttft_parts" not in charts(at)  # the hand-built rows carry no server timings
    assert "--enable-per-request-metrics" in texts(at.caption)
    db = page.open()
    for n, ttft, queue, prefill in [(201, 300.0, 100.0, 150.0), (202, 200.0, 20.0, 130.0)]:
        db.execute(
            """INSERT INTO exchanges (id, user_id, model, source, status, started_at, ttft_ms,
                   e2e_ms, server_queue_ms, server_ttft_ms)
               VALUES (?, ?, 'm-b', 'chat', 'ok', ?, ?, ?, ?, ?)""",
            [xid(n), UB, D2, ttft, ttft + 400, queue, prefill],
        )
    db.close()
    import streamlit as st

    st.cache_data.clear()
    parts = charts(ok(page(DAYS)))["ttft_parts"].set_index("variable")
    assert set(parts["model"]) == {"m-b"}
    assert parts.loc["queue_ms", "value"] == pytest.approx(60.0)
    assert parts.loc["prefill_ms", "value"] == pytest.approx(140.0)
    assert parts.loc["between_ms", "value"] == pytest.approx(50.0)
    assert parts["value"].sum() == pytest.approx(250.0)  # the mean client TTFT


def test_arena_charts_match_hand_counts_and_ratings(page):
    at = ok(page({**DAYS, "view": "Arena"}))
    data = charts(at)
    matrix = data["win_matrix"].set_index(["model", "opponent"])
    assert matrix.loc[("m-a", "m-b"), "win_rate"] == pytest.approx(1.5 / 4)
    bias = data["position_bias"].set_index("kind")
    assert bias.loc["explicit", "left_win_rate"] == pytest.approx(1.5 / 4)
    gaps = data["latency_preference"].set_index("gap")
    assert gaps.loc["100–250 ms", "faster_win_rate"] == pytest.approx(0.5)
    assert "< 100 ms" not in gaps.index  # the implicit pair is left out by default
    board = table_with(at, "rating")
    expected = ratings.leaderboard(battles_by_hand(), rounds=100, seed=0)
    assert list(board["model"]) == list(expected["model"])
    assert board["rating"].to_numpy() == pytest.approx(expected["rating"].to_numpy())
    trend = data["rating_trend"].set_index(["bucket", "model"])
    day2 = ratings.bootstrap_ratings(battles_by_hand().iloc[1:], rounds=50, seed=0)
    got = trend.loc[(pd.Timestamp(D2.date(), tz="UTC"), "m-b")]
    assert (got["rating"], got["lower"], got["upper"]) == pytest.approx(
        tuple(day2.loc["m-b", ["rating", "lower", "upper"]])
    )
    at.toggle(key="an.implicit").set_value(True).run()
    gaps = charts(ok(at))["latency_preference"].set_index("gap")
    assert gaps.loc["< 100 ms", "faster_win_rate"] == pytest.approx(1.0)


def test_feedback_charts_match_hand_counts(page):
    at = ok(page({**DAYS, "view": "Feedback"}))
    data = charts(at)
    thumbs = data["thumbs_model"].set_index(["bucket", "model"])
    assert thumbs.loc[(pd.Timestamp("2026-01-05", tz="UTC"), "m-a"), "up_rate"] == pytest.approx(
        1 / 3
    )  # e1 changed to down, e2 up, e3 down
    persona = data["thumbs_persona"].set_index(["bucket", "persona"])
    assert persona.loc[(pd.Timestamp("2026-01-06", tz="UTC"), "Tutor"), "up_rate"] == 1.0
    brief = data["brief_satisfaction"].set_index("brief")
    assert brief.loc["Brief on", "satisfaction"] == pytest.approx(np.mean([0.8, 0.6, 0.9]))
    assert brief.loc["Brief off", "satisfaction"] == pytest.approx(np.mean([0.2, 0.5]))
    assert data["brief_thumbs"].set_index("brief").loc["Brief on", "up_rate"] == pytest.approx(
        2 / 3
    )
    observer = data["observer_trend"].set_index(["bucket", "signal"])
    day1 = pd.Timestamp("2026-01-05", tz="UTC")
    assert observer.loc[(day1, "sentiment"), "value"] == pytest.approx(0.0)
    topics = table_with(at, "mentions")
    assert topics["mentions"].max() == 2


# ---------------------------------------------------------------------------
# Filters


def test_filters_from_the_url_change_the_data(page):
    at = ok(page({**DAYS, "model": "m-b"}))
    assert set(charts(at)["latency_ttft"]["model"]) == {"m-b"}
    assert charts(at)["volume"]["requests"].sum() == 5
    at.multiselect(key="model").set_value(["m-a"]).run()
    assert set(charts(ok(at))["latency_ttft"]["model"]) == {"m-a"}
    at = ok(page({**DAYS, "source": "arena"}))
    assert charts(at)["volume"]["requests"].sum() == 3
    at = ok(page({**DAYS, "view": "Feedback", "brief": "on"}))
    assert set(charts(at)["brief_thumbs"]["brief"]) == {"Brief on"}


def _bobs_link(tmp_path: Path) -> dict[str, str]:
    from aeries.auth import load_or_create_key, participant_token

    key = load_or_create_key(load_settings(secrets={}).key_path)  # the store's own key file
    return {"p": participant_token(key, UB, 0)}


def test_a_participant_gets_no_analytics_at_all(page, tmp_path, monkeypatch):
    """Analytics and its exports are for researchers: a participant's link (or a bare name,
    which signs nobody in) opens no chart, table, drill-down or download, not even of their
    own rows."""
    monkeypatch.setattr("aeries.ui.identity.is_local", lambda rt: False)
    monkeypatch.setenv("AERIES_RESEARCHER_SECRET_HASH", hash_secret("a long enough secret"))
    for query in (
        _bobs_link(tmp_path),
        {"u": "bob"},
        {**_bobs_link(tmp_path), "view": "Drill-down", "exchange": xid(1)},
        {**_bobs_link(tmp_path), "view": "Export"},
    ):
        at = ok(page({**DAYS, **query}))
        assert not charts(at) and not at.dataframe and not at.get("download_button")
        assert "for researchers" in texts(at.error) or "Sign in" in texts(at.info)


def test_the_researcher_sees_every_participant(page):
    at = ok(page(DAYS))
    assert charts(at)["volume"]["requests"].sum() == len(EXCHANGES)
    assert [m for m in at.multiselect if m.label == "Users"]


# ---------------------------------------------------------------------------
# Empty states and bad input


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("Latency", "No exchanges match"),
        ("Arena", "No arena votes yet"),
        ("Feedback", "No thumbs"),
        ("Drill-down", "No exchanges match"),
    ],
)
def test_empty_database_shows_empty_states(page, view, expected):
    at = ok(page({"view": view}, data=None))
    assert expected in texts(at.info)
    assert not at.get("vega_lite_chart")


def test_chat_only_database_says_what_does_not_exist_yet(page):
    at = ok(page({**DAYS, "view": "Arena"}, data="chat"))
    assert "No arena votes yet" in texts(at.info)
    at = ok(page({**DAYS, "view": "Feedback"}, data="chat"))
    assert "No observer signals" in texts(at.info)
    assert "thumbs_model" in charts(at)


def test_inverted_and_empty_ranges_are_explained(page):
    at = ok(page({"from": "2026-01-06", "to": "2026-01-01"}))
    assert "inverted" in texts(at.error)
    assert not at.get("vega_lite_chart")
    at.date_input(key="to").set_value(None).run()
    assert "empty" in texts(ok(at).error)


def test_unknown_model_and_bad_values_in_the_link_are_explained(page):
    at = ok(page({**DAYS, "model": ["m-a", "gpt-9"], "bucket": "fortnight", "from": "2026-01-05"}))
    warning = texts(at.warning)
    assert literal("gpt-9") in warning and literal("m-a") in warning and "fortnight" in warning
    assert set(charts(at)["latency_ttft"]["model"]) == {"m-a"}


@pytest.mark.parametrize(
    "crafted",
    [
        "![x](http://127.0.0.1:9/leak)",
        "a` ![x](http://127.0.0.1:9/leak) `b",
        "[![i](http://x/y)](z)",
    ],
)
def test_values_reflected_from_the_link_cannot_inject_markdown(page, crafted):
    """The warning quotes the unknown value: literally, so a crafted link cannot make the
    researcher's browser fetch an image (or show a link) of the attacker's choosing."""
    from markdown_it import MarkdownIt

    at = ok(page({**DAYS, "model": crafted, "persona": crafted, "to": crafted}))
    for warning in at.warning:
        tokens = MarkdownIt("commonmark").parseInline(warning.value)
        kinds = {child.type for token in tokens for child in token.children or []}
        assert "image" not in kinds and "link_open" not in kinds, warning.value


@pytest.mark.parametrize("page", ["duckdb"], indirect=True)  # a DuckDB file's lock
def test_locked_database_is_explained(page, tmp_path):
    path = tmp_path / "aeries.duckdb"
    build_db(path).close()
    with holding(path):
        at = page(DAYS)
    assert not at.exception
    assert "locked by another program" in texts(at.error)


# ---------------------------------------------------------------------------
# Drill-down, export, navigation


def test_drill_down_from_model_and_day_to_one_exchange(page):
    at = ok(page({**DAYS, "view": "Drill-down"}))
    at.selectbox(key="an.drill.model").set_value("m-a").run()
    at.selectbox(key="an.drill.bucket").select_index(2).run()  # newest first: 2026-01-05
    rows = ok(at).dataframe[0].value
    assert len(rows) == 5 and set(rows["model"]) == {"m-a"}
    at.selectbox(key="an.drill.pick").set_value(xid(1)).run()
    ok(at)
    assert [{"role": "user", "content": "question 1"}] in [json.loads(j.value) for j in at.json]
    assert "A1" in texts(at.markdown)
    signals = at.dataframe[-1].value
    assert sorted(signals["name"]) == sorted(s[2] for s in SIGNALS if s[0] == 1)


def test_click_on_a_requests_bar_opens_its_exchanges(page):
    from aeries.ui.analytics.drill import drill_target

    day1 = datetime(2026, 1, 5, tzinfo=UTC)
    assert drill_target([{"bucket": day1.timestamp() * 1000, "model": "m-b"}]) == ("m-b", day1)
    assert drill_target([{"bucket": "2026-01-05T00:00:00", "model": "m-b"}]) == ("m-b", day1)
    assert drill_target([{"model": "m-b"}, {"bucket": "soon", "model": "x"}]) is None
    at = ok(page(DAYS))
    volume = next(c for c in at.get("vega_lite_chart") if '"volume"' in c.proto.spec)
    assert list(volume.proto.selection_mode) == [PICK]  # clicks rerun with the picked bar
    # What the click callback (open_drill) sets; AppTest cannot click a Vega-Lite mark.
    at.session_state["an.drill.model"] = "m-b"
    at.session_state["an.drill.bucket"] = day1
    at.session_state["view"] = "Drill-down"
    rows = ok(at.run()).dataframe[0].value
    assert set(rows["model"]) == {"m-b"} and sorted(rows["ttft_ms"]) == [250, 350]  # e8, e9


def test_export_tab_offers_csv_and_parquet(page):
    at = ok(page({**DAYS, "view": "Export"}))
    labels = [b.proto.label for b in at.get("download_button")]
    for what in ("exchanges", "signals", "votes", "preferences"):
        assert f"{what}.csv" in labels and f"{what}.parquet" in labels


def test_page_is_in_the_navigation(page):
    at = page(data="full", script=str(ROOT / "app.py"))
    at.switch_page("views/analytics.py").run()
    ok(at)
    assert [t.value for t in at.title] == ["Analytics"]
    assert "No exchanges match" in texts(at.info)  # the default range (last 30 days) is empty
