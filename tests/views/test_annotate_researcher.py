"""The Annotate page as a researcher uses it, through AppTest (local mode: the researcher):
rubrics written as TOML (refusals name the line, never a traceback; a change is a new
version; a stored rubric comes back as the TOML it was), queues made from filters (a filter
matching nothing says so), their progress, and agreement with adjudication."""

from __future__ import annotations

import re

from aeries.annotation.rubric import parse_rubric_toml
from aeries.store.annotation import (
    adjudications,
    list_queues,
    list_rubrics,
    next_item,
    queue_labels,
    rubric_version,
    submit,
)
from aeries.ui.annotate.toml_text import rubric_toml
from tests.views.test_annotate import (
    MODEL,
    RUBRIC,
    make_queue,
    open_annotate,
    rater_link,
    runtime,
    seed_exchanges,
)

SECTION = "aeries.annotate.section"


def section(app, name: str):
    at = open_annotate(app)
    at.segmented_control(key=SECTION).set_value(name).run()
    assert not at.exception, at.exception
    return at


def rubric_editor(at):
    return next(t for t in at.text_area if (t.key or "").startswith("aeries.annotate.rubric_text"))


def plain(text: str) -> str:
    """Text as it reads on screen (the page escapes Markdown in what it says)."""
    return re.sub(r"\\(.)", r"\1", text)


def errors(at) -> list[str]:
    return [plain(e.value) for e in at.error]


def successes(at) -> list[str]:
    return [plain(s.value) for s in at.success]


# --- rubrics ------------------------------------------------------------------------------


def test_a_rubric_pasted_as_toml_is_saved_and_a_change_is_a_new_version(app, env) -> None:
    rt = runtime()
    at = section(app, "Rubrics")
    rubric_editor(at).set_value(RUBRIC)
    at.button(key="aeries.annotate.rubric_save").click().run()
    assert not at.exception
    assert any("as version 1" in s for s in successes(at))
    [saved] = list_rubrics(rt.db)
    assert saved.spec == parse_rubric_toml(RUBRIC).spec()
    # The stored rubric is shown back as TOML, and a change makes version 2.
    shown = rubric_editor(at).value
    assert parse_rubric_toml(shown) == parse_rubric_toml(RUBRIC)
    rubric_editor(at).set_value(shown.replace("How helpful", "How useful"))
    at.button(key="aeries.annotate.rubric_save").click().run()
    assert any("as version 2" in s for s in successes(at))
    assert rubric_version(rt.db, saved.rubric_id, 1).spec == saved.spec  # kept
    rubric_editor(at).set_value(rubric_editor(at).value)
    at.button(key="aeries.annotate.rubric_save").click().run()
    assert any("unchanged: still version 2" in s for s in successes(at))


BAD = {
    "not TOML": ('name = "x"\n[[items]\nkey = 1', "not valid TOML"),
    "unknown kind": (
        'name = "x"\n\n[[items]]\nkey = "a"\nprompt = "A?"\nkind = "stars"\n',
        "Line 6: Item kind must be one of",
    ),
    "likert without labels": (
        'name = "x"\n\n[[items]]\nkey = "a"\nprompt = "A?"\nkind = "likert"\n',
        "likert item needs",
    ),
    "no items": ('name = "x"\n', "at least one [[items]]"),
    "bad key": (
        'name = "x"\n\n[[items]]\nkey = "Bad Key"\nprompt = "A?"\nkind = "text"\n',
        "Line 4:",
    ),
}


def test_a_rubric_file_that_cannot_be_used_is_refused_with_its_line(app, env) -> None:
    rt = runtime()
    at = section(app, "Rubrics")
    for name, (text, said) in BAD.items():
        rubric_editor(at).set_value(text)
        at.button(key="aeries.annotate.rubric_save").click().run()
        assert not at.exception, name
        assert any(said in e for e in errors(at)), (name, errors(at))
    assert list_rubrics(rt.db) == []


def test_a_stored_rubric_round_trips_through_its_toml() -> None:
    rubric = parse_rubric_toml(RUBRIC)
    assert parse_rubric_toml(rubric_toml(rubric)) == rubric


# --- queues -------------------------------------------------------------------------------


def test_a_queue_is_made_from_filters_and_its_progress_shown(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 6)
    rubric = parse_rubric_toml(RUBRIC)
    from aeries.store.annotation import save_rubric

    save_rubric(rt.db, rubric.name, rubric.spec(), by="researcher")
    at = section(app, "Queues")
    assert any("6 exchanges match" in c.value for c in at.caption)
    at.text_input(key="aeries.annotate.new_queue.name").input("First batch")
    at.multiselect(key="aeries.annotate.new_queue.models").select(MODEL)
    at.radio(key="aeries.annotate.new_queue.sampling").set_value("random").run()
    at.number_input(key="aeries.annotate.new_queue.size").set_value(4)
    at.number_input(key="aeries.annotate.new_queue.raters").set_value(2)
    at.number_input(key="aeries.annotate.new_queue.seed").set_value(7)
    at.button(key="aeries.annotate.new_queue.create").click().run()
    assert not at.exception
    assert any("4 items, 2 raters each" in s for s in successes(at))
    [queue] = list_queues(rt.db)
    assert (queue.sampling, queue.seed, queue.raters_per_item) == ("random", 7, 2)
    assert queue.filters["models"] == [MODEL] and queue.filters["sample_size"] == 4

    rater, _ = rater_link(rt, "rita")
    item = next_item(rt.db, queue, rater)
    submit(rt.db, queue, item, rater, "labelled", {"helpful": "3"})
    at.run()
    table = at.dataframe[0].value
    assert table.loc[0, "items"] == 4 and table.loc[0, "labels"] == 1
    per_rater = at.dataframe[1].value
    assert list(per_rater["rater"]) == ["rita"] and list(per_rater["labelled"]) == [1]
    assert any(f"annotate?queue={queue.id}" in c.value for c in at.code)

    at.button(key=f"aeries.annotate.close.{queue.id}").click().run()
    assert list_queues(rt.db)[0].status == "closed"
    at.button(key=f"aeries.annotate.reopen.{queue.id}").click().run()
    assert list_queues(rt.db)[0].status == "open"


