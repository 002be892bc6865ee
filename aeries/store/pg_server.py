"""A PostgreSQL cluster of our own, in a data directory: for tests, benchmarks and a local store
that several app processes share.

``PostgresServer(data_dir).start()`` makes the cluster if the directory is empty (UTF8, locale
C so text sorts as in DuckDB, trust authentication), starts it listening on a unix socket in the
data directory and on 127.0.0.1, and gives ``postgresql://`` URLs for its databases.
``PostgresServer.temporary()`` does the same in a new temporary directory and removes it after.

Run as root (containers, CI), the server binaries run as ``nobody``: ``initdb`` refuses root.
A started server is stopped when this process exits, by ``atexit`` and, should the process be
killed outright, by a small watchdog process that notices its pipe close.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg is loaded only once a database is asked for
    import psycopg

SUPERUSER = "postgres"
HOST = "127.0.0.1"
# The first place Debian and Ubuntu put server binaries; pg_config and PATH are asked after.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
LOG_NAME = "server.log"
CONF_NAME = "aeries.conf"  # rewritten at every start: port, sockets, the test settings
# Every way a start can fail because another process took the port between our pick and bind.
_PORT_TAKEN = re.compile(r"could not bind|address already in use|could not create any", re.I)

# The watchdog: reads its stdin until EOF. "stopped" means the owner stopped the server itself;
# anything else (the owner died, so the pipe closed) means stop it now and remove its folder.
_WATCHDOG = r"""
import os, shutil, subprocess, sys
pg_ctl, data_dir, uid, gid, remove = sys.argv[1:6]
said = sys.stdin.buffer.read()
if said != b"stopped":
    who = {"user": int(uid), "group": int(gid), "extra_groups": []} if uid else {}
    subprocess.run([pg_ctl, "-D", data_dir, "-m", "immediate", "-w", "-t", "30", "stop"],
                   cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **who)
    if remove:
        shutil.rmtree(remove, ignore_errors=True)
"""


class PostgresServerError(RuntimeError):
    """A local PostgreSQL server could not be made, started or used."""


class PostgresNotFound(PostgresServerError):
    """No PostgreSQL server programs (initdb, pg_ctl, postgres) on this machine."""


class PostgresStartFailed(PostgresServerError):
    """initdb or the server itself failed; the message carries the end of its log."""


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key of /usr/lib/postgresql/<version>: numerically, so 16 comes after 9.6."""
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (-1,)


def _has_server(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in SERVER_PROGRAMS)


