"""The Analytics page's check of the observer against people: the agreement table per
version, and the mark on the observer's charts for a version below the researcher's
threshold (raised or lowered on the page)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from aeries.config import load_settings
from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.facts import rebuild_facts
from aeries.store.migrations import migrate
from tests.annotation.planted import add_signal, plant_observer_check
from tests.helpers import ROOT

PAGE = str(ROOT / "views" / "analytics.py")


@pytest.fixture
def store(env):
    """The app's store, opened by the test (as another part of the app would)."""
    import streamlit as st

    from aeries.ui.resources import clear_runtime

    clear_runtime()
    st.cache_data.clear()
    db = Database(load_settings(secrets={}).store_target)
    migrate(db)
    yield db
    db.close()
    clear_runtime()
    st.cache_data.clear()


def _page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _texts(at, kind: str) -> str:
    return " ".join(e.value for e in getattr(at, kind))


def _answers(db: Database, n: int) -> None:
    """Chat exchanges x00 … for the page to have a period (the planted signals are on them)."""
    for i in range(n):
        db.execute(
            "INSERT INTO exchanges (id, source, model, status, response_text, started_at) "
            "VALUES (?, 'chat', 'm-a', 'ok', 'an answer', ?)",
            [f"x{i:02d}", utcnow() - timedelta(hours=2)],
        )


def test_the_feedback_tab_shows_each_version_against_people_and_marks_the_poor_one(store):
    _answers(store, 40)
    plant_observer_check(store, at=utcnow() - timedelta(hours=1))
    rebuild_facts(store)  # the charts read the derived tables the writer keeps in step
    at = _page({"view": "Feedback", "range": "7d"})
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "trusted" in d.value.columns)
    rows = table.set_index(["item_key", "version"])
    assert rows.loc[("satisfied", "v1"), "alpha"] > 0.8
    assert bool(rows.loc[("satisfied", "v1"), "trusted"])
    assert not bool(rows.loc[("satisfied", "v2"), "trusted"])
    warning = _texts(at, "warning")
    assert "below the trust threshold" in warning and "`v2`" in warning and "`v1`" not in warning
    # A researcher who trusts nothing below 0.99 sees v1 marked too; at 0 only a version that
    # agreed with people less than chance (α < 0) still is.
    at.slider(key="analytics.observer_trust").set_value(0.99).run()
    assert "`v1`" in _texts(at, "warning")
    at.slider(key="analytics.observer_trust").set_value(0.0).run()
    assert "`v1`" not in _texts(at, "warning")


def test_without_any_check_the_tab_says_how_to_make_one(store):
    _answers(store, 1)
    add_signal(store, "x00", "satisfaction", 0.5, "v1", utcnow() - timedelta(hours=1))
    rebuild_facts(store)
    at = _page({"view": "Feedback", "range": "7d"})
    assert not at.exception, [e.value for e in at.exception]
    assert "has not been checked against people yet" in _texts(at, "info")
    assert "Not yet checked against people" in " ".join(c.value for c in at.caption)
