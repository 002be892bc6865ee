"""No image named in text a model or a participant controls is ever fetched by the browser.

Markdown renders ``![](http://…)`` as an <img> the browser loads at once, and Streamlit's widget
labels (a conversation's button in the sidebar, a radio option) read Markdown images too: a way
to send data to another site without anyone clicking. A canary HTTP server on loopback counts
every request; the model's answer (inline and reference-style images), the participant's name,
the first message (the conversation's title), a persona's name and an analytics link all name
an image on it. After every page involved is drawn, and drawn again from the database after a
reload and a restart, the canary has had no request at all.

Fails on the code before 1a4ba6f (``git show 1a4ba6f^:…``): no start page to enrol through, and
the answer went to ``st.markdown`` as it was (the canary's ``/answer.png`` was fetched).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    USER,
    Stack,
    click_nav,
    conversation_id,
    no_tracebacks,
    open_chat,
    page_url,
    send,
    sign_in_researcher,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e

NAME_MAX = 64  # aeries.auth.names.NAME_MAX
NOT_LOADED = "Images not loaded"
# 1×1 transparent GIF: what the canary answers, so a fetch would also "work".
_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class _Canary(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CanaryHandler)
        self.hits: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        with self._lock:
            self.connections += 1  # even a connection that never sends a request counts
        return True

    def record(self, line: str) -> None:
        with self._lock:
            self.hits.append(line)


class _CanaryHandler(BaseHTTPRequestHandler):
    server: _Canary

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if self.raw_requestline:
            self.server.record(self.requestline)

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "image/gif")
        self.send_header("content-length", str(len(_GIF)))
        self.send_header("access-control-allow-origin", "*")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(_GIF)

    do_GET = do_POST = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def canary_server() -> Iterator[_Canary]:
    server = _Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


_CANARY_ELEMENTS_JS = """origin => {
  // Elements that make the browser fetch on their own: images, media, frames, preloads, CSS.
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of ['src', 'srcset', 'poster', 'data', 'style', 'background']) {
      const v = el.getAttribute(attr);
      if (v && v.includes(origin)) found.push(el.tagName + '[' + attr + ']');
    }
    if (el.tagName === 'LINK' && (el.getAttribute('href') || '').includes(origin)) {
      found.push('LINK[href]');
    }
  }
  return found;
}"""


def _no_fetching_element(page: Page, canary: _Canary) -> None:
    """Nothing on the page would fetch from the canary (even lazily, when scrolled to)."""
    found = page.evaluate(_CANARY_ELEMENTS_JS, canary.origin)
    assert found == [], f"elements that would load from the canary: {found}"


def _image_name(origin: str, what: str) -> str:
    return f"![{what[0]}]({origin}/{what}.png)"


def test_no_image_from_a_model_or_a_participant_is_ever_loaded(
    make_stack: Callable[..., Stack], new_page: Callable[[], Page]
) -> None:
    with canary_server() as canary:
        origin = canary.origin
        stack = make_stack()
        answer_text = (
            f"Here is a picture: ![x]({origin}/answer.png)\n\n"
            "And a reference-style one: ![y][pic] for good measure.\n\n"
            f"[pic]: {origin}/reference.png\n"
        )
        stack.sim.configure(reply=answer_text)

        name = _image_name(origin, "name")
        if len(name) > NAME_MAX:
            name = f"![n]({origin}/n)"
        assert len(name) <= NAME_MAX
        page = new_page()
        open_chat(page, stack.url, name)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar).to_contain_text(f"Signed in as {name}")

        # A persona of their own, named with an image (shown in the radio and the sidebar).
        persona = f"Painter {_image_name(origin, 'persona')}"
        click_nav(page, "Personas")
        page.get_by_test_id("stRadio").get_by_text("New persona").click()
        wait_idle(page, rendered=None)
        form = page.get_by_test_id("stForm")
        form.get_by_role("textbox", name="Name").fill(persona)
        form.get_by_role("button", name="Create").click()
        expect(page.get_by_test_id("stToast").filter(has_text="Saved")).to_be_visible()
        wait_idle(page, rendered=None)
        expect(page.get_by_test_id("stRadio")).to_contain_text(persona)
        _no_fetching_element(page, canary)

        # The first message names an image: it becomes the title (heading, sidebar button).
        click_nav(page, "Chat")
        first = f"Describe {_image_name(origin, 'title')} please"
        answer = send(page, first)
        expect(answer).to_contain_text(NOT_LOADED)
        expect(answer).to_contain_text(f"{origin}/answer.png")
        expect(answer).to_contain_text(f"{origin}/reference.png")
        assert first in page.locator(USER).last.inner_text()
        expect(sidebar.get_by_role("button", name=first)).to_be_visible()
        # Switching the conversation to that persona names it in a toast.
        sidebar.get_by_role("combobox", name="Persona").click()
        page.get_by_role("option", name=persona).click()
        expect(page.get_by_test_id("stToast").filter(has_text="now uses")).to_contain_text(persona)
        wait_idle(page)
        _no_fetching_element(page, canary)

        # Drawn again from the database.
        page.reload()
        wait_idle(page, timeout=30_000)
        expect(page.locator(ASSISTANT).last).to_contain_text(NOT_LOADED)
        _no_fetching_element(page, canary)
        no_tracebacks(page)

        conv = conversation_id(page)
        stack.stop_app()
        [exchange] = stack.rows(
            "SELECT id FROM exchanges WHERE source = 'chat' AND conversation_id = ?", [conv]
        )
        stack.ensure_app()
        page.reload()
        wait_idle(page, timeout=30_000)
        expect(page.locator(ASSISTANT).last).to_contain_text(NOT_LOADED)
        _no_fetching_element(page, canary)

        # The researcher: a crafted analytics link, the drill-down of that exchange, the
        # participants (names) — each drawn, then reloaded.
        researcher = new_page()
        sign_in_researcher(researcher, stack.url)
        crafted = _image_name(origin, "param")
        link = page_url(stack.url, "analytics", model=crafted)
        drill = page_url(
            stack.url, "analytics", view="Drill-down", exchange=exchange["id"], model=crafted
        )
        # Each link opened twice: the page drops an unknown ?model= from the address once it
        # has said so, so a reload would not show the crafted value again.
        for _ in range(2):
            researcher.goto(link)
            wait_idle(researcher, rendered=None, timeout=30_000)
            warning = researcher.get_by_test_id("stAlertContentWarning").filter(
                has_text="Unknown model"
            )
            expect(warning).to_contain_text(crafted)
            _no_fetching_element(researcher, canary)
        for _ in range(2):
            researcher.goto(drill)
            wait_idle(researcher, rendered=None, timeout=30_000)
            main = researcher.get_by_test_id("stMainBlockContainer")
            expect(main).to_contain_text(f"Exchange {exchange['id']}")
            expect(main).to_contain_text(NOT_LOADED)
            _no_fetching_element(researcher, canary)
        researcher.reload()
        wait_idle(researcher, rendered=None, timeout=30_000)
        expect(researcher.get_by_test_id("stMainBlockContainer")).to_contain_text(NOT_LOADED)
        _no_fetching_element(researcher, canary)

        click_nav(researcher, "Participants")
        expect(researcher.get_by_test_id("stDataFrame").first).to_be_visible()
        _no_fetching_element(researcher, canary)
        no_tracebacks(researcher)

        assert canary.hits == [], f"the browser fetched from the canary: {canary.hits}"
        assert canary.connections == 0, "the browser connected to the canary"

        # The canary is reachable from these pages: zero means nothing tried, not that it was
        # unreachable.
        researcher.evaluate(
            """src => new Promise(done => {
                 const img = new Image(); img.onload = img.onerror = done; img.src = src; })""",
            f"{origin}/control.png",
        )
        wait_for(lambda: canary.hits, 5, "the control request to reach the canary")
        assert [hit.split()[1] for hit in canary.hits] == ["/control.png"]
