"""``aeries serve --workers 2`` on one PostgreSQL store, as a study runs it: every worker serves
the same participants (a personal link made once works on whichever worker a browser lands
on), and ``--local-store`` runs a cluster of its own for the lifetime of the command."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeries.auth import name_key, participant_token
from aeries.auth.tokens import load_or_create_key
from aeries.serve.nginx import COOKIE
from aeries.serve.process import pid_alive
from aeries.serve.workers import free_port
from aeries.sim import SimServer
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.users import create_account
from tests.serve.helpers import (
    PageSession,
    alive,
    descendants,
    request,
    start_serve,
    stop_serve,
    worker_env,
)
from tests.serve.helpers import (
    run as run_coroutine,
)

pytestmark = pytest.mark.timeout(120)

SECRET = "serve tests: one signing secret for every worker"  # AERIES_SECRET, 32+ characters


def _cookie_for(port: int, worker: int) -> str:
    """The proxy's cookie of a new browser that nginx put on ``worker``."""
    for _ in range(200):
        reply = request(port, "/_stcore/health")
        cookie = reply.cookie(COOKIE)
        if reply.worker == str(worker) and cookie:
            return cookie
    raise AssertionError(f"no new browser landed on worker {worker} in 200 tries")


def _personal_link(url: str, name: str) -> str:
    """The ``?p=`` token a researcher hands out, made in the shared store directly."""
    db = Database(url)
    try:
        migrate(db)
        account = create_account(db, name, name_key(name), "invite")
    finally:
        db.close()
    key = load_or_create_key(Path("unused.key"), SECRET)  # derived from AERIES_SECRET
    return participant_token(key, account.id, account.link_epoch)


def test_every_worker_accepts_a_link_made_once_on_the_shared_store(
    sim_server: SimServer, pg_url: str
) -> None:
    port = free_port()
    env = worker_env(AERIES_BASE_URL=sim_server.base_url, AERIES_SECRET=SECRET)
    run = start_serve(["--workers", "2", "--port", str(port), "--store", pg_url], env)
    family = descendants(run.proc.pid)
    try:
        assert run.proc.poll() is None, run.stderr()
        assert f"store: postgresql://127.0.0.1:{pg_url.rsplit(':', 1)[1]}" in "\n".join(run.lines)
        token = _personal_link(pg_url, "P017")

        async def open_on(worker: int) -> PageSession:
            async with PageSession(f"http://127.0.0.1:{port}", _cookie_for(port, worker)) as page:
                assert page.worker == str(worker)
                await page.open(f"p={token}")  # fails unless the chat page (signed in) shows
                return page

        async def both() -> list[PageSession]:
            return list(await asyncio.gather(open_on(0), open_on(1)))

        for page in run_coroutine(both()):
            assert not page.errors
            assert "Welcome to Aeries" not in page.texts
    finally:
        code = stop_serve(run)
    assert code == 0, run.stderr()
    assert alive(family) == []


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder the cluster's unprivileged user can enter (pytest's own are closed to it)."""
    path = Path(tempfile.mkdtemp(prefix="aeries-serve-pg-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_local_store_runs_a_cluster_for_the_run_and_stops_it(
    sim_server: SimServer, reachable_dir: Path
) -> None:
    data_dir = reachable_dir / "postgres"
    port = free_port()
    env = worker_env(AERIES_BASE_URL=sim_server.base_url, AERIES_SECRET=SECRET)
    run = start_serve(["--workers", "2", "--port", str(port), "--local-store", str(data_dir)], env)
    family = descendants(run.proc.pid)
    try:
        assert run.proc.poll() is None, run.stderr()
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        assert pid_alive(postmaster)

        async def start_page(worker: int) -> PageSession:
            async with PageSession(f"http://127.0.0.1:{port}", _cookie_for(port, worker)) as page:
                await page.load()
                return page

        for worker in (0, 1):
            page = run_coroutine(start_page(worker))
            assert not page.errors and "Welcome to Aeries" in page.texts
    finally:
        code = stop_serve(run)
    assert code == 0, run.stderr()
    assert alive([*family, postmaster]) == []
    assert not (data_dir / "postmaster.pid").exists()  # stopped cleanly, not abandoned
    assert (data_dir / "PG_VERSION").is_file()  # the cluster stays for the next run
