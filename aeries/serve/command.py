"""``aeries serve``: N Streamlit workers behind nginx with sticky sessions, on one store.

The supervisor starts the workers, waits until each answers its health check, writes the
nginx configuration into a private runtime directory, starts nginx on the public port and
prints the address. Then it watches: on SIGINT or SIGTERM it stops nginx first (nobody is sent
to a worker that is going away), then the workers (SIGTERM, so each one's writer saves what it
holds; SIGKILL after a grace period, or at once on a second Ctrl-C), and removes the runtime
directory. If any child dies on its own, the rest are stopped the same way and the command
exits with 1 and names the child: a half-working set of workers would strand the sessions of
the dead one behind the proxy.

Several workers need a store every worker can write: a ``postgresql://`` URL (``--store`` or
AERIES_DB), or ``--local-store DIR``, which runs a PostgreSQL cluster of our own in DIR for the
lifetime of the command. A DuckDB file is refused for more than one worker (DuckDB lets one
process open a file). One worker on a DuckDB file is allowed: the same proxy in front of it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit

from aeries.config import DEFAULT_DB, read_secrets
from aeries.serve.nginx import (
    COOKIE,
    NginxError,
    ProxyConfig,
    check_config,
    find_nginx,
    start_nginx,
    unprivileged_user,
    write_config,
)
from aeries.serve.process import Child, describe_status, stop_all
from aeries.serve.workers import (
    Worker,
    WorkerError,
    free_port,
    max_upload_mb,
    streamlit_args,
    wait_until_healthy,
)

ROOT = Path(__file__).resolve().parents[2]  # the project: app.py, .streamlit/, views/
APP = "app.py"
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_LOCAL_STORE = "data/postgres"
LOCAL_STORE_DB = "aeries"
START_TIMEOUT_S = 120.0  # N workers importing Aeries at once on a small machine
STOP_GRACE_S = 10.0  # a worker's writer commits what it holds well within this
WATCH_STEP_S = 0.2
# Exit codes: 0 stopped on request, 1 a child failed (at start or later), 2 bad usage.
EXIT_FAILED = 1
EXIT_USAGE = 2
WILDCARDS = ("0.0.0.0", "::", "[::]", "")  # listen addresses meaning every interface


class ServeError(RuntimeError):
    """The command cannot start as asked; the message says what to change."""


class LocalStoreError(RuntimeError):
    """The --local-store cluster did not start."""


def is_postgres_url(target: str) -> bool:
    """Whether the store names a PostgreSQL database (as aeries.store.db decides)."""
    return target.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class ServeOptions:
    """What ``aeries serve`` was asked to do."""

    workers: int = 1
    port: int = DEFAULT_PORT
    address: str = DEFAULT_ADDRESS
    store: str | None = None
    local_store: Path | None = None
    nginx: str | None = None
    root: Path = ROOT


def resolve_store(
    explicit: str | None,
    *,
    root: Path,
    cwd: Path,
    env: Mapping[str, str],
    secrets: Mapping[str, object],
) -> str:
    """The store every worker gets as AERIES_DB.

    ``--store`` is taken as given (a relative file path relative to where the command runs);
    otherwise AERIES_DB, then ``db`` under [aeries] in the project's secrets, then the default
    file, relative paths taken from the project root, as the workers (which run there) would."""
    if explicit is not None:
        text = explicit.strip()
        if is_postgres_url(text):
            return text
        return str((cwd / Path(text).expanduser()).resolve())
    raw = env.get("AERIES_DB", "").strip()
    if not raw:
        configured = secrets.get("db")
        raw = str(configured).strip() if isinstance(configured, str | int | float) else ""
    raw = raw or DEFAULT_DB
    if is_postgres_url(raw):
        return raw
    path = Path(raw).expanduser()
    return str(path if path.is_absolute() else (root / path).resolve())


def store_label(target: str) -> str:
    """The store as messages show it: a file path, or a URL without user and password."""
    if not is_postgres_url(target):
        return target
    parts = urlsplit(target)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"postgresql://{host}:{parts.port or 5432}{parts.path}"


def _connect_host(address: str) -> str:
    """Where this machine reaches a server listening on ``address``."""
    if address in ("0.0.0.0", ""):
        return "127.0.0.1"
    if address in ("::", "[::]"):
        return "::1"
    return address.strip("[]")


@dataclass(frozen=True)
class _Plan:
    """What the checks before the start found: the app, the store (None: --local-store makes
    it), the nginx binary, Streamlit's upload limit in MB."""

    app: Path
    store: str | None
    nginx: Path
    upload_mb: int


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def check_port_free(address: str, port: int) -> None:
    """ServeError if nothing can listen on address:port now (another server has it)."""
    host = address.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As nginx does: a port whose old connections are in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"Cannot listen on {_url(host, port)}: {exc.strerror or exc}. Another server "
                "may be using the port; pick another with --port."
            ) from None


