"""nginx in front of the workers: its configuration, and nginx itself as a child process.

The configuration is written for one run into a private runtime directory (pid file, logs, the
temporary folders for request and response bodies), and nginx runs in the foreground
(``daemon off``) as our child with ``-p <dir> -c <dir>/nginx.conf -e stderr``, so it needs no
file outside that directory and no root-owned path such as /run or /var/lib/nginx.

What the configuration does, and why:

* **Sticky sessions.** A Streamlit session lives in one process: its websocket, its uploaded
  files (``/_stcore/upload_file/<session>/…``), its media (``/media/…``) and the reconnect after a
  network blip all have to reach the process that holds it. nginx (the free edition has no
  ``sticky cookie``) hashes a cookie, ``aeries_worker``, with ``hash … consistent``; when a
  request has no such cookie nginx makes one from ``$request_id``, routes this request by it
  and sets it on the response, so the browser's later requests (the websocket first) hash to
  the same worker. The cookie lives as long as the browser session: a reload stays put too.
  Servers never count as failed (``max_fails=0``), so a slow moment of one worker never moves
  its sessions to another; a dead worker makes ``aeries serve`` stop everything anyway.
* **Websockets.** ``/_stcore/stream`` is proxied with HTTP/1.1 and the Upgrade/Connection
  headers, no buffering, and a day-long read timeout (an idle participant is still a session).
* **Forwarding headers.** Every request upstream carries ``X-Forwarded-For: $remote_addr``
  (set, never appended: a client cannot add its own), ``X-Real-IP``, ``X-Forwarded-Proto`` and
  ``X-Forwarded-Host``, and a client's own ``Forwarded`` header is dropped. Aeries gives local
  mode (the person at this machine is the researcher) only to a session with no forwarding
  header at all (``aeries.auth.roles.local_mode_applies``): with these headers always present,
  nobody who comes through the proxy, not even from this machine, is made the researcher.
* **Uploads.** ``client_max_body_size`` is Streamlit's ``server.maxUploadSize`` plus 1 MB, the
  margin Streamlit itself allows a streamed multipart body. Streamlit refuses a body whose
  length is over the limit, so nginx never refuses an upload the worker would take, and a
  refusal near the limit comes from Streamlit (which the page reports). Bodies are buffered
  by nginx (to the runtime directory), so a slow upload does not hold a worker's event loop.
* **Which worker answered** is in an ``X-Aeries-Worker`` response header (the worker's index,
  not its address), to check stickiness from outside.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aeries.serve.process import Child

COOKIE = "aeries_worker"
WORKER_HEADER = "X-Aeries-Worker"
# Where Debian puts nginx (not on a non-root user's PATH), then the usual source-build place.
KNOWN_PATHS = (Path("/usr/sbin/nginx"), Path("/usr/local/sbin/nginx"), Path("/usr/local/bin/nginx"))
INSTALL_HINT = "apt-get install nginx-light"
# $request_id is 32 hex digits; a cookie of any other shape is replaced, so what a client
# sends is never more than a choice among the workers.
_COOKIE_SHAPE = "~^[0-9a-f]{32}$"
# An idle session keeps its websocket open; a day is longer than any study session.
STREAM_TIMEOUT_S = 86_400
# One nginx worker process serves thousands of proxied connections; each session uses two
# (browser side and worker side).
WORKER_CONNECTIONS = 4096


class NginxError(RuntimeError):
    """nginx is missing, refused its configuration, or did not start."""


class NginxNotFound(NginxError):
    """No nginx binary where we looked."""


def find_nginx(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The nginx binary: ``explicit`` if given (it must exist), else nginx on PATH, else
    Debian's /usr/sbin/nginx and the usual other places."""
    if explicit is not None:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise NginxNotFound(
            f"nginx was not found at {path} (no executable file there). Install it with "
            f"`{INSTALL_HINT}` (Debian/Ubuntu), or pass --nginx with the path of an nginx binary."
        )
    found = shutil.which("nginx")
    if found:
        return Path(found)
    for path in KNOWN_PATHS:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    looked = ", ".join(str(p) for p in KNOWN_PATHS)
    raise NginxNotFound(
        f"nginx is not installed (not on PATH, nor at {looked}). `aeries serve` runs nginx "
        f"as its reverse proxy: install it with `{INSTALL_HINT}` (Debian/Ubuntu), or pass "
        "--nginx with the path of an nginx binary."
    )


