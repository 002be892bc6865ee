"""Two real Streamlit workers running Aeries behind the real nginx, configured as ``aeries serve``
configures it: a session stays on its worker for its lifetime (its websocket, its uploads, a
reload of the page), different browsers spread over both workers, Streamlit's own endpoints
work through the proxy, and a session through the proxy is never given local mode."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from aeries.serve.nginx import COOKIE
from aeries.sim import SimServer
from tests.serve.helpers import (
    UPLOAD_MB,
    PageSession,
    ProxyStack,
    Reply,
    multipart,
    request,
    run,
)

pytestmark = pytest.mark.timeout(120)

XSRF_COOKIE = "_streamlit_xsrf"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sim_server: SimServer) -> Iterator[ProxyStack]:
    """Two workers (each on a DuckDB file of its own) and nginx, shared by this module."""
    proxy = ProxyStack(tmp_path_factory.mktemp("serve"), 2, sim_server.base_url).start()
    yield proxy
    proxy.close()


def _new_browser(stack: ProxyStack) -> tuple[str, int, str]:
    """A first request without cookies, as a new browser's page load: (the proxy's cookie,
    the worker that answered, Streamlit's XSRF cookie)."""
    reply = request(stack.port, "/_stcore/health")
    assert reply.status == 200
    cookie, xsrf = reply.cookie(COOKIE), reply.cookie(XSRF_COOKIE)
    assert cookie is not None and xsrf is not None and reply.worker is not None
    return cookie, int(reply.worker), xsrf


def _upload_reply(port: int, session_id: str, xsrf: str, cookie: str | None, size: int) -> Reply:
    """PUT one file of ``size`` bytes to the session, as st.file_uploader does."""
    body, content_type = multipart("notes.bin", b"x" * size)
    cookies = {XSRF_COOKIE: xsrf} | ({COOKIE: cookie} if cookie else {})
    reply = request(
        port,
        f"/_stcore/upload_file/{session_id}/file-1",
        method="PUT",
        cookies=cookies,
        headers={"X-Xsrftoken": xsrf, "Content-Type": content_type},
        body=body,
    )
    return reply


def _upload(port: int, session_id: str, xsrf: str, cookie: str | None, size: int) -> int:
    """The status of an upload of ``size`` bytes."""
    return _upload_reply(port, session_id, xsrf, cookie, size).status


def test_different_browsers_spread_over_both_workers_and_each_stays(stack: ProxyStack) -> None:
    browsers = [_new_browser(stack) for _ in range(40)]
    assert Counter(worker for _, worker, _ in browsers).keys() == {0, 1}
    for cookie, worker, _ in browsers[:10]:
        for path in ("/_stcore/health", "/_stcore/host-config", "/"):
            reply = request(stack.port, path, cookies={COOKIE: cookie})
            assert reply.status == 200, path
            assert reply.worker == str(worker), path
            assert reply.cookie(COOKIE) is None  # the browser's cookie is kept, not replaced


def test_a_session_stays_on_its_worker_for_its_lifetime_and_across_a_reload(
    stack: ProxyStack,
) -> None:
    cookie, worker, xsrf = _new_browser(stack)
    other = stack.workers[1 - worker]

    async def scenario() -> None:
        async with PageSession(stack.url, cookie) as page:
            assert page.worker == str(worker)  # the websocket went where the cookie points
            await page.load()
            session = page.session_id
            assert session
            # While the websocket is open, the browser's other requests reach the same worker:
            # an upload to this session is accepted through the proxy, while the other worker
            # does not know the session at all (Streamlit's 400 for missing stickiness).
            assert _upload(stack.port, session, xsrf, cookie, 200_000) == 204
            assert _upload(other.port, session, xsrf, None, 10) == 400
            for path in ("/_stcore/health", "/_stcore/host-config", "/media/missing.png"):
                reply = request(stack.port, path, cookies={COOKIE: cookie})
                assert reply.worker == str(worker), path
            # /media is Streamlit's (a 404 from the worker for an unknown file), not nginx's.
            assert request(stack.port, "/media/missing.png", cookies={COOKIE: cookie}).status == 404
            await page.load()  # a rerun later in the session, on the same websocket
            assert page.session_id == session
            assert not page.errors
            # A reload of the page: a new websocket with the same cookie, the same worker.
            async with PageSession(stack.url, cookie) as reloaded:
                assert reloaded.worker == str(worker)
                await reloaded.load()
                assert reloaded.session_id and reloaded.session_id != session
                assert _upload(stack.port, reloaded.session_id, xsrf, cookie, 10) == 204
            assert _upload(stack.port, session, xsrf, cookie, 10) == 204  # still alive

    run(scenario())


def test_uploads_up_to_streamlits_limit_pass_and_larger_are_refused(stack: ProxyStack) -> None:
    cookie, _, xsrf = _new_browser(stack)

    async def scenario() -> None:
        async with PageSession(stack.url, cookie) as page:
            await page.load()
            assert page.session_id
            limit = UPLOAD_MB * 1024 * 1024
            # Streamlit refuses a request body (file and envelope) over the limit; nginx lets
            # through a little more, so every refusal near the limit is Streamlit's own.
            fits = _upload_reply(stack.port, page.session_id, xsrf, cookie, limit - 4096)
            assert fits.status == 204
            at_limit = _upload_reply(stack.port, page.session_id, xsrf, cookie, limit)
            assert (at_limit.status, at_limit.worker) == (413, fits.worker)
            # Past the limit plus the envelope: nginx refuses it before any worker sees it.
            too_big = _upload_reply(stack.port, page.session_id, xsrf, cookie, limit + 2**20 + 1)
            assert (too_big.status, too_big.worker) == (413, "-")

    run(scenario())


def test_a_session_through_the_proxy_is_never_given_local_mode(stack: ProxyStack) -> None:
    # The workers have no researcher secret and listen on loopback: a browser that reaches one
    # directly from this machine is the researcher (local mode).
    cookie, worker, _ = _new_browser(stack)
    direct_url = stack.workers[worker].url

    async def scenario() -> tuple[PageSession, PageSession]:
        async with PageSession(direct_url) as direct:
            await direct.load()
        async with PageSession(stack.url, cookie) as proxied:
            assert proxied.worker == str(worker)  # the same worker, only the way in differs
            await proxied.load()
        return direct, proxied

    direct, proxied = run(scenario())
    assert not direct.errors and not proxied.errors
    assert any("Local mode" in text for text in direct.texts)
    assert "chat_input" in direct.kinds
    assert "Analytics" in direct.pages
    # Through the proxy, from this same machine: the start page asks who you are.
    assert "Welcome to Aeries" in proxied.texts
    assert "Your name or participant ID" in proxied.texts
    assert not any("Local mode" in text for text in proxied.texts)
    assert "chat_input" not in proxied.kinds
    assert "Analytics" not in proxied.pages
