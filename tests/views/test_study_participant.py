"""A study participant's page through AppTest: consent to completion code, exits, resuming,
and that a study link opens nothing but the study."""

from __future__ import annotations

import pytest

from aeries.studies.spec import parse_study

STUDY = """
id = "pilot"
title = "Talking with an assistant"
consent = "Do you agree to take part?"
instructions = "Chat a little, then answer two questions."

[chat]
min_turns = 2

[assignment]
seed = 7

[[conditions]]
name = "neutral"
system_prompt = "Be brief."

[[conditions]]
name = "warm"
system_prompt = "Be warm."

[[pre]]
id = "uses_ai"
kind = "single"
text = "How often do you use AI assistants?"
options = ["Never", "Sometimes", "Every day"]
screen_out = ["Never"]

[[post]]
id = "helpful"
kind = "likert"
text = "The assistant was helpful."
scale = ["Disagree", "Neutral", "Agree"]

[[post]]
id = "attention"
kind = "single"
text = "Pick Blue."
options = ["Red", "Blue"]
correct = "Blue"

[exits]
completed = "DONE123"
declined = "NOPE123"
screened_out = "SCRN123"
failed_attention = "ATTN123"
redirect = "https://app.prolific.com/submissions/complete?cc={code}&s={SESSION_ID}"
"""
LINK = {"study": "pilot", "PROLIFIC_PID": "pp01", "STUDY_ID": "s1", "SESSION_ID": "x y"}


def _runtime():
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime as cached

    return cached(load_settings(secrets={}))


@pytest.fixture
def live_study(app, env):
    at = app().run()  # builds the runtime
    rt = _runtime()
    from aeries.store.studies import save_study_version, set_study_status

    study = parse_study(STUDY)
    save_study_version(rt.db, study.id, study.title, study.config_hash, STUDY)
    set_study_status(rt.db, study.id, "live")
    return at


def _open(app, **link):
    return app({**LINK, **link}).run()


def _click(at, key):
    at.button(key=key).click().run()
    assert not at.exception
    return at


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [s.value for s in at.success] + [i.value for i in at.info] + [c.value for c in at.code]
    return "\n".join(parts)


def _enrolment(pid="pp01"):
    rows = _runtime().db.rows(
        "SELECT step, status, condition, completion_code, config_hash FROM enrolments"
        " WHERE participant_key = ?",
        [pid],
    )
    return rows[0] if rows else None


def _through_chat(app, at):
    at = _click(at, "study.agree")
    at = _click(at, "study.instructions_done")
    at.radio(key="study.item.uses_ai").set_value("Every day")
    at.button[0].click().run()  # the form's submit
    assert _enrolment()[0] == "chat"
    for text in ("Hello there", "Tell me more"):
        at.chat_input(key="study.input").set_value(text).run()
        assert not at.exception
    return at


def test_declining_consent_shows_the_declined_code(app, live_study):
    at = _click(_open(app), "study.decline")
    assert "NOPE123" in _texts(at)
    assert _enrolment()[:2] == ("done", "declined")


def test_the_whole_study_ends_with_the_completion_code_and_redirect(app, live_study):
    at = _through_chat(app, _open(app))
    at = _click(at, "study.chat_done")
    at.radio(key="study.item.helpful").set_value("Agree")
    at.radio(key="study.item.attention").set_value("Blue")
    at.button[0].click().run()
    assert not at.exception
    assert "DONE123" in _texts(at)
    step, status, condition, code, config_hash = _enrolment()
    assert (step, status, code) == ("done", "completed", "DONE123")
    url = at.get("link_button")[0].proto.url
    assert url == "https://app.prolific.com/submissions/complete?cc=DONE123&s=x%20y"
    rt = _runtime()
    rt.writer.flush()
    rows = rt.db.rows(
        "SELECT study_id, study_hash, study_condition, request_messages FROM exchanges"
        " WHERE source = 'chat'"
    )
    assert len(rows) == 2
    assert {r[:3] for r in rows} == {("pilot", config_hash, condition)}
    prompt = "Be brief." if condition == "neutral" else "Be warm."
    assert all(prompt in r[3] for r in rows)  # the condition's system prompt was sent
    answers = rt.db.rows("SELECT item_id, value_number, correct FROM answers ORDER BY item_id")
    assert answers == [("attention", None, True), ("helpful", 3.0, None), ("uses_ai", None, None)]


