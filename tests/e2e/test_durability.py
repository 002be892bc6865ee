"""``kill -9`` of the app while people chat: every answer that was shown finished (its metrics
line on screen) before the kill is in the database, and the database opens cleanly afterwards.
The page draws that line only once the writer has committed the answer's rows, so there is no
grace period: on a loaded machine a commit can take longer than any fixed margin."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ASSISTANT,
    CHAT_BOX,
    CURSOR,
    Stack,
    key_locator,
    no_tracebacks,
    open_chat,
    wait_idle,
)

pytestmark = pytest.mark.e2e

PAGES = 3
TARGET = 50  # exchanges started in all

# Installed in each page: records (wall-clock ms) when the answer to the message carrying
# `window.__e2eTag` is complete on screen (the last message is an answer to that question,
# with its metrics caption and without the cursor), so Python can poll slowly.
_RECORDER_JS = """([cursor]) => {
  window.__e2eEnded = {};
  window.__e2eTag = null;
  setInterval(() => {
    const tag = window.__e2eTag;
    if (!tag || window.__e2eEnded[tag]) return;
    const all = document.querySelectorAll('[data-testid=stChatMessage]');
    if (all.length < 2) return;
    const answer = all[all.length - 1];
    if (!answer.querySelector('[data-testid=stChatMessageAvatarAssistant]')) return;
    if (!all[all.length - 2].textContent.includes(tag)) return;
    const text = answer.textContent;  // no layout, unlike innerText
    if (text.includes('TTFT') && !text.includes(cursor)) window.__e2eEnded[tag] = Date.now();
  }, 10);
}"""
_STATE_JS = """(box) => {
  const input = document.querySelector(box);
  const app = document.querySelector('[data-testid=stApp]');
  return {
    ended: !window.__e2eTag || !!window.__e2eEnded[window.__e2eTag],
    ready: !!input && !input.disabled
      && app.getAttribute('data-test-script-state') === 'notRunning'
      && !document.querySelector('[data-stale=true]'),
  };
}"""
NEW_CHAT_EVERY = 5  # long conversations make every rerun slower; people start new chats too
# Generous bounds on how long the machine may take (2 busy cores run the app, the simulator,
# Chromium and the test): only for failing clearly instead of hanging, never a timing claim.
START_ALL_S = 240  # to start TARGET exchanges
NEXT_ANSWER_S = 90  # for one more answer to complete on screen after the last message


@dataclass
class Driver:
    """One person sending probe messages one after the other, as fast as the page allows."""

    index: int
    page: Page
    tags: list[str] = field(default_factory=list)  # sent, in order
    new_chat_pending: bool = False

    def ended(self) -> dict[str, float]:
        """Tag -> when its answer was complete on screen (seconds, wall clock)."""
        times = self.page.evaluate("window.__e2eEnded")
        return {tag: t / 1000 for tag, t in times.items()}

    def step(self, may_send: bool) -> bool:
        """Send the next message if the page is ready for it; True if one was sent."""
        state = self.page.evaluate(_STATE_JS, CHAT_BOX)
        if not (state["ended"] and may_send and state["ready"]):
            return False
        if self.tags and len(self.tags) % NEW_CHAT_EVERY == 0 and not self.new_chat_pending:
            self.new_chat_pending = True
            key_locator(self.page, "aeries.new_chat").get_by_role("button").click()
            return False
        self.new_chat_pending = False
        tag = f"probe-{self.index}-{len(self.tags):03d}-end"
        self.page.evaluate("tag => { window.__e2eTag = tag; }", tag)
        box = self.page.locator(CHAT_BOX)
        box.fill(f"Durability {tag}")
        box.press("Enter")
        self.tags.append(tag)
        return True


def _last_user_text(request_messages: str) -> str:
    messages = json.loads(request_messages)
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def test_kill_9_loses_no_finished_exchange(
    make_stack: Callable[..., Stack], new_page: Callable[[], Page]
) -> None:
    stack = make_stack()
    stack.sim.configure(ttft_ms=20, itl_ms=10, tokens=12)
    drivers = [Driver(i, new_page()) for i in range(PAGES)]
    for driver in drivers:
        open_chat(driver.page, stack.url, f"durable-{driver.index}")
        driver.page.evaluate(_RECORDER_JS, [CURSOR])

    started = 0
    last_tag = ""
    deadline = time.monotonic() + START_ALL_S
    while started < TARGET:
        assert time.monotonic() < deadline, f"only {started} exchanges started in {START_ALL_S} s"
        for driver in drivers:
            if driver.step(may_send=started < TARGET):
                started += 1
                last_tag = driver.tags[-1]
        time.sleep(0.05)
    # The hardest moment: at once after the answer to the last message is shown finished,
    # while the other pages' answers may still be streaming or settling. (Waiting for that
    # answer by its tag: it may already be complete by the time the loop above ends.)
    deadline = time.monotonic() + NEXT_ANSWER_S
    while not any(last_tag in driver.ended() for driver in drivers):
        assert time.monotonic() < deadline, f"the answer to {last_tag} never completed"
        time.sleep(0.01)
    stack.app.kill9()

    # Whatever the pages saw finished, they saw before the kill (nothing arrives after it).
    ended = {tag: t for d in drivers for tag, t in d.ended().items()}
    due = set(ended)
    assert len(due) >= TARGET * 0.6, f"only {len(due)} exchanges finished before the kill"

    # The database opens cleanly (the WAL is replayed) and holds every finished exchange.
    exchanges = stack.rows(
        "SELECT status, response_text, request_messages FROM exchanges WHERE source = 'chat'"
    )
    by_tag = {_last_user_text(e["request_messages"]).split()[-1]: e for e in exchanges}
    missing = sorted(due - by_tag.keys())
    assert not missing, f"{len(missing)} of {len(due)} finished exchanges were lost: {missing}"
    assert all(by_tag[tag]["status"] == "ok" and by_tag[tag]["response_text"] for tag in due)
    questions = stack.rows("SELECT id, content FROM messages WHERE role = 'user'")
    answers = stack.rows(
        "SELECT parent_id, status FROM messages WHERE role = 'assistant' AND status = 'ok'"
    )
    answered = {a["parent_id"] for a in answers}
    stored = {q["content"].split()[-1]: q["id"] for q in questions}
    assert not sorted(due - stored.keys()), "user messages of finished exchanges were lost"
    assert all(stored[tag] in answered for tag in due), "answers of finished exchanges were lost"
    assert len(exchanges) <= started, "an exchange was stored twice"
    print(
        f"started {started}, shown finished before the kill {len(due)};"
        f" stored after kill -9: {len(exchanges)} exchanges"
    )

    # The app starts again on the same file and shows what was saved.
    stack.app.start()
    page = drivers[0].page
    open_chat(page, stack.url, "durable-0")
    first = page.locator("[data-testid=stSidebar] [class*='st-key-conv-']").last
    expect(first).to_contain_text("Durability probe-0-000-end")
    first.get_by_role("button").click()
    wait_idle(page)
    expect(page.locator(ASSISTANT).first).to_be_visible()
    no_tracebacks(page)
