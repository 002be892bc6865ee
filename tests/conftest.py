"""Shared fixtures: a simulator on loopback, temporary databases, AppTest with a fresh runtime."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aeries.config import load_settings
from aeries.runtime import Runtime, build_runtime
from aeries.sim import SimConfig, SimServer
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.writer import Writer
from tests.helpers import ROOT
from tests.pg import pg_migrated_template, pg_migrated_url, pg_server, pg_url  # noqa: F401

FAST = {
    "ttft_ms": 20.0,
    "itl_ms": 2.0,
    "tokens": 30,
    "fault": None,
    "reply": None,
    "health_ok": True,
    "fault_after": 5,
    "reasoning_tokens": 10,
    "seed": 0,
}


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    """One simulator for the whole run (fast latencies)."""
    server = SimServer(SimConfig(**FAST)).start()
    import httpx2

    # The server's first chat request pays one-time costs; keep them out of timing tests.
    httpx2.post(
        f"{server.base_url}/chat/completions",
        timeout=10,
        json={"model": "sim-llama-3.1-8b", "messages": [{"role": "user", "content": "hi"}]},
    )
    yield server
    server.stop()


@pytest.fixture
def sim(sim_server: SimServer) -> Iterator[SimServer]:
    """The shared simulator with default knobs and zeroed counters for this test."""
    for key, value in FAST.items():
        setattr(sim_server.config, key, value)
    sim_server.reset_stats()
    yield sim_server
    for key, value in FAST.items():
        setattr(sim_server.config, key, value)


# The page suite runs on one engine per pytest run: DuckDB by default, PostgreSQL with
# AERIES_TEST_STORE=postgres (scripts/test.sh runs the store-facing pages both ways).
PAGE_STORE = os.environ.get("AERIES_TEST_STORE", "duckdb")


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sim: SimServer,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """Environment pointing Aeries at the simulator and a temporary store (a DuckDB file, or
    a fresh PostgreSQL database when AERIES_TEST_STORE=postgres)."""
    if PAGE_STORE == "postgres":
        target = request.getfixturevalue("pg_migrated_url")
    else:
        target = str(tmp_path / "aeries.duckdb")
    values = {"AERIES_BASE_URL": sim.base_url, "AERIES_DB": target}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.fixture(params=("duckdb", "postgres"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, Writer]]:
    """A migrated temporary store and its background writer, on each engine in turn."""
    if request.param == "postgres":
        db = Database(request.getfixturevalue("pg_migrated_url"), local_base=tmp_path / "pg")
    else:
        db = Database(tmp_path / "store.duckdb")
        migrate(db)
    writer = Writer(db)
    yield db, writer
    writer.close()
    db.close()


@pytest.fixture
def runtime(env: dict[str, str]) -> Iterator[Runtime]:
    """A runtime (database + writer + clients) outside Streamlit."""
    rt = build_runtime(load_settings(secrets={}))
    yield rt
    rt.close()


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Callable[..., object]]:
    """Factory for AppTest instances of app.py, with the cached runtime cleared around each."""
    from streamlit.testing.v1 import AppTest

    from aeries.ui.resources import clear_runtime

    clear_runtime()

    def make(query: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at

    yield make
    clear_runtime()