def test_a_reload_resumes_at_every_step(app, live_study):
    at = _open(app)
    at = _click(at, "study.agree")
    assert _open(app).button(key="study.instructions_done")  # a new session, same step
    at = _click(at, "study.instructions_done")
    again = _open(app)
    assert again.radio(key="study.item.uses_ai")
    at.radio(key="study.item.uses_ai").set_value("Sometimes")
    at.button[0].click().run()
    again = _open(app)
    assert again.chat_input(key="study.input")
    assert _enrolment()[0] == "chat"


def test_a_screening_answer_ends_with_its_code(app, live_study):
    at = _click(_click(_open(app), "study.agree"), "study.instructions_done")
    at.radio(key="study.item.uses_ai").set_value("Never")
    at.button[0].click().run()
    assert "SCRN123" in _texts(at)
    assert _enrolment()[1] == "screened_out" and _enrolment()[2] is None  # took no slot


def test_a_failed_attention_check_ends_with_its_code(app, live_study):
    at = _click(_through_chat(app, _open(app)), "study.chat_done")
    at.radio(key="study.item.helpful").set_value("Neutral")
    at.radio(key="study.item.attention").set_value("Red")
    at.button[0].click().run()
    assert "ATTN123" in _texts(at)
    assert _enrolment()[1] == "failed_attention"


def test_a_required_answer_missing_is_asked_for_and_nothing_moves(app, live_study):
    at = _click(_click(_open(app), "study.agree"), "study.instructions_done")
    at.button[0].click().run()
    assert any("needs an answer" in e.value for e in at.error)
    assert _enrolment()[0] == "pre"


def test_a_second_visit_after_completion_shows_the_same_code(app, live_study):
    _click(_open(app), "study.decline")
    again = _open(app)
    assert "NOPE123" in _texts(again)
    assert not again.button  # nothing to do again


def test_a_participant_id_alone_does_not_show_anyones_chat(app, live_study):
    at = _through_chat(app, _open(app))
    assert len(at.chat_message) >= 4  # their own session shows their conversation
    stranger = _open(app)  # the same participant id, without this session's proof
    assert stranger.chat_input(key="study.input")  # resumes the step…
    assert len(stranger.chat_message) == 0  # …but shows nobody's words


def test_a_study_link_opens_nothing_but_the_study(app, live_study):
    at = _open(app)
    text = _texts(at)
    assert "Do you agree to take part?" in text
    for word in ("Analytics", "Participants", "Studies", "Arena", "neutral", "warm"):
        assert word not in text
    assert not at.sidebar.button and not at.sidebar.markdown  # no navigation, no identity box
    with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not listed
        at.switch_page("views/analytics.py").run()


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ({"study": "nope"}, "There is no study at this link"),
        ({"PROLIFIC_PID": ""}, "no participant id"),
        ({"PROLIFIC_PID": "bad id!"}, "not valid"),
    ],
)
def test_bad_links_say_so_plainly(app, live_study, link, message):
    at = _open(app, **link)
    assert not at.exception
    assert any(message in i.value for i in at.info)


def test_a_paused_study_takes_no_new_participant_but_lets_one_continue(app, live_study):
    from aeries.store.studies import set_study_status

    _click(_open(app), "study.agree")
    set_study_status(_runtime().db, "pilot", "paused")
    assert any("paused" in i.value for i in _open(app, PROLIFIC_PID="pp02").info)
    assert _open(app).button(key="study.instructions_done")  # the enrolled one goes on


