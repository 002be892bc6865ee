"""Fixtures for the browser suite: a simulator and the Streamlit app as real subprocesses, and a
headless Chromium driven by Playwright.

Each module shares one stack (simulator + app + temporary database); a test that needs its own
(a dead endpoint, a locked database, a killed app) builds one with ``make_stack``. A stack has a
researcher secret configured, as a real deployment would (``make_stack(local=True)`` runs one in
local mode instead). Tests use a participant of their own, enrolled through the start page the
first time ``open_chat`` names them and signed in by their personal link afterwards, so they
never see each other's conversations; the researcher signs in with ``sign_in_researcher``.
On failure, a screenshot of every page the test opened lands in ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS, SIM_DEFAULTS, Stack

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    report = getattr(node, "rep_call", None)
    return report is not None and report.failed


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run (Debian's, never a downloaded one)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Factory of pages, each in a fresh browser context (separate cookies and storage).

    On failure, every page opened is saved as ``artifacts/<test>[-n].png``.
    """
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def make(**options: object) -> Page:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    if _failed(request.node):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for index, page in enumerate(pages):
            suffix = f"-{index}" if index else ""
            # A page that crashed or closed has nothing to save.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """One page in a fresh context."""
    return new_page()


@pytest.fixture
def make_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Factory of stacks owned by one test (stopped after it)."""
    stacks: list[Stack] = []

    def make(**options: object) -> Stack:
        stack = Stack(tmp_path_factory.mktemp("stack"), **options)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack.start()

    yield make
    for stack in stacks:
        stack.close()


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack shared by a module's tests."""
    stack = Stack(tmp_path_factory.mktemp("stack")).start()
    yield stack
    stack.close()


@pytest.fixture
def stack(module_stack: Stack) -> Stack:
    """The module's stack with the simulator's defaults restored and its counters zeroed;
    the app is started again if an earlier test stopped it."""
    if module_stack.sim.alive():
        module_stack.sim.configure(**SIM_DEFAULTS)
        module_stack.sim.reset()
    else:
        module_stack.start_sim()
    module_stack.ensure_app()
    return module_stack
