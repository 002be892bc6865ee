"""The researcher's Studies page through AppTest: a study file saved (or refused with its
line), the status buttons, freezing into versions, the funnel."""

from __future__ import annotations

from tests.views.test_study_participant import STUDY, _runtime


def _page(app):
    at = app().run()
    at.switch_page("views/studies.py").run()
    assert not at.exception
    return at


def _save(at, text):
    at.text_area[0].set_value(text)
    at.button(key="studies.save").click().run()
    assert not at.exception
    return at


def test_a_bad_study_file_is_refused_with_its_line(app, env):
    at = _page(app)
    bad = STUDY.replace('name = "warm"', 'name = "warm"\ncolour = "red"')
    at = _save(at, bad)
    line = bad.splitlines().index('colour = "red"') + 1
    assert [e.value for e in at.error] == [
        f"Line {line}: Unknown key `conditions.1.colour` (allowed here: arena_models, brief, "
        "description, "
        "endpoint, max_tokens, model, name, persona, system_prompt, temperature, thinking, "
        "top_p)."
    ]
    assert _runtime().db.rows("SELECT id FROM studies") == []


def test_saving_going_live_and_a_frozen_edit_make_versions(app, env):
    at = _save(_page(app), STUDY)
    assert any("Saved pilot as version 1" in s.value for s in at.success)
    at.button(key="studies.status.live").click().run()
    db = _runtime().db
    assert db.one("SELECT status FROM studies") == ("live",)
    assert db.one("SELECT frozen_at IS NOT NULL FROM study_versions") == (True,)
    at = _save(at, STUDY.replace('"Be warm."', '"Be very warm."'))
    assert any("version 2" in s.value for s in at.success)
    hashes = db.rows("SELECT config_hash FROM study_versions ORDER BY version")
    assert len({h for (h,) in hashes}) == 2
    at.button(key="studies.status.paused").click().run()
    assert db.one("SELECT status FROM studies") == ("paused",)
    assert at.button(key="studies.status.live")  # resume is offered


def test_the_funnel_counts_enrolments_per_condition(app, env):
    at = _save(_page(app), STUDY)
    at.button(key="studies.status.live").click().run()
    for pid in ("a1", "a2"):
        participant = app({"study": "pilot", "pid": pid}).run()
        participant.button(key="study.decline").click().run()
    at = _page(app)
    funnel = at.dataframe[0].value
    assert funnel["enrolled"].tolist() == [2] and funnel["declined"].tolist() == [2]
    assert "No completed participant" in " ".join(c.value for c in at.caption)


def test_an_idle_participant_counts_as_dropped_after_30_minutes(app, env):
    from datetime import timedelta

    from aeries.ids import utcnow
    from aeries.studies import report
    from aeries.studies.spec import parse_study

    at = _save(_page(app), STUDY)
    at.button(key="studies.status.live").click().run()
    app({"study": "pilot", "pid": "idle1"}).run().button(key="study.agree").click().run()
    db, study = _runtime().db, parse_study(STUDY)
    assert report.funnel(db, study)["dropped"].tolist() == [0]  # in progress, just now
    later = report.funnel(db, study, now=utcnow() + timedelta(minutes=31))
    assert later["in_progress"].tolist() == [1] and later["dropped"].tolist() == [1]
