"""Failures a person can meet on the chat page: each gives a clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    USER,
    Stack,
    assistant_count,
    free_port,
    no_tracebacks,
    open_chat,
    open_sidebar_expander,
    send,
    type_message,
    wait_answer,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e


def _answer_text(page: Page) -> str:
    return (
        page.locator(ASSISTANT)
        .last.locator("[data-testid=stMarkdownContainer]")
        .evaluate_all("els => els.map(e => e.innerText).join('\\n')")
    )


@pytest.fixture(scope="module")
def dead_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The app configured with an endpoint where nothing listens."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    stack = Stack(tmp_path_factory.mktemp("dead"), base_url=dead, with_sim=False).start()
    yield stack
    stack.close()


def test_simulator_down_at_start(dead_stack: Stack, page: Page) -> None:
    open_chat(page, dead_stack.url, "early-bird")
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main).to_contain_text("No model server answers right now")
    no_tracebacks(page)
    # Typing anyway sends nothing and breaks nothing.
    type_message(page, "Hello?")
    wait_idle(page)
    assert assistant_count(page) == 0
    expect(main).to_contain_text("No model server answers right now")
    no_tracebacks(page)


def test_simulator_down_says_aeries_is_resting(dead_stack: Stack, page: Page) -> None:
    open_chat(page, dead_stack.url, "resting")
    expect(page.get_by_text("Aeries is resting").first).to_be_visible(timeout=2_000)


def test_simulator_killed_mid_stream(stack: Stack, page: Page) -> None:
    stack.sim.configure(tokens=400, itl_ms=20)
    open_chat(page, stack.url, "unlucky")
    type_message(page, "A long answer, please")
    wait_for(lambda: assistant_count(page) == 1 and len(_answer_text(page)) > 100, 10, "text")
    stack.sim.kill9()
    answer = wait_answer(page, 1)
    expect(answer.get_by_test_id("stAlertContentError")).to_contain_text("broke mid-answer")
    assert len(_answer_text(page)) > 100, "the partial answer was not kept on screen"
    no_tracebacks(page)

    # The server comes back; after Refresh models the conversation goes on.
    stack.start_sim()
    stack.sim.configure(tokens=20)
    open_sidebar_expander(page, "Model & sampling").get_by_role(
        "button", name="Refresh models"
    ).click()
    wait_idle(page)
    answer = send(page, "Are you back?")
    assert answer.get_by_test_id("stAlertContentError").count() == 0
    assert _answer_text(page).strip()
    no_tracebacks(page)


def test_context_length_error(stack: Stack, page: Page) -> None:
    stack.sim.configure(fault="context_length")
    open_chat(page, stack.url, "verbose")
    answer = send(page, "A question that is too long for the model")
    expect(answer.get_by_test_id("stAlertContentError")).to_contain_text("too long for")
    expect(page.locator(USER).last).to_contain_text("too long for the model")
    no_tracebacks(page)
    # The conversation goes on once the fault clears.
    stack.sim.configure(fault=None)
    send(page, "Shorter then")
    assert assistant_count(page) == 2
    no_tracebacks(page)


def test_midstream_error_event(stack: Stack, page: Page) -> None:
    stack.sim.configure(fault="midstream_error", fault_after=8)
    open_chat(page, stack.url, "midstream")
    answer = send(page, "Start, then fail")
    expect(answer.get_by_test_id("stAlertContentError")).to_contain_text("failed mid-answer")
    assert _answer_text(page).strip(), "the partial answer was not kept"
    no_tracebacks(page)


def test_database_locked_by_another_program(tmp_path: Path, page: Page) -> None:
    db = tmp_path / "aeries.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]);"
            " print('open', flush=True); time.sleep(120)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        stack = Stack(tmp_path)
        stack.start()
        try:
            page.goto(f"{stack.url}/")  # the start page needs the database too
            wait_idle(page, rendered="[data-testid=stAlertContentError]", timeout=30_000)
            body = page.locator("body").inner_text()
            assert "in use by another program" in body or "locked by another program" in body
            assert str(holder.pid) in body, "the message does not name the process holding it"
            no_tracebacks(page)
        finally:
            stack.close()
    finally:
        holder.kill()
        holder.wait(5)