def test_a_queue_whose_filters_match_nothing_says_so(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 2)
    rubric = parse_rubric_toml(RUBRIC)
    from aeries.store.annotation import save_rubric

    save_rubric(rt.db, rubric.name, rubric.spec(), by="researcher")
    at = section(app, "Queues")
    at.text_input(key="aeries.annotate.new_queue.name").input("Errors only")
    at.multiselect(key="aeries.annotate.new_queue.statuses").set_value(["error"]).run()
    assert any("0 exchanges match" in c.value for c in at.caption)
    at.button(key="aeries.annotate.new_queue.create").click().run()
    assert not at.exception
    assert any("No exchange matches these filters" in e for e in errors(at))
    assert list_queues(rt.db) == []


def test_without_a_rubric_the_queues_section_says_to_make_one(app, env) -> None:
    at = section(app, "Queues")
    assert any("make a rubric first" in i.value for i in at.info)


# --- agreement and adjudication -----------------------------------------------------------


def test_agreement_per_question_and_adjudication_keeps_the_raw_labels(app, env) -> None:
    rt = runtime()
    exchanges = seed_exchanges(rt, 12)
    queue = make_queue(rt, raters_per_item=2)
    first, _ = rater_link(rt, "rita")
    second, _ = rater_link(rt, "sam")
    # They agree on every item but the last two, where they are four points apart.
    disagree = set(exchanges[-2:])
    for rater in (first, second):
        while (item := next_item(rt.db, queue, rater)) is not None:
            value = str(1 + exchanges.index(item) % 5)
            if item in disagree:
                value = "1" if rater == first else "5"
            submit(rt.db, queue, item, rater, "labelled", {"helpful": value, "tone": "warm"})
    at = section(app, "Agreement")
    table = at.dataframe[0].value
    helpful = table[table["question"] == "How helpful is the answer?"].iloc[0]
    assert helpful["n"] == 12 and helpful["raters"] == 2
    assert helpful["α (95% CI)"].startswith("0.") and "(" in helpful["α (95% CI)"]
    assert "linear" in helpful["κ (95% CI)"]
    assert helpful["agreement (95% CI)"].startswith("83%")  # 10 of 12 items
    why = table[table["question"] == "Anything else?"].iloc[0]
    assert "Free text" in why["note"]

    listed = at.dataframe[1].value
    assert len(listed) == 2 and set(listed["question"]) == {"How helpful is the answer?"}
    pick = at.selectbox(key="aeries.annotate.adjudicate_pick")
    exchange = pick.value.split("|")[0]
    assert exchange in disagree
    raters = at.dataframe[2].value
    assert sorted(raters["rater"]) == ["rita", "sam"]
    assert sorted(raters["How helpful is the answer?"]) == ["1 · Not at all", "5 · Extremely"]
    at.radio(key=f"aeries.annotate.adjudicated.{exchange}.helpful").set_value("3")
    at.text_input(key=f"aeries.annotate.adjudicated.{exchange}.helpful.note").input("middle")
    at.button(key=f"aeries.annotate.adjudicate.{exchange}.helpful").click().run()
    assert not at.exception
    assert any("Recorded" in s for s in successes(at))
    assert adjudications(rt.db, queue.id) == {(exchange, "helpful"): "3"}
    kept = {
        r["value"]
        for r in queue_labels(rt.db, queue.id)
        if r["exchange_id"] == exchange and r["item_key"] == "helpful"
    }
    assert kept == {"1", "5"}  # the raters' labels stay

    listed = at.dataframe[1].value
    settled = listed[listed["item"] == f"…{exchange[-8:]}"].iloc[0]
    assert settled["adjudicated"] == "3 · Somewhat"
    # Four points apart is worse than chance: listed even at the lowest threshold.
    at.slider(key="aeries.annotate.threshold").set_value(0.0).run()
    assert not at.exception
    assert len(at.dataframe[1].value) == 2


def test_agreement_with_too_few_items_says_why(app, env) -> None:
    rt = runtime()
    seed_exchanges(rt, 2)
    queue = make_queue(rt, raters_per_item=1)
    rater, _ = rater_link(rt, "rita")
    while (item := next_item(rt.db, queue, rater)) is not None:
        submit(rt.db, queue, item, rater, "labelled", {"helpful": "2"})
    at = section(app, "Agreement")
    notes = " ".join(str(n) for n in at.dataframe[0].value["note"])
    assert "rater" in notes  # one rater: agreement needs two


def test_the_example_rubric_file_is_valid_and_uses_every_kind() -> None:
    from tests.helpers import ROOT

    rubric = parse_rubric_toml((ROOT / "rubrics" / "example.toml").read_text())
    assert {i.kind for i in rubric.items} == {"likert", "categorical", "boolean", "text"}
    assert {i.observer for i in rubric.items} >= {"satisfaction", "correction"}
