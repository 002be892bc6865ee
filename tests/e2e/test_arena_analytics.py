"""Arena and analytics in the browser: two columns stream at once, a vote reveals names, and
the analytics charts render with data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    CHAT_BOX,
    CURSOR,
    ROOT,
    Stack,
    click_nav,
    no_tracebacks,
    open_chat,
    sign_in_researcher,
)

pytestmark = pytest.mark.e2e

_SAMPLE_COLUMNS = """([cursor]) => {
  window.__arenaSamples = [];
  window.__arenaTimer = setInterval(() => {
    const cols = [...document.querySelectorAll('[data-testid=stColumn]')]
      .filter(c => /^Model [AB]/.test(c.innerText.trim()));
    if (cols.length === 2) {
      window.__arenaSamples.push(cols.map(c => c.innerText.includes(cursor)));
    }
  }, 25);
}"""


def test_arena_streams_both_columns_at_once_and_a_vote_reveals_names(
    stack: Stack, page: Page
) -> None:
    stack.sim.configure(ttft_ms=50, itl_ms=25, tokens=60)
    open_chat(page, stack.url, "arena-watcher")
    click_nav(page, "Arena", rendered=CHAT_BOX)
    page.evaluate(_SAMPLE_COLUMNS, [CURSOR])
    box = page.locator(CHAT_BOX)
    box.fill("Which of you is faster?")
    box.press("Enter")
    vote = page.get_by_role("button", name="A is better")
    expect(vote).to_be_enabled(timeout=20_000)
    samples = page.evaluate("clearInterval(window.__arenaTimer); window.__arenaSamples")
    both = [s for s in samples if all(s)]
    assert len(both) >= 3, f"the two columns were never streaming together: {samples[:20]}"
    headers = page.get_by_text("Model A", exact=True)
    expect(headers.first).to_be_visible()
    assert page.get_by_text("sim-", exact=False).count() == 0  # names hidden before the vote
    vote.click()
    expect(page.get_by_text("Vote recorded")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("A · sim-", exact=False).first).to_be_visible()
    expect(page.get_by_role("button", name="B is better")).to_be_disabled()
    no_tracebacks(page)


def test_analytics_charts_render_with_data(stack: Stack, page: Page) -> None:
    stack.stop_app()
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "aeries",
            "demo",
            "--exchanges",
            "3000",
            "--weeks",
            "3",
            "--db",
            str(stack.db_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    stack.ensure_app()
    sign_in_researcher(page, stack.url)  # analytics is the researcher's
    click_nav(page, "Analytics")
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts.first).to_be_visible(timeout=30_000)
    assert charts.count() >= 4
    drawn = page.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg")
    expect(drawn.first).to_be_visible(timeout=10_000)
    box = drawn.first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    expect(page.get_by_text("llama-3.1-8b-instruct").first).to_be_visible()
    no_tracebacks(page)
