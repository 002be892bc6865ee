"""``aeries serve`` as people run it: a subprocess that starts a worker and nginx, stops them all
on SIGTERM, stops them all when one dies, and refuses what cannot work with a clear message."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aeries.config import DEFAULT_DB, read_secrets
from aeries.serve import resolve_store
from aeries.serve.nginx import COOKIE
from aeries.serve.workers import free_port
from aeries.sim import SimServer
from tests.serve.helpers import (
    ROOT,
    ServeRun,
    alive,
    descendants,
    listening,
    request,
    start_serve,
    stop_serve,
    worker_env,
)

pytestmark = pytest.mark.timeout(90)


def _serve_once(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``aeries serve`` expecting it to refuse at once."""
    return subprocess.run(
        [sys.executable, "-m", "aeries", "serve", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _started(tmp_path: Path, sim: SimServer) -> tuple[ServeRun, int, list[int]]:
    """``aeries serve --workers 1`` on a DuckDB file: the run, its port, every process below it."""
    port = free_port()
    env = worker_env(AERIES_BASE_URL=sim.base_url)
    run = start_serve(["--port", str(port), "--store", str(tmp_path / "one.duckdb")], env)
    assert run.proc.poll() is None, run.stderr()
    reply = request(port, "/_stcore/health")
    assert (reply.status, reply.worker) == (200, "0")
    assert reply.cookie(COOKIE)
    family = descendants(run.proc.pid)
    assert run.pid_of("worker 0") in family and run.pid_of("nginx") in family
    assert len(family) >= 3  # the worker, nginx's master and its worker process at least
    return run, port, family


def _gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still alive after up to ``timeout`` s (reaping can lag the exit a moment)."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def test_sigterm_stops_nginx_and_the_workers_and_leaves_nothing(
    tmp_path: Path, sim_server: SimServer
) -> None:
    run, port, family = _started(tmp_path, sim_server)
    runtime_dir = run.runtime_dir
    assert (runtime_dir / "nginx.conf").is_file()
    assert stop_serve(run, signal.SIGTERM) == 0
    assert _gone(family) == []
    assert not runtime_dir.exists()
    assert "Stopped." in run.stderr()
    with pytest.raises(OSError):
        request(port, "/_stcore/health")


def test_a_worker_that_dies_stops_everything_with_a_non_zero_exit(
    tmp_path: Path, sim_server: SimServer
) -> None:
    run, _, family = _started(tmp_path, sim_server)
    worker = run.pid_of("worker 0")
    os.kill(worker, signal.SIGKILL)
    assert run.proc.wait(30) == 1
    assert _gone(family) == []
    assert not run.runtime_dir.exists()
    assert f"worker 0 (pid {worker}) was killed by SIGKILL" in run.stderr()


def test_a_supervisor_killed_outright_takes_its_children_with_it(
    tmp_path: Path, sim_server: SimServer
) -> None:
    # SIGKILL runs no cleanup in the supervisor; the kernel's parent-death signal stops the
    # worker and nginx (which stops its own worker process).
    run, _, family = _started(tmp_path, sim_server)
    runtime_dir = run.runtime_dir
    try:
        run.proc.kill()
        run.proc.wait(10)
        left = _gone(family, timeout=15)
        assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)  # only a clean stop removes it


def test_several_workers_on_a_duckdb_file_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "aeries.duckdb"
    done = _serve_once(["--workers", "2", "--store", str(store)], worker_env())
    assert done.returncode == 2
    assert "DuckDB lets only one process open" in done.stderr
    assert "postgresql://" in done.stderr and "--local-store" in done.stderr
    assert not store.exists()  # refused before anything started


def test_several_workers_on_the_configured_duckdb_file_are_refused() -> None:
    # No AERIES_DB: the project's secrets, else data/aeries.duckdb, as the workers would see it.
    configured = resolve_store(None, root=ROOT, cwd=ROOT, env={}, secrets=read_secrets(ROOT))
    if configured.startswith("postgres"):
        pytest.skip("this checkout's secrets name a PostgreSQL store")
    done = _serve_once(["--workers", "3"], worker_env())
    assert done.returncode == 2
    assert configured in done.stderr


def test_a_missing_nginx_says_how_to_install_it(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "nginx"
    store = str(tmp_path / "a.duckdb")
    done = _serve_once(["--nginx", str(missing), "--store", store], worker_env())
    assert done.returncode == 2
    assert f"nginx was not found at {missing}" in done.stderr
    assert "apt-get install nginx-light" in done.stderr


def test_a_public_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    port = free_port()
    with listening(port):
        store = str(tmp_path / "a.duckdb")
        done = _serve_once(["--port", str(port), "--store", store], worker_env())
    assert done.returncode == 2
    assert f"Cannot listen on http://127.0.0.1:{port}" in done.stderr
    assert "worker 0" not in done.stderr  # no worker was started


def test_the_store_is_the_option_then_aeries_db_then_secrets_then_the_default(
    tmp_path: Path,
) -> None:
    root, cwd = tmp_path / "project", tmp_path / "elsewhere"
    url = "postgresql://aeries:pw@db.example:5432/aeries"

    def store(explicit: str | None, env: dict[str, str], secrets: dict[str, object]) -> str:
        return resolve_store(explicit, root=root, cwd=cwd, env=env, secrets=secrets)

    assert store(url, {"AERIES_DB": "x.duckdb"}, {}) == url
    # An option's relative path is where the command runs; configured ones are the project's,
    # where the workers run.
    assert store("mine.duckdb", {}, {}) == str(cwd / "mine.duckdb")
    assert store(None, {"AERIES_DB": "data/env.duckdb"}, {"db": "s.duckdb"}) == str(
        root / "data/env.duckdb"
    )
    assert store(None, {"AERIES_DB": "  "}, {"db": url}) == url
    assert store(None, {}, {}) == str(root / DEFAULT_DB)