def unprivileged_user() -> tuple[str, str] | None:
    """The (user, group) nginx's worker processes switch to, or None when we are not root.

    Started by root, nginx's master process stays root (it only reads the configuration and
    opens the listening socket and the logs) and its worker processes, the ones that parse
    what browsers send, switch to the ``user`` directive's account. ``nobody`` is chosen over
    ``user root`` so that a flaw in request parsing does not run as root; it can reach the
    temporary folders because the runtime directory is made traversable (0711) and nginx
    makes those folders owned by that user. Not root: nginx cannot switch users and would
    warn about the directive, so it is left out."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return ("root", "root")  # no unprivileged account on this machine at all
    try:
        group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = "nogroup"
    return (entry.pw_name, group)


def _quoted(text: str | os.PathLike[str]) -> str:
    """An nginx string literal (paths may hold spaces)."""
    value = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def _listen(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"{host}:{port}"


@dataclass(frozen=True)
class ProxyConfig:
    """What the nginx configuration of one run needs."""

    runtime_dir: Path
    listen_address: str
    listen_port: int
    backends: tuple[tuple[str, int], ...]  # (host, port) of each worker, by index
    max_upload_mb: int
    run_as: tuple[str, str] | None = None

    @property
    def conf_path(self) -> Path:
        return self.runtime_dir / "nginx.conf"

    @property
    def access_log(self) -> Path:
        return self.runtime_dir / "access.log"


def _proxy_headers() -> list[str]:
    # proxy_set_header is inherited only by a location that sets none of its own, so each
    # location gets the whole list.
    return [
        "proxy_http_version 1.1;",
        # Host as the browser sent it (with its port): Streamlit accepts a websocket whose
        # Origin names the same host and port.
        "proxy_set_header Host $http_host;",
        "proxy_set_header Upgrade $http_upgrade;",
        # 'upgrade' for a websocket; otherwise empty (HTTP/1.1 without a pool: nginx closes
        # the upstream connection after the reply).
        "proxy_set_header Connection $aeries_connection;",
        # Set, never appended ($proxy_add_x_forwarded_for would keep what the client sent).
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        'proxy_set_header Forwarded "";',
    ]


def render_config(cfg: ProxyConfig) -> str:
    """The nginx.conf text of one run."""
    if not cfg.backends:
        raise ValueError("nginx needs at least one backend")
    d = cfg.runtime_dir
    servers = [f"{host}:{port}" for host, port in cfg.backends]
    lines: list[str] = [
        "# Written by `aeries serve` for this run only; removed when it stops.",
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
    ]
    if cfg.run_as is not None:
        lines.append(f"user {cfg.run_as[0]} {cfg.run_as[1]};")
    lines += [
        f"pid {_quoted(d / 'nginx.pid')};",
        f"lock_file {_quoted(d / 'nginx.lock')};",
        # error, not warn: nginx warns about every upload it buffers to disk, as designed.
        "error_log stderr error;",
        "",
        "events {",
        f"    worker_connections {WORKER_CONNECTIONS};",
        "}",
        "",
        "http {",
        f"    access_log {_quoted(cfg.access_log)};",
        f"    client_body_temp_path {_quoted(d / 'client_body')};",
        f"    proxy_temp_path {_quoted(d / 'proxy')};",
        # Unused modules still default to /var/lib/nginx/...: keep them inside too.
        f"    fastcgi_temp_path {_quoted(d / 'fastcgi')};",
        f"    uwsgi_temp_path {_quoted(d / 'uwsgi')};",
        f"    scgi_temp_path {_quoted(d / 'scgi')};",
        "    server_tokens off;",
        # Streamlit's own margin for the multipart envelope around a file of the maximum size.
        f"    client_max_body_size {cfg.max_upload_mb + 1}m;",
        "",
        "    map $http_upgrade $aeries_connection {",
        "        default upgrade;",
        '        "" "";',
        "    }",
        f"    map $cookie_{COOKIE} $aeries_sticky {{",
        f'        "{_COOKIE_SHAPE}" $cookie_{COOKIE};',
        "        default $request_id;",
        "    }",
        f"    map $cookie_{COOKIE} $aeries_new_cookie {{",
        f'        "{_COOKIE_SHAPE}" "";',
        f'        default "{COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";',
        "    }",
        "    map $upstream_addr $aeries_worker {",
        *(f'        "{server}" {index};' for index, server in enumerate(servers)),
        '        default "-";',
        "    }",
        "",
        # No `keepalive` pool: on a reused connection the worker's reply (headers, then body,
        # in two small writes) meets nginx's delayed ACK, 44 ms a request measured here,
        # against 0.7-1 ms with a fresh loopback connection per request.
        "    upstream aeries_workers {",
        "        hash $aeries_sticky consistent;",
        *(f"        server {server} max_fails=0;" for server in servers),
        "    }",
        "",
        "    server {",
        f"        listen {_listen(cfg.listen_address, cfg.listen_port)};",
        "        server_name _;",
        # At server level only: an add_header in a location would hide these.
        "        add_header Set-Cookie $aeries_new_cookie always;",
        f"        add_header {WORKER_HEADER} $aeries_worker always;",
        "",
        "        location /_stcore/stream {",
        "            proxy_pass http://aeries_workers;",
        *(f"            {line}" for line in _proxy_headers()),
        "            proxy_buffering off;",
        f"            proxy_read_timeout {STREAM_TIMEOUT_S}s;",
        f"            proxy_send_timeout {STREAM_TIMEOUT_S}s;",
        # A session must never be opened on another worker behind the user's back.
        "            proxy_next_upstream off;",
        "        }",
        "",
        # Everything else: the page and its static files, /_stcore/health, host-config,
        # upload_file, /media, components.
        "        location / {",
        "            proxy_pass http://aeries_workers;",
        *(f"            {line}" for line in _proxy_headers()),
        "        }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def write_config(cfg: ProxyConfig) -> Path:
    """Write the configuration into its runtime directory; its path."""
    cfg.conf_path.write_text(render_config(cfg), encoding="utf-8")
    return cfg.conf_path


def nginx_args(binary: Path, cfg: ProxyConfig, *extra: str) -> list[str]:
    """The nginx command line for this run's configuration (``-e stderr``: the log of start-up
    errors too goes to our output, not to /var/log/nginx)."""
    prefix = ["-p", str(cfg.runtime_dir), "-c", str(cfg.conf_path), "-e", "stderr"]
    return [str(binary), *prefix, *extra]


def check_config(binary: Path, cfg: ProxyConfig) -> None:
    """``nginx -t`` on the written configuration; NginxError with nginx's words if it fails."""
    try:
        done = subprocess.run(
            nginx_args(binary, cfg, "-t", "-q"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NginxError(f"`{binary} -t` could not run: {exc}") from None
    if done.returncode != 0:
        words = (done.stderr or done.stdout).strip()
        raise NginxError(f"nginx refused the configuration {cfg.conf_path}:\n{words}")


def start_nginx(binary: Path, cfg: ProxyConfig, child: Child) -> None:
    """Start nginx in the foreground as ``child``."""
    child.spawn(nginx_args(binary, cfg), cwd=cfg.runtime_dir)
