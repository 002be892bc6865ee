"""A study whose task is the arena: blind rounds between the condition's contestants, names
never shown, the study's number of votes, every row carrying the study."""

from __future__ import annotations

from aeries.studies.spec import parse_study
from tests.views.test_study_participant import _runtime

STUDY = """
id = "duel"
title = "Which answer is better?"
consent = "Do you agree?"
tasks = ["arena"]

[arena]
votes = 2

[[conditions]]
name = "cold"
temperature = 0.2
arena_models = ["sim-llama-3.1-8b", "sim-qwen3-8b"]

[[conditions]]
name = "hot"
temperature = 1.2
arena_models = ["sim-llama-3.1-8b", "sim-qwen3-8b"]

[exits]
completed = "DUEL1"
"""


def _vote_a(at):
    button = next(b for b in at.button if b.label == "A is better")
    button.click().run()
    assert not at.exception
    return at


def test_an_arena_study_takes_its_votes_blind_and_records_the_study(app, env):
    app().run()
    rt = _runtime()
    from aeries.store.studies import save_study_version, set_study_status

    study = parse_study(STUDY)
    save_study_version(rt.db, study.id, study.title, study.config_hash, STUDY)
    set_study_status(rt.db, study.id, "live")
    at = app({"study": "duel", "pid": "v1"}).run()
    at.button(key="study.agree").click().run()
    for prompt in ("Name a colour", "Name a bird"):
        assert not [b for b in at.button if b.key == "study.arena_done"]
        at.chat_input(key="study.arena.prompt").set_value(prompt).run()
        assert not at.exception
        shown = " ".join(m.value for m in at.markdown)
        assert "**Model A**" in shown and "sim-llama" not in shown and "sim-qwen" not in shown
        at = _vote_a(at)
        shown = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.success)
        assert "sim-llama" not in shown and "revealed" not in shown  # still blind after the vote
    at.button(key="study.arena_done").click().run()
    assert "DUEL1" in " ".join(c.value for c in at.code)
    rt.writer.flush()
    condition, config_hash, votes = rt.db.one(
        "SELECT condition, config_hash, votes FROM enrolments WHERE participant_key = 'v1'"
    )
    assert votes == 2
    expected = {("duel", config_hash, condition)}
    for table in ("battles", "votes"):
        assert set(rt.db.rows(f"SELECT study_id, study_hash, study_condition FROM {table}")) == (
            expected
        )
    arena_calls = rt.db.rows(
        "SELECT study_id, study_hash, study_condition, params FROM exchanges WHERE source = 'arena'"
    )
    assert len(arena_calls) == 4 and {r[:3] for r in arena_calls} == expected
    temperature = 0.2 if condition == "cold" else 1.2
    assert all(f'"temperature": {temperature}' in r[3] for r in arena_calls)


def test_a_study_file_with_an_arena_task_needs_contestants():
    import pytest

    from aeries.studies.spec import StudyFileError

    text = STUDY.replace('arena_models = ["sim-llama-3.1-8b", "sim-qwen3-8b"]\n', "", 1)
    with pytest.raises(StudyFileError) as error:
        parse_study(text)
    assert "arena_models" in error.value.message
    assert error.value.line == text.splitlines().index("[[conditions]]") + 1  # the first table


def test_the_report_rates_the_arena_per_condition_and_counts_steps(app, env):
    from aeries.studies import report

    test_an_arena_study_takes_its_votes_blind_and_records_the_study(app, env)
    rt = _runtime()
    rt.writer.flush()
    condition = rt.db.one("SELECT condition FROM enrolments")[0]
    board = report.arena_ratings(rt.db, "duel", rounds=20)
    assert set(board["condition"]) == {condition}
    assert sorted(board["model"]) == ["sim-llama-3.1-8b", "sim-qwen3-8b"]
    assert board["votes"].tolist() == [2, 2]  # both rounds, seen from each model
    # "A is better" twice: A's model won each time (positions are shuffled per round).
    assert board["wins"].sum() == 2 and board["ties"].sum() == 0
    steps = report.step_funnel(rt.db, "duel")
    reached = dict(zip(steps["step"], steps["reached"], strict=True))
    assert reached == {"consent": 1, "arena": 1, "done": 1}
    assert steps["there_now"].sum() == 0  # completed: nobody is at a step any more


def test_the_studies_page_shows_the_arena_ratings(app, env):
    test_an_arena_study_takes_its_votes_blind_and_records_the_study(app, env)
    at = app().run()
    at.switch_page("views/studies.py").run()
    assert not at.exception
    assert any("Arena ratings per condition" in c.value for c in at.caption)
    boards = [d.value for d in at.dataframe if "model" in d.value.columns]
    assert len(boards) == 1 and sorted(boards[0]["model"]) == ["sim-llama-3.1-8b", "sim-qwen3-8b"]
