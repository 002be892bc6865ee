"""The Annotate page as raters meet it, through AppTest: a queue labelled to the end by its N
raters (and nothing for one more), skip, flag and undo, blinding (nothing on a rater's page
names the model, the persona or its prompt, the study condition, or another rater's labels),
and participants kept out of the page and out of a queue by URL.

Data is put in the app's own store through the cached runtime before the page runs, as a
researcher's earlier work and participants' chats would have left it. tests/views/
test_annotate_researcher.py covers rubrics, queues, agreement and adjudication."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import text_format

from aeries.annotation.rubric import parse_rubric_toml
from aeries.annotation.sampling import QueueFilters, matching_exchanges
from aeries.auth import name_key, participant_token
from aeries.ids import new_id
from aeries.runtime import Runtime
from aeries.store.annotation import Queue, create_queue, queue_labels, save_rubric, submit
from aeries.store.users import create_account, set_role
from aeries.ui.annotate.keys import LIKERT_PREFIX
from tests.views.test_sign_in_and_roles import _nav, opens

ANNOTATE = "views/annotate.py"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# What must never reach a rater's page: what made the answer, and what others said of it.
MODEL = "zeta-model-canary-7b"
PERSONA = "Quokka Persona Canary"
SYSTEM_PROMPT = "SYSTEM PROMPT CANARY: you are a quokka"
CONDITION = "condition-canary-warm"
STUDY = "study-canary"
OTHER_LABEL = "OTHER RATER TEXT CANARY"
OTHER_NOTE = "OTHER RATER NOTE CANARY"
SECRETS = (MODEL, PERSONA, SYSTEM_PROMPT, CONDITION, STUDY, OTHER_LABEL, OTHER_NOTE)

RUBRIC = """
name = "Answer quality"
instructions = "Read the conversation, then rate **the last answer** only."

[[items]]
key = "helpful"
prompt = "How helpful is the answer?"
kind = "likert"
labels = ["Not at all", "A little", "Somewhat", "Very", "Extremely"]

[[items]]
key = "tone"
prompt = "What is the answer's tone?"
kind = "categorical"
options = ["warm", "neutral", "cold"]
required = false

