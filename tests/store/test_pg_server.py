"""The local PostgreSQL server: it starts with the settings tests rely on, takes connections,
creates and drops databases, stops leaving no process behind (also when its owner is killed),
and says clearly what is wrong when it cannot run."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from aeries.store.pg_server import (
    PostgresNotFound,
    PostgresServer,
    PostgresServerError,
    PostgresStartFailed,
)
from tests.helpers import ROOT


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _processes_using(data_dir: Path) -> list[int]:
    """Every process whose command line names the data directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended while we looked
        if str(data_dir).encode() in cmdline:
            found.append(int(entry.name))
    return found


def _wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_server_takes_connections_with_the_settings_tests_rely_on(
    pg_server: PostgresServer,
) -> None:
    assert pg_server.url("postgres").startswith("postgresql://")
    with psycopg.connect(pg_server.url()) as conn:
        settings = dict(
            conn.execute(
                """SELECT name, setting FROM pg_settings WHERE name IN
                   ('TimeZone', 'max_connections', 'fsync', 'server_encoding', 'lc_collate',
                    'listen_addresses')"""
            ).fetchall()
        )
    assert settings["TimeZone"] == "UTC"
    assert int(settings["max_connections"]) >= 200
    assert settings["fsync"] == "off"  # the session cluster is asked for speed
    assert settings["server_encoding"] == "UTF8"
    assert settings["lc_collate"] == "C"  # text sorts by bytes, as in DuckDB
    assert settings["listen_addresses"] == "127.0.0.1"
    # The unix socket in the data directory answers too.
    with psycopg.connect(
        host=str(pg_server.socket_dir), port=pg_server.port, user="postgres", dbname="postgres"
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_databases_are_created_copied_and_dropped(pg_server: PostgresServer) -> None:
    url = pg_server.create_database("pgs_original")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
    copy_url = pg_server.create_database("pgs_copy", template="pgs_original")
    assert {"pgs_original", "pgs_copy"} <= set(pg_server.databases())
    with psycopg.connect(copy_url, autocommit=True) as conn:
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (3,)
        pg_server.drop_database("pgs_copy")  # an open connection does not stop the drop
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")  # it was cut
    pg_server.drop_database("pgs_original")
    pg_server.drop_database("pgs_original")  # dropping again is not an error
    assert not {"pgs_original", "pgs_copy"} & set(pg_server.databases())


def test_pg_url_gives_each_test_its_own_empty_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_a_stopped_server_leaves_no_process_and_a_bad_setting_is_told_with_its_log() -> None:
    root = Path(tempfile.mkdtemp(prefix="aeries-pgtest-"))
    root.chmod(0o711)  # the server's user (nobody, under root) must pass through
    try:
        server = PostgresServer(root / "data").start()
        pid = _postmaster_pid(server.data_dir)
        if os.geteuid() == 0:  # initdb refuses root: the server runs as nobody
            assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("nobody").pw_uid
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)  # durable unless asked
        server.stop()
        assert not server.running
        assert not _alive(pid)
        assert _processes_using(server.data_dir) == []
        # The same cluster again (no initdb), with a setting the server refuses.
        broken = PostgresServer(root / "data", max_connections=0)
        with pytest.raises(PostgresStartFailed, match="max_connections") as failure:
            broken.start()
        assert isinstance(failure.value, RuntimeError)
        assert "Server log:" in str(failure.value)
        assert _processes_using(server.data_dir) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_killed_owner_takes_its_server_and_folder_with_it() -> None:
    # A test run that crashes (killed, os._exit) runs no atexit hook: the watchdog stops the
    # server and removes its temporary folder.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from aeries.store.pg_server import PostgresServer\n"
            "context = PostgresServer.temporary()\n"  # kept: its finalizer would stop it
            "server = context.__enter__()\n"
            "print(server.data_dir, flush=True)\n"
            "time.sleep(60)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    data_dir = Path(child.stdout.readline().strip())
    pid = _postmaster_pid(data_dir)
    assert _alive(pid)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert _wait_until(lambda: not _alive(pid) and not data_dir.exists())
    assert _processes_using(data_dir) == []


def test_a_missing_bin_folder_is_told_plainly(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotFound, match="no PostgreSQL server programs") as missing:
        PostgresServer(tmp_path / "data", bin_dir=tmp_path / "nowhere")
    assert isinstance(missing.value, RuntimeError)
    assert str(tmp_path / "nowhere") in str(missing.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_a_data_directory_the_server_user_cannot_reach_is_told_plainly(tmp_path: Path) -> None:
    # pytest's own temporary folders are closed to others (mode 700).
    with pytest.raises(PostgresServerError, match="cannot enter"):
        PostgresServer(tmp_path / "data").start()