class _LocalStore:
    """A PostgreSQL cluster in a data directory, started for this run (``--local-store``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start the cluster (made on first use) and return the URL of Aeries' database."""
        try:
            from aeries.store.pg_server import PostgresServer, PostgresServerError
        except ImportError as exc:
            raise LocalStoreError(
                f"--local-store needs PostgreSQL's client library ({exc.name or exc}): "
                "pip install -r requirements.txt"
            ) from None
        try:
            server = PostgresServer(self.data_dir)
            server.start()
            self._server = server
            if LOCAL_STORE_DB not in server.databases():
                server.create_database(LOCAL_STORE_DB)
            url: str = server.url(LOCAL_STORE_DB)
        except PostgresServerError as exc:
            raise LocalStoreError(
                f"The local store in {self.data_dir} did not start: {exc}"
            ) from None
        return url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


class Supervisor:
    """One run of ``aeries serve``."""

    def __init__(
        self, options: ServeOptions, *, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.options = options
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.stop_requested = threading.Event()
        self.hurry = threading.Event()  # a second signal: kill instead of waiting
        self.stop_signal: str | None = None
        self.workers: list[Worker] = []
        self.nginx: Child | None = None
        self.runtime_dir: Path | None = None
        self._local: _LocalStore | None = None

    # -- output ------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _error(self, text: str) -> None:
        self.err.write(f"error: {text}\n")
        self.err.flush()

    # -- signals -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_requested.is_set():
            self.hurry.set()
            return
        self.stop_signal = signal.Signals(signum).name
        self.stop_requested.set()

    def _install_signals(self) -> Callable[[], None]:
        """Catch SIGINT and SIGTERM (main thread only); returns what puts the old ones back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore

    # -- the run -----------------------------------------------------------------------------

    def _check(self) -> _Plan:
        """Everything that can be refused before a process starts."""
        opts = self.options
        app = opts.root / APP
        if not app.is_file():
            raise ServeError(
                f"{app} does not exist: `aeries serve` runs the app from the project's checkout."
            )
        store: str | None = None
        if opts.local_store is None:
            store = resolve_store(
                opts.store,
                root=opts.root,
                cwd=Path.cwd(),
                env=os.environ,
                secrets=read_secrets(opts.root),
            )
            if opts.workers > 1 and not is_postgres_url(store):
                raise ServeError(
                    f"--workers {opts.workers} needs a store every worker can write, but the "
                    f"store is the DuckDB file {store}, and DuckDB lets only one process open "
                    "a file. Give a PostgreSQL database (--store postgresql://… or "
                    "AERIES_DB=postgresql://…), let Aeries run one here with --local-store "
                    f"[DIR] (default {DEFAULT_LOCAL_STORE}), or use --workers 1."
                )
        nginx = find_nginx(opts.nginx)
        check_port_free(opts.address, opts.port)
        return _Plan(app, store, nginx, max_upload_mb(opts.root))

    def run(self) -> int:
        """Serve until a signal or a failure; the exit code."""
        try:
            plan = self._check()
        except (ServeError, NginxError, WorkerError) as exc:
            self._error(str(exc))
            return EXIT_USAGE
        restore = self._install_signals()
        try:
            return self._serve(plan)
        except (WorkerError, NginxError, LocalStoreError) as exc:
            if self.stop_requested.is_set():
                return 0  # a child ended because we were stopping: not a failure
            self._error(f"{exc}\nStopping everything.")
            return EXIT_FAILED
        finally:
            self._shutdown()
            restore()

    def _serve(self, plan: _Plan) -> int:
        opts = self.options
        store = plan.store
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="aeries-serve-"))
        run_as = unprivileged_user()
        if run_as is not None:
            # nginx's worker processes (as `nobody`) must reach the temporary folders that nginx
            # makes for them in here; the directory stays unlistable to others.
            self.runtime_dir.chmod(0o711)
        if opts.local_store is not None:
            data_dir = opts.local_store
            if not data_dir.is_absolute():
                data_dir = opts.root / data_dir
            self._say(f"Starting the local PostgreSQL store in {data_dir} …")
            self._local = _LocalStore(data_dir)
            store = self._local.start()
        assert store is not None
        public_host = None if opts.address in WILDCARDS else opts.address
        self._say(f"Starting {opts.workers} worker(s) on {store_label(store)} …")
        for index in range(opts.workers):
            worker = Worker(index, free_port(), self.runtime_dir)
            args = streamlit_args(
                plan.app,
                worker.port,
                max_upload=plan.upload_mb,
                public_host=public_host,
                public_port=opts.port,
            )
            worker.start(args, root=opts.root, env=os.environ, store=store)
            self.workers.append(worker)
        wait_until_healthy(
            [(w, "127.0.0.1", w.port) for w in self.workers],
            timeout=START_TIMEOUT_S,
            stop=self.stop_requested,
        )
        if self.stop_requested.is_set():
            return 0
        cfg = ProxyConfig(
            runtime_dir=self.runtime_dir,
            listen_address=opts.address,
            listen_port=opts.port,
            backends=tuple(("127.0.0.1", w.port) for w in self.workers),
            max_upload_mb=plan.upload_mb,
            run_as=run_as,
        )
        write_config(cfg)
        check_config(plan.nginx, cfg)
        self.nginx = Child("nginx", self.runtime_dir / "nginx.log")
        start_nginx(plan.nginx, cfg, self.nginx)
        try:
            wait_until_healthy(
                [(self.nginx, _connect_host(opts.address), opts.port)],
                timeout=30,
                stop=self.stop_requested,
            )
        except WorkerError as exc:
            raise NginxError(f"nginx did not start on port {opts.port}: {exc}") from None
        if self.stop_requested.is_set():
            return 0
        self._announce(store, cfg)
        return self._watch()

    def _announce(self, store: str, cfg: ProxyConfig) -> None:
        opts = self.options
        assert self.nginx is not None
        url = _url(_connect_host(opts.address), opts.port)
        where = " (listening on every address of this machine)" if opts.address in WILDCARDS else ""
        self._say(f"Aeries is serving at {url}{where}")
        self._say(
            f"  {len(self.workers)} worker(s) behind nginx; a browser stays on its worker "
            f"(cookie {COOKIE})."
        )
        for worker in self.workers:
            self._say(f"  {worker.name}: pid {worker.pid}, {worker.url} (direct, this machine)")
        self._say(f"  nginx: pid {self.nginx.pid}, config {cfg.conf_path}")
        self._say(f"  logs: {cfg.runtime_dir} (access.log, nginx.log, worker-<i>.log)")
        self._say(f"  store: {store_label(store)}")
        self._say("Press Ctrl-C to stop.")

    def _watch(self) -> int:
        """Wait for a signal, or for a child to die."""
        assert self.nginx is not None
        children: list[Child] = [self.nginx, *self.workers]
        while not self.stop_requested.wait(WATCH_STEP_S):
            for child in children:
                code = child.poll()
                if code is None:
                    continue
                if self.stop_requested.is_set():
                    return 0
                child.finish_output()
                said = f" Its last lines:\n{child.tail_text()}" if child.tail else ""
                self._error(
                    f"{child.name} (pid {child.pid}) {describe_status(code)}; stopping nginx "
                    f"and the workers.{said}"
                )
                return EXIT_FAILED
        return 0

    def _shutdown(self) -> None:
        """Stop nginx, then the workers, then the local store; remove the runtime directory."""
        if self.stop_signal is not None:
            self.err.write(f"{self.stop_signal}: stopping nginx and the workers …\n")
            self.err.flush()
        proxy = [self.nginx] if self.nginx is not None else []
        killed = stop_all(proxy, grace_s=5.0, hurry=self.hurry)
        killed += stop_all(self.workers, grace_s=STOP_GRACE_S, hurry=self.hurry)
        if killed:
            self.err.write(
                f"Had to kill {', '.join(killed)}: not stopped within the grace period, or a "
                "second signal said not to wait.\n"
            )
        if self._local is not None:
            try:
                self._local.stop()
            except Exception as exc:  # the cluster's own stop failed: say so, keep cleaning
                self._error(f"the local store did not stop cleanly: {exc}")
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None
        self.err.write("Stopped.\n")
        self.err.flush()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("must be at most 65535")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's options."""
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="Streamlit processes to run (default 1)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"public port (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        metavar="A",
        help=f"public address nginx listens on (default {DEFAULT_ADDRESS}; 0.0.0.0 for every "
        "interface)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--store",
        default=None,
        metavar="URL|FILE",
        help="the store every worker logs to: a postgresql:// URL (needed for more than one "
        "worker) or a DuckDB file (default: AERIES_DB, secrets, data/aeries.duckdb)",
    )
    where.add_argument(
        "--local-store",
        nargs="?",
        const=DEFAULT_LOCAL_STORE,
        default=None,
        type=Path,
        metavar="DIR",
        help="run a PostgreSQL cluster in DIR for this run and use it as the store "
        f"(default DIR: {DEFAULT_LOCAL_STORE}, relative to the project)",
    )
    parser.add_argument(
        "--nginx",
        default=None,
        metavar="PATH",
        help="path of the nginx binary (default: PATH, /usr/sbin/nginx)",
    )


def run_command(args: argparse.Namespace) -> int:
    """``aeries serve`` from parsed arguments."""
    options = ServeOptions(
        workers=args.workers,
        port=args.port,
        address=args.address,
        store=args.store,
        local_store=args.local_store,
        nginx=args.nginx,
    )
    return Supervisor(options).run()
