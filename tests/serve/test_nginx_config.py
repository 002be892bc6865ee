"""The nginx configuration ``aeries serve`` writes: nginx itself accepts it, and the headers it
sends upstream are the ones Aeries' local-mode rule relies on (checked against a backend that
echoes what it received, behind the real nginx)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aeries.auth.roles import local_mode_applies
from aeries.serve.nginx import (
    COOKIE,
    NginxError,
    ProxyConfig,
    check_config,
    find_nginx,
    render_config,
    start_nginx,
    unprivileged_user,
    write_config,
)
from aeries.serve.process import Child, stop_all
from aeries.serve.workers import free_port, wait_until_healthy
from tests.serve.helpers import request

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """A runtime directory as `aeries serve` makes one (outside pytest's closed folders)."""
    path = Path(tempfile.mkdtemp(prefix="aeries serve test "))
    if unprivileged_user() is not None:
        path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _config(runtime_dir: Path, backends: list[int], **options: object) -> ProxyConfig:
    values: dict[str, object] = {
        "runtime_dir": runtime_dir,
        "listen_address": "127.0.0.1",
        "listen_port": free_port(),
        "backends": tuple(("127.0.0.1", port) for port in backends),
        "max_upload_mb": 200,
        "run_as": unprivileged_user(),
    }
    values.update(options)
    return ProxyConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [1, 3])
def test_the_generated_config_passes_nginx_t(runtime_dir: Path, workers: int) -> None:
    cfg = _config(runtime_dir, [free_port() for _ in range(workers)])
    write_config(cfg)
    check_config(find_nginx(), cfg)  # raises NginxError with nginx's own words otherwise


def test_an_ipv6_listen_address_passes_nginx_t(runtime_dir: Path) -> None:
    cfg = _config(runtime_dir, [free_port()], listen_address="::1")
    assert "listen [::1]:" in render_config(cfg)
    write_config(cfg)
    check_config(find_nginx(), cfg)


def test_a_config_nginx_refuses_is_reported_with_its_words(runtime_dir: Path) -> None:
    cfg = _config(runtime_dir, [free_port()])
    cfg.conf_path.write_text(render_config(cfg).replace("worker_processes 1;", "worker_pro 1;"))
    with pytest.raises(NginxError, match="unknown directive"):
        check_config(find_nginx(), cfg)


def test_the_config_proxies_websockets_and_sets_the_forwarding_headers(runtime_dir: Path) -> None:
    text = render_config(_config(runtime_dir, [free_port(), free_port()], max_upload_mb=50))
    stream = text[text.index("location /_stcore/stream") :]
    stream = stream[: stream.index("}")]
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $aeries_connection;",
        "proxy_buffering off;",
        "proxy_read_timeout 86400s;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
    ):
        assert line in stream
    assert "hash $aeries_sticky consistent;" in text
    # Overwritten in both locations; never the appending form that keeps a client's value.
    assert text.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert "$proxy_add_x_forwarded_for" not in text
    assert "client_max_body_size 51m;" in text  # 50 MB files plus the multipart envelope


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with the headers it received, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_proxy(runtime_dir: Path, tmp_path: Path) -> Iterator[int]:
    """The real nginx with the generated config in front of one echo backend; its port."""
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    cfg = _config(runtime_dir, [backend.server_port])
    write_config(cfg)
    with (tmp_path / "nginx.log").open("w") as log:
        nginx = Child("nginx", tmp_path / "nginx-output.log", out=log)
        start_nginx(find_nginx(), cfg, nginx)
        try:
            # The echo backend answers any path, /_stcore/health included.
            wait_until_healthy(
                [(nginx, "127.0.0.1", cfg.listen_port)], timeout=20, stop=threading.Event()
            )
            yield cfg.listen_port
        finally:
            stop_all([nginx], grace_s=5, hurry=threading.Event())
            backend.shutdown()
            backend.server_close()


def test_a_client_cannot_choose_the_forwarding_headers_the_worker_sees(echo_proxy: int) -> None:
    spoofed = {
        "X-Forwarded-For": "10.9.8.7",
        "X-Real-IP": "10.9.8.7",
        "Forwarded": "for=10.9.8.7",
        "X-Forwarded-Host": "evil.example",
    }
    reply = request(echo_proxy, "/", headers=spoofed)
    seen = {k.lower(): v for k, v in json.loads(reply.body).items()}
    assert seen["x-forwarded-for"] == "127.0.0.1"  # set to the peer, the client's value gone
    assert seen["x-real-ip"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == f"127.0.0.1:{echo_proxy}"
    assert seen["host"] == f"127.0.0.1:{echo_proxy}"
    assert "forwarded" not in seen


def test_what_the_worker_sees_through_the_proxy_never_grants_local_mode(echo_proxy: int) -> None:
    # A browser on this very machine, through the proxy: loopback peer, loopback Host, no Origin.
    seen = json.loads(request(echo_proxy, "/").body)
    assert not local_mode_applies(bind_address="127.0.0.1", headers=seen, peer_loopback=True)
    # The same request straight to a worker would be local: the forwarding header is the
    # only thing that tells them apart.
    direct = {k: v for k, v in seen.items() if not k.lower().startswith(("x-forwarded", "x-real"))}
    assert local_mode_applies(bind_address="127.0.0.1", headers=direct, peer_loopback=True)


def test_nginx_sets_the_cookie_once_and_replaces_a_malformed_one(echo_proxy: int) -> None:
    first = request(echo_proxy, "/")
    cookie = first.cookie(COOKIE)
    assert cookie is not None and len(cookie) == 32
    assert request(echo_proxy, "/", cookies={COOKIE: cookie}).cookie(COOKIE) is None
    replaced = request(echo_proxy, "/", cookies={COOKIE: "not-one-of-ours"}).cookie(COOKIE)
    assert replaced is not None and replaced != cookie and len(replaced) == 32