[[items]]
key = "why"
prompt = "Anything else?"
kind = "text"
required = false
"""


def runtime() -> Runtime:
    """The runtime the page uses (cached per process, so the test writes where it reads)."""
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    return _runtime(load_settings(secrets={}))


def seed_exchanges(rt: Runtime, n: int, *, offset: int = 0) -> list[str]:
    """``n`` chat answers, each in a conversation of its own with one earlier exchange, made
    with a persona of a study condition: everything a rater must not be shown is on them."""
    db = rt.db
    persona_id = "persona-canary"
    if not db.one("SELECT 1 FROM personas WHERE id = ?", [persona_id]):
        db.execute(
            "INSERT INTO personas (id, name, system_prompt, model, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [persona_id, PERSONA, SYSTEM_PROMPT, MODEL, T0, T0],
        )
    user = create_account(db, f"talker{offset}", name_key(f"talker{offset}"), "invite")
    made = []
    for i in range(offset, offset + n):
        at = T0 + timedelta(minutes=i)
        conv, exchange = new_id(), new_id()
        db.execute(
            "INSERT INTO conversations (id, user_id, title, persona_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [conv, user.id, f"chat {i}", persona_id, at],
        )
        turns = [
            ("user", f"first question {i}"),
            ("assistant", f"first reply {i}"),
            ("user", f"please explain item {i}"),
            ("assistant", f"Here is the answer number {i}."),
        ]
        parent = None
        for j, (role, text) in enumerate(turns):
            mid = new_id()
            db.execute(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, "
                "exchange_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [mid, conv, parent, role, text, exchange if j == 3 else None, at],
            )
            parent = mid
        sent = [{"role": "system", "content": SYSTEM_PROMPT}] + [
            {"role": r, "content": t} for r, t in turns[:3]
        ]
        db.execute(
            "INSERT INTO exchanges (id, user_id, conversation_id, message_id, source, model, "
            "persona_id, request_messages, response_text, status, started_at, study_id, "
            "study_condition) VALUES (?, ?, ?, ?, 'chat', ?, ?, ?, ?, 'ok', ?, ?, ?)",
            [
                exchange,
                user.id,
                conv,
                parent,
                MODEL,
                persona_id,
                json.dumps(sent),
                turns[3][1],
                at,
                STUDY,
                CONDITION,
            ],
        )
        made.append(exchange)
    return made


def make_queue(
    rt: Runtime, raters_per_item: int, *, text: str = RUBRIC, name: str = "Batch one"
) -> Queue:
    """A queue over every seeded exchange, in time order (sampling "all", unshuffled)."""
    rubric = parse_rubric_toml(text)
    version = save_rubric(rt.db, rubric.name, rubric.spec(), by="researcher")
    items = matching_exchanges(rt.db, QueueFilters())
    return create_queue(
        rt.db,
        name=name,
        rubric=version,
        raters_per_item=raters_per_item,
        sampling="all",
        filters=QueueFilters().as_json(),
        seed=1,
        items=items,
        by="researcher",
    )


def rater_link(rt: Runtime, name: str, role: str = "annotator") -> tuple[str, dict[str, str]]:
    """(user id, query parameters of their personal link) for a new account with ``role``."""
    account = create_account(rt.db, name, name_key(name), "invite")
    if role == "annotator":
        set_role(rt.db, account.id, "annotator")
    return account.id, {"p": participant_token(rt.key, account.id, account.link_epoch)}


def open_annotate(app, query: dict[str, str] | None = None):
    """The app opened with ``query``, then the Annotate page (as the sidebar link does)."""
    at = app(query).run()
    assert not at.exception
    at.switch_page(ANNOTATE).run()
    assert not at.exception, at.exception
    return at


def current_item(at) -> str | None:
    """The exchange id of the item on screen (its first Likert widget's key carries it)."""
    prefix = f"{LIKERT_PREFIX}0-"
    for radio in at.radio:
        if (radio.key or "").startswith(prefix):
            return radio.key[len(prefix) :]
    return None


def label_current(at, helpful: str, tone: str | None = None, why: str | None = None) -> str:
    """Answer the item on screen and press Submit; returns its exchange id."""
    exchange = current_item(at)
    assert exchange is not None, "no item on screen"
    at.radio(key=f"{LIKERT_PREFIX}0-{exchange}").set_value(helpful)
    if tone is not None:
        at.radio(key=f"aeries-annotate-item-1-{exchange}").set_value(tone)
    if why is not None:
        at.text_area(key=f"aeries-annotate-item-2-{exchange}").set_value(why)
    at.button(key="aeries-annotate-submit").click().run()
    assert not at.exception, at.exception
    return exchange


def progress_text(at) -> str:
    return " ".join(p.proto.text for p in at.get("progress"))


def page_text(at) -> str:
    """Every string the page sent: each element's proto (markdown, labels, options, help,
    captions, HTML, chat messages), the sidebar included."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


# --- labelling ----------------------------------------------------------------------------


def test_a_queue_is_labelled_to_the_end_by_exactly_its_raters(app, env) -> None:
    rt = runtime()
    exchanges = seed_exchanges(rt, 3)
    queue = make_queue(rt, raters_per_item=2)
    first_id, first = rater_link(rt, "rita")
    second_id, second = rater_link(rt, "sam")
    _, third = rater_link(rt, "tess")

    at = open_annotate(app, first)
    assert "Annotate" in _nav(at)
    assert "0 done · 3 left" in progress_text(at)
    assert at.query_params["queue"] == queue.id  # a reload stays on it
    got = [label_current(at, "4", tone="warm") for _ in exchanges]
    assert sorted(got) == sorted(exchanges) and len(set(got)) == 3
    assert "3 done · 0 left" in progress_text(at)
    assert current_item(at) is None
    assert any("Nothing is left" in s.value for s in at.success)

    other = open_annotate(app, second)
    seen = [label_current(other, "2") for _ in exchanges]
    assert sorted(seen) == sorted(exchanges)
    assert current_item(other) is None

    late = open_annotate(app, third)  # every item has its two raters already
    assert current_item(late) is None
    assert "0 done · 0 left" in progress_text(late)
    assert any("Nothing is left" in s.value for s in late.success)

    labels = queue_labels(rt.db, queue.id)
    helpful = [
        (r["exchange_id"], r["rater_id"], r["value"]) for r in labels if r["item_key"] == "helpful"
    ]
    assert sorted(helpful) == sorted(
        [(e, first_id, "4") for e in exchanges] + [(e, second_id, "2") for e in exchanges]
    )
    tone = {r["rater_id"]: r["value"] for r in labels if r["item_key"] == "tone"}
    assert tone == {first_id: "warm", second_id: None}  # optional, left empty by sam


def test_a_required_item_left_empty_is_refused_and_the_item_stays(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 2)
    queue = make_queue(rt, raters_per_item=1)
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, link)
    shown = current_item(at)
    at.button(key="aeries-annotate-submit").click().run()
    assert not at.exception
    assert any("needs an answer" in e.value for e in at.error)
    assert current_item(at) == shown
    assert queue_labels(rt.db, queue.id) == []


def test_skip_flag_and_undo(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 3)
    queue = make_queue(rt, raters_per_item=1)
    rater, link = rater_link(rt, "rita")
    at = open_annotate(app, link)

    skipped = current_item(at)
    at.checkbox(key=f"aeries-annotate-flag-{skipped}").check()
    at.text_input(key=f"aeries-annotate-note-{skipped}").input("not in English")
    at.button(key="aeries-annotate-skip").click().run()
    assert not at.exception
    labelled = current_item(at)
    assert labelled not in (None, skipped)  # a skipped item is not handed back
    assert "1 done · 2 left" in progress_text(at)

    assert label_current(at, "5", why="first thoughts") == labelled
    after = current_item(at)
    assert after not in (None, skipped, labelled)

    at.button(key="aeries-annotate-undo").click().run()
    assert not at.exception
    assert current_item(at) == labelled  # the undone item comes back, as it was filled in
    assert at.radio(key=f"{LIKERT_PREFIX}0-{labelled}").value == "5"
    assert at.text_area(key=f"aeries-annotate-item-2-{labelled}").value == "first thoughts"
    assert "1 done · 2 left" in progress_text(at)
    label_current(at, "2")

    rows = rt.db.records(
        "SELECT exchange_id, outcome, flagged, note, retracted_at IS NOT NULL AS retracted "
        "FROM submissions WHERE queue_id = ? AND rater_id = ? ORDER BY created_at",
        [queue.id, rater],
    )
    assert [(r["exchange_id"], r["outcome"], r["retracted"]) for r in rows] == [
        (skipped, "skipped", False),
        (labelled, "labelled", True),  # taken back, kept
        (labelled, "labelled", False),
    ]
    assert (rows[0]["flagged"], rows[0]["note"]) == (True, "not in English")
    values = {r["value"] for r in queue_labels(rt.db, queue.id) if r["item_key"] == "helpful"}
    assert values == {"2"}


def test_undo_with_nothing_to_undo_says_so(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 1)
    make_queue(rt, raters_per_item=1)
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, link)
    at.button(key="aeries-annotate-undo").click().run()
    assert not at.exception
    assert any("Nothing to undo" in i.value for i in at.info)


def test_the_researcher_labels_too(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 1)
    queue = make_queue(rt, raters_per_item=1)
    at = open_annotate(app)  # local mode: the researcher
    assert at.segmented_control(key="aeries.annotate.section").value == "Label"
    label_current(at, "3")
    assert [r["value"] for r in queue_labels(rt.db, queue.id) if r["item_key"] == "helpful"] == [
        "3"
    ]


def test_the_keyboard_script_is_on_the_rater_page(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 1)
    make_queue(rt, raters_per_item=1)
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, link)
    scripts = [h.value for h in at.get("html")]
    assert any("__aeriesAnnotateKeys" in s for s in scripts)
    assert any("Keys:" in c.value and "Enter" in c.value for c in at.caption)


def test_a_queue_link_opens_that_queue(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 1)
    make_queue(rt, raters_per_item=1, name="Batch one")
    second = make_queue(rt, raters_per_item=1, name="Batch two")
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, {**link, "queue": second.id})
    assert at.selectbox(key="aeries.annotate.queue").value == second.id


def test_closed_queues_are_not_offered(app, env) -> None:
    from aeries.store.annotation import set_queue_status

    rt = runtime()
    seed_exchanges(rt, 1)
    queue = make_queue(rt, raters_per_item=1)
    set_queue_status(rt.db, queue.id, "closed")
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, {**link, "queue": queue.id})
    assert current_item(at) is None
    assert any("No queue is open" in i.value for i in at.info)


# --- blinding -----------------------------------------------------------------------------


def test_a_rater_sees_nothing_that_unblinds_the_item(app, env) -> None:
    """Another rater labelled (with a text label and a flagged note) first; a second rater
    then works through every item. Nothing the page sends names the model, the persona or
    its prompt, the study or its condition, or the first rater's labels — while the
    conversations themselves are shown."""
    rt = runtime()
    exchanges = seed_exchanges(rt, 3)
    queue = make_queue(rt, raters_per_item=2)
    from aeries.store.annotation import next_item

    other, _ = rater_link(rt, "olga")
    while (item := next_item(rt.db, queue, other)) is not None:
        submit(
            rt.db, queue, item, other, "labelled",
            {"helpful": "1", "tone": "cold", "why": OTHER_LABEL},
            flagged=True, note=OTHER_NOTE,
        )  # fmt: skip
    _, link = rater_link(rt, "rita")
    at = open_annotate(app, link)
    pages = []
    for _ in exchanges:
        text = page_text(at)
        exchange = current_item(at)
        i = exchanges.index(exchange)
        assert f"please explain item {i}" in text and f"answer number {i}" in text
        assert f"first reply {i}" in text  # the conversation up to the answer
        pages.append(text)
        label_current(at, "4")
    pages.append(page_text(at))
    for text in pages:
        for secret in SECRETS:
            assert secret not in text, secret
    # "cold" is one of the rubric's own options, so it is on the page; the other rater's
    # choice of it is not: no widget starts chosen.
    for radio in at.radio:
        assert radio.value is None


# --- who may open it ----------------------------------------------------------------------


@pytest.fixture
def remote(monkeypatch):
    """Sessions come from another machine: local mode never applies."""
    monkeypatch.setattr("aeries.ui.identity.is_local", lambda rt: False)


@pytest.mark.parametrize("researcher_configured", [False, True])
def test_a_participant_cannot_open_the_page_or_a_queue_by_url(
    app, env, remote, monkeypatch, researcher_configured
) -> None:
    from aeries.auth import hash_secret

    if researcher_configured:
        monkeypatch.setenv("AERIES_RESEARCHER_SECRET_HASH", hash_secret("a researcher secret"))
    rt = runtime()
    seed_exchanges(rt, 2)
    queue = make_queue(rt, raters_per_item=1, name="Private batch")
    _, link = rater_link(rt, "pat", role="participant")
    at = app({**link, "queue": queue.id}).run()
    assert not at.exception
    assert "Annotate" not in _nav(at)
    text = page_text(at)
    for shown in ("Private batch", "Answer quality", "answer number", "How helpful"):
        assert shown not in text
    assert not opens(at, ANNOTATE, "Annotate")
    assert current_item(at) is None
    assert not any("answer number" in m.value for m in at.markdown)


def test_the_page_refuses_a_participant_who_reaches_it(app, env, remote) -> None:
    """Defence in depth: the page script run directly as a participant shows no queue."""
    from streamlit.testing.v1 import AppTest

    from tests.helpers import ROOT

    rt = runtime()
    seed_exchanges(rt, 1)
    make_queue(rt, raters_per_item=1, name="Private batch")
    _, link = rater_link(rt, "pat", role="participant")
    at = app(link).run()
    direct = AppTest.from_file(str(ROOT / ANNOTATE), default_timeout=30)
    direct.session_state["aeries.identity"] = at.session_state["aeries.identity"]
    direct.run()
    assert not direct.exception
    assert any("for raters" in e.value for e in direct.error)
    assert "Private batch" not in page_text(direct)
    assert current_item(direct) is None


def test_an_annotator_sees_the_page_in_the_navigation(app, env, remote, monkeypatch) -> None:
    from aeries.auth import hash_secret

    # A researcher sign-in is configured: otherwise the research pages are listed for
    # everyone, to say how to set one up.
    monkeypatch.setenv("AERIES_RESEARCHER_SECRET_HASH", hash_secret("a researcher secret"))
    rt = runtime()
    _, link = rater_link(rt, "rita")
    at = app(link).run()
    assert "Annotate" in _nav(at)
    assert "Analytics" not in _nav(at)  # a rater, not a researcher
