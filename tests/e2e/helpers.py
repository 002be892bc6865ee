"""Processes and page helpers for the browser suite (and the browser benchmark).

``SimProcess`` runs ``python -m aeries.sim`` and talks to its admin endpoints; ``AppProcess``
runs ``streamlit run app.py`` against it; ``Stack`` is the pair plus a temporary database.
The page helpers drive the chat page the way a person does: type, press Enter, click.

Identity works as in a real deployment: a stack has a researcher secret configured (so local
mode, where the person at the machine is the researcher, is off unless a test asks for it), a
participant enrols once through the start page and comes back through the personal link
(``?p=``) they got, and the researcher signs in with the secret through the form.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import duckdb
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Small but visible latencies (30 tokens stream in ~0.3 s); the streaming test slows them.
SIM_DEFAULTS: dict[str, Any] = {
    "ttft_ms": 30,
    "itl_ms": 8,
    "tokens": 30,
    "fault": None,
    "fault_after": 5,
    "reply": None,
    "health_ok": True,
}


# The researcher secret of every stack (unless it runs in local mode); at least 12 characters.
RESEARCHER_SECRET = "e2e researcher secret, not for production"
LINK_PARAM = "p"
RESEARCHER_COOKIE = "aeries_researcher"


@functools.cache
def researcher_secret_hash(secret: str = RESEARCHER_SECRET) -> str:
    """The AERIES_RESEARCHER_SECRET_HASH value for ``secret``, made the documented way:
    ``echo <secret> | python -m aeries researcher-secret --stdin``."""
    done = subprocess.run(
        [sys.executable, "-m", "aeries", "researcher-secret", "--stdin"],
        input=secret + "\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("AERIES_")},
    )
    assert done.returncode == 0, done.stderr
    name, _, value = done.stdout.strip().partition("=")
    assert name == "AERIES_RESEARCHER_SECRET_HASH" and value.startswith("scrypt:"), done.stdout
    return value


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET (or POST ``body`` as JSON) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Safety net: no child outlives the run, even if a fixture's teardown never ran."""
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()