def find_bin_dir(explicit: str | Path | None = None, *, version: str | None = None) -> Path:
    """The folder of PostgreSQL's server programs: ``explicit`` if given, else the newest
    /usr/lib/postgresql/*/bin (the one of ``version`` first, if a data directory already has
    one), else ``pg_config --bindir``, else the folder of ``initdb`` on PATH."""
    if explicit is not None:
        path = Path(explicit)
        if _has_server(path):
            return path
        raise PostgresNotFound(
            f"There are no PostgreSQL server programs (initdb, pg_ctl, postgres) in {path}. "
            "Give the bin folder of a PostgreSQL installation, such as /usr/lib/postgresql/15/bin."
        )
    candidates = [d / "bin" for d in sorted(DEBIAN_ROOT.glob("*"), key=_version_key, reverse=True)]
    if version is not None:
        candidates.insert(0, DEBIAN_ROOT / version / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if _has_server(candidate):
            return candidate
    raise PostgresNotFound(
        "PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed on this "
        f"machine: looked in {DEBIAN_ROOT}/*/bin, `pg_config --bindir` and PATH. On Debian or "
        "Ubuntu: apt-get install --no-install-recommends postgresql (scripts/test.sh does it)."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _conf_string(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _exited(pid: int) -> bool:
    """Whether the process is gone (or a zombie nobody has reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, and not ours to signal
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z"


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log was written)"
    return "\n".join(text.splitlines()[-lines:]) or "(the server log is empty)"


class PostgresServer:
    """One PostgreSQL cluster in ``data_dir``, started and stopped by this process."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        bin_dir: str | Path | None = None,
        port: int | None = None,
        fsync: bool = True,
        max_connections: int = 200,
        stop_on_exit: bool = True,
    ) -> None:
        # fsync=False is for tests and benchmarks only: a crash of the machine loses the cluster.
        self.data_dir = Path(data_dir).absolute()
        self.fsync = fsync
        self.max_connections = max_connections
        self.stop_on_exit = stop_on_exit
        self.port: int | None = port
        self._fixed_port = port is not None
        existing = self.data_dir / "PG_VERSION"
        version = existing.read_text().strip() if existing.is_file() else None
        self.bin_dir = find_bin_dir(bin_dir, version=version)
        self._run_as = self._unprivileged_user()
        self._owner_pid = os.getpid()
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._remove_on_death: Path | None = None
        self._running = False

    # -- who runs the programs ---------------------------------------------------------------

    def _unprivileged_user(self) -> tuple[int, int] | None:
        """(uid, gid) to run the server programs as, or None to run them as ourselves."""
        if os.geteuid() != 0:
            return None
        if self.data_dir.exists() and self.data_dir.stat().st_uid != 0:
            owner = self.data_dir.stat()
            return owner.st_uid, owner.st_gid  # an existing cluster keeps its owner
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError:
            raise PostgresServerError(
                f"PostgreSQL refuses to run as root, and this machine has no user "
                f"'{UNPRIVILEGED_USER}' to run it as. Create one, or run as another user."
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _check_reachable(self) -> None:
        """The unprivileged user must be able to walk down to the data directory."""
        if self._run_as is None:
            return
        uid, gid = self._run_as
        for parent in self.data_dir.parents:
            mode = parent.stat()
            if mode.st_uid == uid:
                ok = mode.st_mode & stat.S_IXUSR
            elif mode.st_gid == gid:
                ok = mode.st_mode & stat.S_IXGRP
            else:
                ok = mode.st_mode & stat.S_IXOTH
            if not ok:
                raise PostgresServerError(
                    f"PostgreSQL runs as '{pwd.getpwuid(uid).pw_name}' here (it refuses root), "
                    f"and that user cannot enter {parent}. Put the data directory somewhere "
                    f"it can reach (such as under {tempfile.gettempdir()}), or allow it in "
                    f"with `chmod o+x {parent}`."
                )

    def _run(self, *args: str | Path, timeout: float = START_TIMEOUT_S) -> str:
        """Run one server program; its combined output, or PostgresStartFailed."""
        returncode, output = self._call(*args, timeout=timeout)
        if returncode != 0:
            raise PostgresStartFailed(
                f"PostgreSQL's {args[0]} failed in {self.data_dir} (exit {returncode}): "
                f"{output.strip()[-2000:]}\nServer log:\n{_log_tail(self.log_path)}"
            )
        return output

    def _call(self, *args: str | Path, timeout: float = START_TIMEOUT_S) -> tuple[int, str]:
        """Run one server program as the unprivileged user; its exit code and output."""
        program = self.bin_dir / str(args[0])
        who: dict[str, Any] = {}
        if self._run_as is not None:
            who = {"user": self._run_as[0], "group": self._run_as[1], "extra_groups": []}
        try:
            done = subprocess.run(
                [str(program), *map(str, args[1:])],
                cwd=self.data_dir,  # the caller's folder may be closed to the unprivileged user
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
                **who,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresStartFailed(
                f"PostgreSQL's {args[0]} did not finish within {timeout:.0f} s in "
                f"{self.data_dir}.\nServer log:\n{_log_tail(self.log_path)}"
            ) from exc
        return done.returncode, done.stdout

    # -- the cluster -------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    @property
    def running(self) -> bool:
        return self._running

    def initdb(self) -> None:
        """Make the cluster in the (missing or empty) data directory."""
        if self.initialised:
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise PostgresServerError(
                f"{self.data_dir} is neither empty nor a PostgreSQL data directory; give an "
                "empty or new folder for the cluster."
            )
        self.data_dir.chmod(0o700)  # the server refuses a data directory others can read
        if self._run_as is not None:
            os.chown(self.data_dir, *self._run_as)
        self._check_reachable()
        self._run(
            "initdb",
            "-D",
            self.data_dir,
            "--encoding=UTF8",
            "--locale=C",  # byte order, as DuckDB sorts text
            f"--username={SUPERUSER}",
            "--auth=trust",  # local socket and 127.0.0.1 only: see listen_addresses below
            "--no-instructions",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = {_conf_string(CONF_NAME)}\n")

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": _conf_string(HOST),
            "port": str(self.port),
            "unix_socket_directories": _conf_string(str(self.socket_dir)),
            "max_connections": str(self.max_connections),
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "fsync": "on" if self.fsync else "off",
            # Without fsync a crash can tear pages anyway; these cost time and buy nothing.
            "full_page_writes": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
        }
        path = self.data_dir / CONF_NAME
        path.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        if self._run_as is not None:
            os.chown(path, *self._run_as)

    def start(self) -> PostgresServer:
        """Make the cluster if needed, start it and wait until it takes connections."""
        if self._running:
            return self
        self.initdb()
        self._check_reachable()
        returncode, status = self._call("pg_ctl", "-D", self.data_dir, "status")
        if returncode == 0:  # 3: not running (a stale postmaster.pid is handled by the start)
            raise PostgresStartFailed(
                f"A PostgreSQL server is already running in {self.data_dir} "
                f"({status.splitlines()[0]}). Stop it first: pg_ctl -D {self.data_dir} stop."
            )
        for attempt in range(5):
            if not self._fixed_port:
                self.port = free_port()
            self._write_settings()
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    self.data_dir,
                    "-l",
                    self.log_path,
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                    timeout=START_TIMEOUT_S + 10,
                )
                break
            except PostgresStartFailed:
                # Another process may have taken the port since free_port(): pick another one.
                if self._fixed_port or attempt == 4 or not _PORT_TAKEN.search(self._recent_log()):
                    self._stop_quietly()
                    raise
        self._running = True
        if self.stop_on_exit:
            atexit.register(self._stop_at_exit)
            self._start_watchdog()
        return self

    def _recent_log(self) -> str:
        return _log_tail(self.log_path, 10)

    def _start_watchdog(self) -> None:
        uid, gid = (str(n) for n in self._run_as) if self._run_as else ("", "")
        pg_ctl, remove = str(self.bin_dir / "pg_ctl"), str(self._remove_on_death or "")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, pg_ctl, str(self.data_dir), uid, gid, remove],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the test run must not kill it first
        )

    def _dismiss_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None or watchdog.stdin is None:
            return
        with contextlib.suppress(OSError):
            watchdog.stdin.write(b"stopped")
            watchdog.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            watchdog.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server: a fast shutdown (connections are cut), immediate if that hangs."""
        if not self._running:
            return
        pid = self._postmaster_pid()
        try:
            self._run("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", "20", "stop")
        except PostgresStartFailed:
            self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "20", "stop")
        # pg_ctl returns once the pid file is gone, which the postmaster removes just before
        # it exits: wait for the exit itself, so the port and the folder are free after us.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid is not None and not _exited(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._running = False
        atexit.unregister(self._stop_at_exit)
        self._dismiss_watchdog()

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _stop_quietly(self) -> None:
        with contextlib.suppress(PostgresServerError, OSError):
            self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")

    def _stop_at_exit(self) -> None:
        if os.getpid() != self._owner_pid:  # a forked child inherited the hook: not ours
            return
        with contextlib.suppress(PostgresServerError, OSError):
            self.stop()
        if self._remove_on_death is not None:  # a temporary() whose block never ended
            shutil.rmtree(self._remove_on_death, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @classmethod
    @contextlib.contextmanager
    def temporary(cls, **options: Any) -> Iterator[PostgresServer]:
        """A started server in a new temporary directory, stopped and removed after the block
        (or, if this process dies first, by the watchdog)."""
        root = Path(tempfile.mkdtemp(prefix="aeries-pg-"))
        try:
            server = cls(root, **options)
            server._remove_on_death = root
            server.start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        try:
            yield server
        finally:
            try:
                server.stop()
            finally:
                shutil.rmtree(root, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """The database's URL, over TCP to 127.0.0.1 (any process on this machine can use it)."""
        if self.port is None:
            raise PostgresServerError("The PostgreSQL server has not been started yet.")
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection to one of the cluster's databases (autocommit)."""
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, **kwargs)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create the database (a copy of ``template`` if given, which must have no open
        connections); return its URL."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, cutting any connections still open to it."""
        from psycopg import sql

        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with self.connect() as conn:
            conn.execute(statement)

    def databases(self) -> list[str]:
        """The cluster's databases, templates left out."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname"
            ).fetchall()
        return [row[0] for row in rows]
