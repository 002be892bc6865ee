"""A simulator per test module, driven over loopback by the real openai client."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from aeries.sim import SimConfig, SimServer
from tests.sim.helpers import FAST


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    sim = SimServer(SimConfig(**FAST)).start()
    yield sim
    sim.stop()


@pytest.fixture
def live(server: SimServer) -> SimServer:
    """The module's server with a fresh config and zeroed counters."""
    server.wait_for(lambda s: s.running == 0)
    server.config = SimConfig(**FAST)
    server.reset_stats()
    return server


@pytest.fixture
def client(live: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.base_url, api_key="x", max_retries=0, timeout=5)