class _Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _LIVE.add(self.proc)
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def _wait_ready(self, url: str, timeout: float) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            return _answers(url)

        try:
            wait_for(ready, timeout, f"{self.name} at {url}", step=0.1)
        except TimeoutError as exc:
            self.stop()
            raise TimeoutError(f"{exc}; its log ends with:\n{self.log_tail()}") from None

    def stop(self, timeout: float = 10.0) -> bool:
        """Terminate (the app flushes its writer at exit), then kill if it hangs.

        True when the process ended on its own (or was not running), False when it had to be
        killed after ``timeout`` seconds.
        """
        proc = self.proc
        if proc is None:
            return True
        on_its_own = True
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                on_its_own = False
                proc.kill()
                proc.wait(5)
        _LIVE.discard(proc)
        self.proc = None
        return on_its_own

    def kill9(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the child."""
        proc = self.proc
        if proc is None:
            return
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        _LIVE.discard(proc)
        self.proc = None


class SimProcess(_Process):
    """``python -m aeries.sim`` on a free loopback port."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        super().__init__("sim", log_dir)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self, timeout: float = 20.0) -> SimProcess:
        d = SIM_DEFAULTS
        args = [sys.executable, "-m", "aeries.sim", "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--ttft-ms", str(d["ttft_ms"])]
        args += ["--itl-ms", str(d["itl_ms"]), "--tokens", str(d["tokens"]), "--seed", "0"]
        self._spawn(args)
        self._wait_ready(f"{self.url}/sim/stats", timeout)
        return self

    def configure(self, **values: Any) -> dict[str, Any]:
        """POST /sim/config (ttft_ms, itl_ms, tokens, fault, fault_after, reply, health_ok)."""
        return http_json(f"{self.url}/sim/config", values)

    def stats(self) -> dict[str, Any]:
        """GET /sim/stats: requests, completed, disconnects, errors, running, last_request."""
        return http_json(f"{self.url}/sim/stats")

    def reset(self) -> None:
        """Zero the counters."""
        http_json(f"{self.url}/sim/reset", {})


class AppProcess(_Process):
    """``streamlit run app.py`` (headless, loopback) pointing at ``base_url`` and ``db_path``.

    ``researcher_secret``: configure it (as its hash) so researchers sign in with it; None
    leaves researcher sign-in unconfigured, which on loopback is local mode (every browser on
    this machine is the researcher). ``env``: more AERIES_* settings.
    """

    def __init__(
        self,
        log_dir: Path,
        base_url: str,
        db_path: Path,
        script: str = "app.py",
        *,
        researcher_secret: str | None = None,
        env: dict[str, str] | None = None,
    ):
        super().__init__(Path(script).stem, log_dir)
        self.base_url = base_url
        self.db_path = db_path
        self.script = script
        self.researcher_secret = researcher_secret
        self.extra_env = dict(env or {})
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AERIES_", "STREAMLIT_"))}
        env |= {"AERIES_BASE_URL": self.base_url, "AERIES_DB": str(self.db_path)}
        if self.researcher_secret is not None:
            env["AERIES_RESEARCHER_SECRET_HASH"] = researcher_secret_hash(self.researcher_secret)
        return env | self.extra_env | {"PYTHONUNBUFFERED": "1"}

    def start(self, timeout: float = 30.0) -> AppProcess:
        args = [sys.executable, "-m", "streamlit", "run", self.script]
        args += ["--server.port", str(self.port), "--server.headless", "true"]
        args += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        # Sources may change while the suite runs: never watch them or rerun on save.
        args += ["--server.fileWatcherType", "none", "--server.runOnSave", "false"]
        self._spawn(args, self.env())
        self._wait_ready(f"{self.url}/_stcore/health", timeout)
        return self


# Personal links (their ?p= token) by app address, then by the name enrolled: a name can be
# enrolled once per database, so the helpers remember the link it got and come back with it.
_LINKS: dict[str, dict[str, str]] = {}


def links_of(base: str) -> dict[str, str]:
    """The personal links (tokens) of the participants enrolled on the app at ``base``."""
    return _LINKS.setdefault(base.rstrip("/"), {})


class Stack:
    """A simulator, the app pointing at it, and a fresh database in ``workdir``.

    ``base_url`` may name the simulator as ``{sim}`` (``http://127.0.0.1:<its port>``), e.g.
    ``"http://user:pw@127.0.0.1:{sim_port}/v1,{sim}/v1"``. By default the app has the researcher
    secret ``RESEARCHER_SECRET`` configured, as a real deployment would (``local=True``: none,
    so the app runs in local mode and every page opened here is the researcher's).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        base_url: str | None = None,
        with_sim: bool = True,
        local: bool = False,
        researcher_secret: str = RESEARCHER_SECRET,
        env: dict[str, str] | None = None,
    ):
        self.workdir = workdir
        self.db_path = workdir / "aeries.duckdb"
        self.sim = SimProcess(workdir)
        self.with_sim = with_sim
        self.local = local
        self.researcher_secret = None if local else researcher_secret
        url = (base_url or "{sim}/v1").format(sim=self.sim.url, sim_port=self.sim.port)
        self.app = AppProcess(
            workdir, url, self.db_path, researcher_secret=self.researcher_secret, env=env
        )
        _LINKS[self.app.url] = {}  # a new database: links of an earlier app here are void

    def start(self) -> Stack:
        try:
            if self.with_sim:
                self.start_sim()
            self.app.start()
        except BaseException:
            self.close()
            raise
        return self

    def start_sim(self) -> None:
        self.sim.start()

    def ensure_app(self) -> None:
        if not self.app.alive():
            self.app.start()

    @property
    def url(self) -> str:
        return self.app.url

    @property
    def links(self) -> dict[str, str]:
        """Participant name -> personal link token, for those the page helpers enrolled."""
        return links_of(self.app.url)

    def stop_app(self) -> bool:
        """Stop the app cleanly (its writer commits what is queued) so the file can be read.
        True if it exited on its own after SIGTERM (False: it had to be killed)."""
        return self.app.stop()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Query the database read-only (the app must be stopped: one process per file)."""
        con = duckdb.connect(str(self.db_path), read_only=True)
        try:
            result = con.execute(sql, params or [])
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            con.close()

    def close(self) -> None:
        self.app.stop()
        self.sim.stop()


# --- page helpers ---------------------------------------------------------------------------

_IDLE_JS = """
([needRendered]) => {
  const app = document.querySelector('[data-testid=stApp]');
  const ok = app
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector('[data-stale=true]')
    && (!needRendered || document.querySelector(needRendered));
  const now = performance.now();
  if (!ok) { window.__e2eIdleSince = null; return false; }
  if (window.__e2eIdleSince == null) window.__e2eIdleSince = now;
  return now - window.__e2eIdleSince >= 150;
}
"""

ASSISTANT = "[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])"
USER = "[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarUser])"
CHAT_BOX = "[data-testid=stChatInputTextArea]"
CURSOR = "▌"


def wait_idle(page: Page, rendered: str | None = "[data-testid=stChatInput]", timeout=20_000):
    """Wait until the script is not running, nothing is stale, and this held for 150 ms."""
    page.evaluate("window.__e2eIdleSince = null")
    page.wait_for_function(_IDLE_JS, arg=[rendered], polling=50, timeout=timeout)


def link_token(base: str, user: str) -> str:
    """The personal link token ``user`` got when enrolled on the app at ``base``."""
    token = links_of(base).get(user)
    if token is None:
        raise KeyError(f"{user!r} has not enrolled on {base} yet (open_chat enrols)")
    return token


def page_url(base: str, path: str = "", user: str | None = None, **params: str) -> str:
    """The address of a page (``""`` is the chat page), signed in as ``user`` by their personal
    link when given, with more query parameters."""
    query = ({LINK_PARAM: link_token(base, user)} if user is not None else {}) | params
    url = f"{base.rstrip('/')}/{path.lstrip('/')}"
    return f"{url}?{urlencode(query, quote_via=quote)}" if query else url


def chat_url(base: str, user: str, conversation: str | None = None) -> str:
    """The chat page opened with ``user``'s personal link (and a conversation)."""
    return page_url(base, "", user, **({"c": conversation} if conversation else {}))


_ENROLLED_JS = """() => {
  const token = new URLSearchParams(location.search).get('p');
  if (token) return {token};
  const error = document.querySelector('[data-testid=stAlertContentError]');
  return error ? {error: error.innerText} : null;
}"""


def start_enrol(page: Page, base: str, user: str) -> None:
    """Open the start page, type ``user`` as the name and press Start (see ``finish_enrol``)."""
    page.goto(f"{base.rstrip('/')}/")
    name = page.get_by_role("textbox", name="Your name or participant ID")
    name.wait_for(timeout=30_000)
    wait_idle(page, rendered=None, timeout=30_000)
    name.fill(user)
    page.get_by_role("button", name="Start", exact=True).click()


def finish_enrol(page: Page, base: str, user: str, timeout: float = 30_000) -> str:
    """Wait until the enrolment started by ``start_enrol`` put a personal link in the URL;
    returns (and remembers for ``base``) its token. A refused name fails with the message."""
    outcome = page.wait_for_function(_ENROLLED_JS, polling=50, timeout=timeout).json_value()
    if "token" not in outcome:
        raise AssertionError(f"enrolling {user!r} was refused: {outcome['error']}")
    links_of(base)[user] = outcome["token"]
    return outcome["token"]


def enrol(page: Page, base: str, user: str) -> str:
    """Take part as ``user`` the way a person does: open the start page, type the name, press
    Start. Returns (and remembers for ``base``) the personal link token the URL then carries."""
    start_enrol(page, base, user)
    return finish_enrol(page, base, user)


def open_chat(page: Page, base: str, user: str, conversation: str | None = None) -> None:
    """Open the chat page as participant ``user`` and wait until it is ready for input.

    The first time on this app, ``user`` enrols through the start page; afterwards (any page,
    any browser context) they come back through the personal link they got."""
    if user in links_of(base):
        page.goto(chat_url(base, user, conversation))
    else:
        enrol(page, base, user)
        if conversation:
            page.goto(chat_url(base, user, conversation))
    page.locator(CHAT_BOX).wait_for(timeout=30_000)
    wait_idle(page, timeout=30_000)


def sidebar_nav(page: Page) -> Locator:
    """The sidebar's navigation (absent while only one page is offered)."""
    return page.get_by_test_id("stSidebarNav")


def nav_links(page: Page) -> Locator:
    """The page links of the sidebar navigation."""
    return sidebar_nav(page).get_by_test_id("stSidebarNavLink")


def nav_titles(page: Page) -> list[str]:
    """The titles of the pages in the sidebar navigation, in order (without their icons)."""
    return nav_links(page).locator("[data-testid=stMarkdownContainer]").all_inner_texts()


def click_nav(page: Page, title: str, rendered: str | None = None) -> None:
    """Go to another page by clicking its link in the sidebar, and wait until it is drawn."""
    link = nav_links(page).filter(
        has=page.locator("[data-testid=stMarkdownContainer]", has_text=title)
    )
    href = link.get_attribute("href")
    link.click()
    page.wait_for_function(
        "href => location.origin + location.pathname === href.split('?')[0]",
        arg=href,
        polling=50,
        timeout=15_000,
    )
    wait_idle(page, rendered=rendered, timeout=30_000)


def submit_researcher_secret(page: Page, base: str, secret: str) -> None:
    """On the start page, open "Researcher sign-in", type ``secret`` and press Sign in."""
    page.goto(f"{base.rstrip('/')}/")
    summary = page.locator("summary", has_text="Researcher sign-in")
    summary.wait_for(timeout=30_000)
    wait_idle(page, rendered=None, timeout=30_000)
    field = page.get_by_label("Researcher secret", exact=True)
    if not field.is_visible():
        summary.click()
    field.fill(secret)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_idle(page, rendered=None, timeout=30_000)


def researcher_cookie(page: Page) -> str | None:
    """The researcher sign-in cookie this page's browser context holds, if any."""
    found = [c for c in page.context.cookies() if c["name"] == RESEARCHER_COOKIE]
    return found[0]["value"] if found and found[0]["value"] else None


def sign_in_researcher(page: Page, base: str, secret: str = RESEARCHER_SECRET) -> None:
    """Sign in as the researcher through the start page's form, and wait until the research
    pages are in the sidebar and the sign-in cookie is set (so a reload or another page opened
    by URL in this context is the researcher's too)."""
    submit_researcher_secret(page, base, secret)
    nav_links(page).filter(has_text="Analytics").wait_for(timeout=30_000)
    wait_for(lambda: researcher_cookie(page), 15, "the researcher sign-in cookie")


def assistant_count(page: Page) -> int:
    return page.locator(ASSISTANT).count()


def type_message(page: Page, text: str) -> None:
    """Type (fill) a message in the chat input and press Enter."""
    box = page.locator(CHAT_BOX)
    box.fill(text)
    box.press("Enter")


def wait_answer(page: Page, count: int, timeout: float = 20_000) -> Locator:
    """Wait until ``count`` answers are on screen, the last finished (no streaming cursor left
    in it), and the page is idle."""
    try:
        page.wait_for_function(
            """([sel, n, cursor]) => {
                 const m = document.querySelectorAll(sel);
                 return m.length >= n && !m[m.length - 1].innerText.includes(cursor);
               }""",
            arg=[ASSISTANT, count, CURSOR],
            polling=50,
            timeout=timeout,
        )
    except PlaywrightTimeoutError:
        answers = page.locator(ASSISTANT)
        shown = answers.count()
        if shown < count:
            raise AssertionError(
                f"{shown} answers on screen after {timeout / 1000:g} s, {count} expected"
            ) from None
        text = answers.last.inner_text()
        ended = (
            "TTFT" in text
            or page.get_by_test_id("stApp").get_attribute("data-test-script-state") == "notRunning"
        )
        raise AssertionError(
            f"after {timeout / 1000:g} s the last answer still shows the streaming cursor "
            f"{CURSOR!r}"
            + (" although it has ended (metrics shown / script idle)" if ended else "")
            + f"; it reads: {text[-400:]!r}"
        ) from None
    wait_idle(page, timeout=timeout)
    return page.locator(ASSISTANT).last


def send(page: Page, text: str, timeout: float = 20_000) -> Locator:
    """Send a message and wait for its answer to finish; returns the answer's chat message."""
    before = assistant_count(page)
    type_message(page, text)
    return wait_answer(page, before + 1, timeout)


def conversation_id(page: Page) -> str | None:
    """The ``c`` query parameter of the page URL."""
    return page.evaluate("new URLSearchParams(location.search).get('c')")


def key_locator(page: Page, key: str) -> Locator:
    """The element container of the widget with this key (Streamlit adds ``st-key-<key>``)."""
    return page.locator(f".st-key-{key.replace('.', '-')}")


def keyed_ids(scope: Page | Locator, prefix: str) -> list[str]:
    """Ids in widget keys ``<prefix>-<id>`` found under ``scope``, in page order."""
    classes = scope.locator(f"[class*='st-key-{prefix}-']").evaluate_all(
        "els => els.map(e => e.className)"
    )
    ids = []
    for names in classes:
        for name in names.split():
            if name.startswith(f"st-key-{prefix}-"):
                ids.append(name[len(f"st-key-{prefix}-") :])
    return ids


def no_tracebacks(page: Page) -> None:
    """Nothing on the page is a Streamlit exception box or Python traceback text."""
    assert page.locator("[data-testid=stException]").count() == 0, "an exception box is shown"
    body = page.locator("body").inner_text()
    assert "Traceback (most recent call last)" not in body, "a traceback is shown"


def open_sidebar_expander(page: Page, label: str) -> Locator:
    """Expand a sidebar expander by its label and return its details block."""
    expander = page.locator("[data-testid=stSidebar] [data-testid=stExpander]").filter(
        has=page.locator("summary", has_text=label)
    )
    details = expander.locator("details")
    if details.get_attribute("open") is None:
        expander.locator("summary").click()
    return expander.locator("[data-testid=stExpanderDetails]")
