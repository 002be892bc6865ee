"""Aeries' chat page versus a minimal Streamlit chat page, in a real browser, in one run.

Both pages run as ``streamlit run`` subprocesses against one simulator and are driven by one
headless Chromium, interleaved answer by answer (A, B, A, B, …) so machine noise hits both.
The baseline (``bench/minimal_chat_page.py``) hands the openai stream to ``st.write_stream``:
one screen update per token, each re-sending the whole text so far.

Measured per answer, in the page: time from the Enter keydown to the first answer text on
screen (in three cases: the first message of a freshly loaded page, in a new browser
context; the first message after New chat; and the next message of that conversation, with
its history on the page) and to the complete answer on screen (a MutationObserver samples
the answer's text); and the websocket bytes the browser received from Enter until the app
is idle again (for Aeries this includes the rerun that redraws the finished answer with its
buttons).

    python -m bench.bench_browser [--ttft-ms 150] [--itl-ms 10] [--short 12] [--long 3]

``--short`` rounds of three answers each (60 tokens) give the first-token figures; ``--long``
answers (1,500 tokens) give the last-token and bytes figures. Prints medians and ratios, and where
Aeries' first-token time goes (from its exchange log: when the request left, and its TTFT).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, WebSocket, sync_playwright

from bench._common import today
from tests.e2e.helpers import (  # the repo's test helpers: processes, page waits
    CHAT_BOX,
    CHROMIUM,
    CHROMIUM_ARGS,
    RESEARCHER_SECRET,
    AppProcess,
    SimProcess,
    open_chat,
    open_sidebar_expander,
    wait_idle,
)

ROOT = Path(__file__).resolve().parent.parent
BASELINE_PAGE = "bench/minimal_chat_page.py"  # relative to ROOT, as `streamlit run` takes it

ANSWER = "[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])"
CASES = ("fresh page", "after New chat", "later turn")
LONG_TOKENS = 1500
SHORT_TOKENS = 60

# Installed once per page. Per answer, `__bench.arm()` resets the samples; the Enter keydown
# stamps t0; every DOM mutation re-reads the newest answer's text (cursor, whitespace and
# buttons left out) and records (time, length) when the length changed.
_RECORDER_JS = """([answerSel]) => {
  if (window.__bench) return;
  const b = window.__bench = {t0: null, wall0: null, samples: [], before: 0};
  b.arm = () => {
    b.t0 = null; b.wall0 = null; b.samples = [];
    b.before = document.querySelectorAll(answerSel).length;
  };
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter' && b.t0 === null) { b.t0 = performance.now(); b.wall0 = Date.now(); }
  }, true);
  const skip = 'button, [data-testid=stCaptionContainer], [data-testid=stPopover], '
    + '[data-testid=stExpander], [data-testid=stAlert]';
  new MutationObserver(() => {
    if (b.t0 === null) return;
    const m = document.querySelectorAll(answerSel);
    if (m.length <= b.before) return;
    const parts = [...m[m.length - 1].querySelectorAll('[data-testid=stMarkdownContainer]')]
      .filter(e => !e.closest(skip));
    // Whitespace is left out: streamed paragraphs are separate elements, the redrawn answer one.
    const n = parts.map(e => e.textContent).join('').replace(/[\\s\\u258c]+/g, '').length;
    const s = b.samples;
    if (!s.length || s[s.length - 1][1] !== n) s.push([performance.now() - b.t0, n]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@dataclass
class Subject:
    """One chat page under test: its server, browser page and websocket byte counter."""

    name: str
    app: AppProcess
    page: Page | None = None
    ws_bytes: int = 0
    first_ms: dict[str, list[float]] = field(default_factory=dict)  # by CASES
    sent_at: dict[str, float] = field(default_factory=dict)  # question -> Enter (epoch s)
    first_by_question: dict[str, float] = field(default_factory=dict)
    last_ms: list[float] = field(default_factory=list)
    bytes_long: list[int] = field(default_factory=list)
    chars_long: list[int] = field(default_factory=list)

    def count(self, ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: self._add(payload))

    def _add(self, payload: str | bytes) -> None:
        self.ws_bytes += len(payload)


def _ready(page: Page) -> None:
    wait_idle(page, rendered=CHAT_BOX, timeout=60_000)


def _new_chat(subject: Subject, max_tokens: int | None = None) -> None:
    """Start a new conversation, then set Aeries' Max tokens (the persona's default is 1,024,
    too few for the long answers) so whatever a new chat loads, the setting holds."""
    page = subject.page
    assert page is not None
    page.get_by_role("button", name="New chat").first.click()
    _ready(page)
    if max_tokens:
        details = open_sidebar_expander(page, "Model & sampling")
        field_ = details.get_by_role("spinbutton", name="Max tokens")
        field_.fill(str(max_tokens))
        field_.press("Enter")
        _ready(page)


def _answer(subject: Subject, text: str) -> tuple[float, float, int, int]:
    """Send ``text``; (ms to first text, ms to complete text, ws bytes, answer chars)."""
    page = subject.page
    assert page is not None
    page.evaluate("window.__bench.arm()")
    box = page.locator(CHAT_BOX)
    box.fill(text)
    start_bytes = subject.ws_bytes
    box.press("Enter")
    try:
        page.wait_for_function(
            "() => window.__bench.samples.some(s => s[1] > 0)", polling=100, timeout=60_000
        )
    except Exception:
        shot = Path(tempfile.gettempdir()) / f"bench-browser-{subject.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"{subject.name}: no answer text for {text!r}; screenshot: {shot}", file=sys.stderr)
        raise
    time.sleep(0.3)  # let the run get going before waiting for it to end
    _ready(page)
    received = subject.ws_bytes - start_bytes
    samples = page.evaluate("window.__bench.samples")
    final = samples[-1][1]
    first = next(t for t, n in samples if n > 0)
    last = next(t for t, n in samples if n == final)
    subject.sent_at[text] = page.evaluate("window.__bench.wall0") / 1000
    subject.first_by_question[text] = first
    return first, last, received, final


def _open(subject: Subject, url: str, browser, participant: str | None = None) -> None:
    """Open the page in a new browser context, a new session (for Aeries: ``participant``
    signs in through the start page, as a person does, then comes back with the link it
    got) before anything is measured; the previous context is closed."""
    if subject.page is not None:
        subject.page.context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("websocket", subject.count)
    if participant is None:
        page.goto(url)
    else:
        open_chat(page, url, participant)
    _ready(page)
    page.evaluate(_RECORDER_JS, [ANSWER])
    subject.page = page


def _aeries_breakdown(aeries: Subject, db_path: Path) -> dict[str, float] | None:
    """Where Aeries' time goes, from its own log (read once the app stopped): Enter → request
    sent (exchanges.started_at), request → first chunk (ttft_ms), first chunk → first text on
    screen (the rest); and for long answers, request → last chunk read (e2e_ms)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT epoch(started_at), ttft_ms, e2e_ms, request_messages FROM exchanges"
            " WHERE source = 'chat' AND ttft_ms IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    before, server, after, e2e_long, pre_long = [], [], [], [], []
    for started, ttft, e2e, messages in rows:
        question = json.loads(messages)[-1]["content"]
        if question not in aeries.sent_at:
            continue
        pre = (started - aeries.sent_at[question]) * 1000
        if question.startswith("Long"):
            e2e_long.append(e2e)
            pre_long.append(pre)
            continue
        before.append(pre)
        server.append(ttft)
        after.append(aeries.first_by_question[question] - pre - ttft)
    if not before:
        return None
    result = {
        "enter_to_request": _median(before),
        "request_to_first_chunk": _median(server),
        "first_chunk_to_screen": _median(after),
    }
    if e2e_long:
        result["long_enter_to_last_chunk"] = _median(pre_long) + _median(e2e_long)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttft-ms", type=float, default=150.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--short", type=int, default=12, help="short answers per page")
    parser.add_argument("--long", type=int, default=3, help="1,500-token answers per page")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="aeries-bench-browser-"))
    sim = SimProcess(work).start()
    sim.configure(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, tokens=SHORT_TOKENS)
    # A researcher secret is configured, as in a real deployment: without one, a browser on this
    # machine would be the researcher of local mode, not a participant.
    aeries = Subject(
        "Aeries",
        AppProcess(work, sim.base_url, work / "aeries.duckdb", researcher_secret=RESEARCHER_SECRET),
    )
    minimal = Subject(
        "minimal",
        AppProcess(work, sim.base_url, work / "unused.duckdb", BASELINE_PAGE),
    )
    subjects = [aeries, minimal]
    try:
        for subject in subjects:
            subject.app.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            _open(aeries, aeries.app.url, browser, participant="bench")
            _open(minimal, minimal.app.url, browser)
            for subject in subjects:  # warm-up: first answer of each server
                _answer(subject, "Warm up")
                _new_chat(subject)
            urls = {"Aeries": (aeries.app.url, "bench"), "minimal": (minimal.app.url, None)}
            for i in range(args.short):
                for subject in subjects if i % 2 == 0 else subjects[::-1]:
                    _open(subject, urls[subject.name][0], browser, urls[subject.name][1])
                    questions = (
                        f"Short question number {i}",
                        f"Short question number {i}, after New chat",
                        f"And a follow-up to question {i}",
                    )
                    for case, question in zip(CASES, questions, strict=True):
                        if case == "after New chat":
                            _new_chat(subject)
                        first, *_ = _answer(subject, question)
                        subject.first_ms.setdefault(case, []).append(first)
            sim.configure(tokens=LONG_TOKENS)
            wanted = {"Aeries": 2 * LONG_TOKENS, "minimal": None}
            for subject in subjects:
                _new_chat(subject, wanted[subject.name])
            for i in range(args.long):
                for subject in subjects if i % 2 == 0 else subjects[::-1]:
                    first, last, received, chars = _answer(subject, f"Long question number {i}")
                    subject.last_ms.append(last)
                    subject.bytes_long.append(received)
                    subject.chars_long.append(chars)
                    _new_chat(subject, wanted[subject.name])
            browser.close()
    finally:
        for subject in subjects:
            subject.app.stop()
        sim.stop()

    _report(aeries, minimal, args, _aeries_breakdown(aeries, work / "aeries.duckdb"))
    return 0


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _report(
    aeries: Subject,
    minimal: Subject,
    args: argparse.Namespace,
    breakdown: dict[str, float] | None,
) -> None:
    last_a, last_m = _median(aeries.last_ms), _median(minimal.last_ms)
    bytes_a, bytes_m = _median(aeries.bytes_long), _median(minimal.bytes_long)
    print(
        f"simulator: TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms; "
        f"{args.short} first-token samples per case and {len(aeries.last_ms)} "
        f"{LONG_TOKENS:,}-token answers per page, interleaved; {today()}"
    )
    for case in CASES:
        a, m = aeries.first_ms[case], minimal.first_ms[case]
        print(
            f"  first token, {case:15}: Aeries p50 {_median(a):5.0f} ms "
            f"(min {min(a):.0f}, max {max(a):.0f}) | minimal p50 {_median(m):5.0f} ms "
            f"(min {min(m):.0f}, max {max(m):.0f}) | Aeries / minimal "
            f"{_median(a) / _median(m):.3f} (target ≤ 1.05)"
        )
    for s in (aeries, minimal):
        print(
            f"  {s.name:8} last token p50 {_median(s.last_ms):7.0f} ms | "
            f"ws bytes per long answer p50 {_median(s.bytes_long):>11,.0f} "
            f"({_median(s.chars_long):,.0f} chars)"
        )
    print(f"last token:  Aeries / minimal = {last_a / last_m:.3f}")
    print(f"ws bytes:    minimal / Aeries = {bytes_m / bytes_a:.1f}× (target ≥ 5×)")
    if breakdown:
        print(
            "Aeries first token, p50 by stage: Enter → request sent "
            f"{breakdown['enter_to_request']:.0f} ms, request → first chunk "
            f"{breakdown['request_to_first_chunk']:.0f} ms, first chunk → on screen "
            f"{breakdown['first_chunk_to_screen']:.0f} ms"
        )
    if breakdown and "long_enter_to_last_chunk" in breakdown:
        print(
            "Aeries long answers, p50: Enter → last chunk read by the app "
            f"{breakdown['long_enter_to_last_chunk']:.0f} ms; on screen {last_a:.0f} ms"
        )


if __name__ == "__main__":
    raise SystemExit(main())