def test_a_reload_with_the_signed_proof_shows_the_chat_again(app, live_study):
    from aeries.auth import study_proof

    at = _through_chat(app, _open(app))
    proof = at.query_params["st"]
    proof = proof[0] if isinstance(proof, list) else proof
    assert len(_open(app, st=proof).chat_message) == 4  # the same tab, reloaded
    _open(app, PROLIFIC_PID="pp02")
    other = _runtime().db.one("SELECT id FROM enrolments WHERE participant_key = 'pp02'")
    forged = study_proof(_runtime().key, other[0])  # someone else's valid proof
    assert len(_open(app, st=forged).chat_message) == 0


def test_a_thumb_in_the_study_chat_is_a_signal_carrying_the_study(app, live_study):
    at = _through_chat(app, _open(app))
    rt = _runtime()
    rt.writer.flush()
    answer = rt.db.one("SELECT id FROM messages WHERE role = 'assistant' ORDER BY created_at")[0]
    at.feedback(key=f"study.thumbs.{answer}").set_value(1).run()
    assert not at.exception
    rt.writer.flush()
    _, _, condition, _, config_hash = _enrolment()
    rows = rt.db.rows(
        "SELECT name, value_num, message_id, study_id, study_hash, study_condition FROM signals"
        " WHERE kind = 'feedback'"
    )
    assert rows == [("thumbs", 1.0, answer, "pilot", config_hash, condition)]


def test_the_study_proof_is_not_a_personal_link_into_the_app(app, live_study):
    at = _through_chat(app, _open(app))
    proof = at.query_params["st"]
    proof = proof[0] if isinstance(proof, list) else proof
    crafted = app({"p": proof}).run()  # the proof pasted as a personal link, no study
    assert not crafted.exception
    text = _texts(crafted)
    assert "Hello there" not in text and "Tell me more" not in text
    participant = _runtime().db.one("SELECT user_id FROM enrolments")[0]
    state = crafted.session_state
    identity = state["aeries.identity"] if "aeries.identity" in state else None  # noqa: SIM401
    # Not the study participant (here: the local researcher, as anyone at this machine is).
    assert identity is None or identity.user_id != participant
    assert identity is None or identity.via != "link"


def test_a_message_sent_after_another_device_moved_on_is_still_logged(app, live_study):
    from aeries.store.studies import get_enrolment, update_enrolment

    at = _through_chat(app, _open(app))
    rt = _runtime()
    enrolment_id = rt.db.one("SELECT id FROM enrolments")[0]
    enrolment = get_enrolment(rt.db, enrolment_id)
    update_enrolment(rt.db, enrolment, step="post")  # as a second device finishing the chat
    at.chat_input(key="study.input").set_value("One more thing").run()
    assert not at.exception
    assert at.radio(key="study.item.helpful")  # this device now shows where they are
    rt.writer.flush()
    rows = rt.db.rows(
        "SELECT status, study_id FROM exchanges WHERE source = 'chat' AND "
        "CAST(request_messages AS VARCHAR) LIKE '%One more thing%'"
    )
    assert len(rows) == 1 and rows[0][1] == "pilot"  # sent, then closed and logged


def test_a_condition_whose_model_is_not_served_says_so_and_counts_nothing(app, env):
    from aeries.store.studies import save_study_version, set_study_status

    app().run()
    text = STUDY.replace(
        'system_prompt = "Be brief."', 'system_prompt = "Be brief."\nmodel = "gone"'
    )
    text = text.replace('system_prompt = "Be warm."', 'system_prompt = "Be warm."\nmodel = "gone"')
    study = parse_study(text)
    rt = _runtime()
    save_study_version(rt.db, study.id, study.title, study.config_hash, text)
    set_study_status(rt.db, study.id, "live")
    at = _click(_click(_open(app), "study.agree"), "study.instructions_done")
    at.radio(key="study.item.uses_ai").set_value("Every day")
    at.button[0].click().run()
    at.chat_input(key="study.input").set_value("Hello?").run()
    assert not at.exception
    assert any("not available right now" in e.value for e in at.error)
    assert _enrolment()[0] == "chat"
    assert rt.db.one("SELECT turns FROM enrolments") == (0,)
