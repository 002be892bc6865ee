"""The app stopping at the worst moment: ``kill -9`` in the middle of an answer leaves that
answer in the database as 'interrupted' with what had been shown, and a clean stop (SIGTERM)
right after an answer still lands the observer's call that was running.

Both fail on the code before these changes (``git show 1a4ba6f^:…``): no start page to enrol
through. Before 7427b0f, also: the exchange and the partial answer were written only when the
stream ended (after kill -9 only the question was stored), and at a clean stop the observer's
call in progress was dropped (the runtime did not drain it at exit).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    CURSOR,
    Stack,
    conversation_id,
    no_tracebacks,
    open_chat,
    type_message,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e

# Plain words, one streamed piece each: what the page shows is the stored text, word for word.
WORDS = [f"w{i:03d}" for i in range(400)]
INFLIGHT_REFRESH_S = 2.0  # aeries.store.inflight.REFRESH_S
# Kill half-way between two refreshes of the in-flight text (the first is ~2 s after the first
# token, the next ~4 s): the text stored then has reached the screen well before the kill.
KILL_AFTER_S = 1.5 * INFLIGHT_REFRESH_S


def _answer_words(page: Page) -> list[str]:
    text = (
        page.locator(ASSISTANT)
        .last.locator("[data-testid=stMarkdownContainer]")
        .evaluate_all("els => els.map(e => e.innerText).join(' ')")
    )
    return [w for w in text.replace(CURSOR, " ").split() if w in _KNOWN]


_KNOWN = frozenset(WORDS)


def test_kill_9_mid_stream_leaves_an_interrupted_answer(
    make_stack: Callable[..., Stack], page: Page
) -> None:
    stack = make_stack()
    stack.sim.configure(ttft_ms=50, itl_ms=40, tokens=len(WORDS), reply=" ".join(WORDS))
    open_chat(page, stack.url, "crash-victim")
    type_message(page, "Count slowly to four hundred")
    page.wait_for_function(
        """([sel, first]) => {
             const m = document.querySelectorAll(sel);
             return m.length === 1 && m[0].innerText.includes(first);
           }""",
        arg=[ASSISTANT, WORDS[0]],
        polling=20,
        timeout=20_000,
    )
    streaming_since = page.evaluate("performance.now()")
    # Not a synchronisation: the in-flight text is refreshed every 2 s, so the kill must come
    # after the first refresh for the row to hold more than the first token.
    page.wait_for_function(
        "([t0, ms]) => performance.now() - t0 >= ms",
        arg=[streaming_since, KILL_AFTER_S * 1000],
        polling=20,
        timeout=20_000,
    )
    still_streaming = CURSOR in page.locator(ASSISTANT).last.inner_text()
    stack.app.kill9()
    shown = _answer_words(page)  # the page keeps what it had when the server died
    assert still_streaming and len(shown) < len(WORDS), "the answer ended before the kill"
    assert shown == WORDS[: len(shown)] and len(shown) > 5, shown[:20]
    conv = conversation_id(page)
    assert conv

    stack.ensure_app()
    page.reload()
    wait_idle(page, timeout=30_000)
    answer = page.locator(ASSISTANT).last
    expect(answer.get_by_test_id("stAlertContentWarning")).to_contain_text("Interrupted")
    after_restart = _answer_words(page)
    assert after_restart, "the partial answer is not shown after the restart"
    no_tracebacks(page)

    stack.stop_app()
    exchanges = stack.rows(
        "SELECT id, status, response_text FROM exchanges WHERE source = 'chat'"
        " AND conversation_id = ?",
        [conv],
    )
    assert [e["status"] for e in exchanges] == ["interrupted"], exchanges
    stored = exchanges[0]["response_text"].split()
    assert stored, "the interrupted exchange has no text"
    assert stored == shown[: len(stored)], (
        f"the stored text ({len(stored)} words) is not a prefix of the {len(shown)} shown"
    )
    assert after_restart == stored
    messages = stack.rows(
        "SELECT status, content, exchange_id FROM messages"
        " WHERE conversation_id = ? AND role = 'assistant'",
        [conv],
    )
    assert [(m["status"], m["content"]) for m in messages] == [
        ("interrupted", exchanges[0]["response_text"])
    ]
    assert messages[0]["exchange_id"] == exchanges[0]["id"]


def test_sigterm_right_after_an_answer_keeps_the_observers_exchange(
    make_stack: Callable[..., Stack], page: Page
) -> None:
    stack = make_stack()
    # Every call waits 1.5 s for its first token: the observer's, which starts when the answer
    # ends, is still running when the app is told to stop.
    stack.sim.configure(ttft_ms=1500, itl_ms=5, tokens=20)
    open_chat(page, stack.url, "last-word")
    type_message(page, "One short question before closing time")
    page.wait_for_function(
        """([sel, cursor]) => {
             const m = document.querySelectorAll(sel);
             return m.length === 1 && m[0].innerText.includes('TTFT')
               && !m[0].innerText.includes(cursor);
           }""",
        arg=[ASSISTANT, CURSOR],
        polling=20,
        timeout=30_000,
    )
    conv = conversation_id(page)
    assert conv
    # The observer's request has reached the simulator (the chat's was the first) and waits.
    stats = wait_for(lambda: (s := stack.sim.stats())["requests"] >= 2 and s, 10, "the observer")
    assert stats["running"] >= 1, "the observer's call already ended: nothing to wait for"
    assert stack.stop_app(), "the app did not exit within 10 s of SIGTERM (it was killed)"

    [chat] = stack.rows(
        "SELECT id FROM exchanges WHERE source = 'chat' AND conversation_id = ?", [conv]
    )
    observed = stack.rows(
        "SELECT status, json_extract_string(params, '$.observed_exchange_id') AS observed"
        " FROM exchanges WHERE source = 'observer' AND conversation_id = ?",
        [conv],
    )
    assert observed, "the observer's exchange was lost at shutdown"
    assert [(e["status"], e["observed"]) for e in observed] == [("ok", chat["id"])], observed
    # The observer's signals are about the exchange it observed.
    signals = stack.rows(
        "SELECT name, exchange_id FROM signals WHERE kind = 'observer' AND conversation_id = ?",
        [conv],
    )
    assert signals, "the observer's signals were lost at shutdown"
    assert "observer_error" not in {s["name"] for s in signals}, signals
    assert {s["exchange_id"] for s in signals} == {chat["id"]}
