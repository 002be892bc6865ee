"""The arena page through AppTest: blind columns, vote, reveal, lock, leaderboard."""

from __future__ import annotations

from tests.helpers import db_rows, send


def open_arena(app):
    at = app().run()
    at.switch_page("views/arena.py").run()
    assert not at.exception
    return at


def headers(at) -> list[str]:
    """Column headers as read on screen (markdown escapes removed)."""
    return [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("**")]


def test_blind_round_hides_names_until_vote_then_reveals_and_locks(app, env, sim):
    at = open_arena(app)
    at.selectbox(key="arena.model.1").select_index(2).run()  # sim-mistral-7b
    at.chat_input(key="arena.prompt").set_value("Which is better?").run()
    assert not at.exception
    shown = headers(at)
    assert "**Model A**" in shown and "**Model B**" in shown
    assert not any("sim-" in h for h in shown)
    battle_id = db_rows(env, "SELECT id FROM battles")[0][0]
    at.multiselect(key=f"arena.reasons.{battle_id}").set_value(["clearer"])
    at.button(key=f"arena.vote.{battle_id}.a.None").click().run()
    assert not at.exception
    revealed = headers(at)
    assert any("sim-llama-3.1-8b" in h for h in revealed)
    assert any("sim-mistral-7b" in h for h in revealed)
    assert at.button(key=f"arena.vote.{battle_id}.b.None").disabled
    assert db_rows(env, "SELECT outcome, reasons FROM votes") == [("a", ["clearer"])]
    assert db_rows(env, "SELECT count(*) FROM exchanges WHERE source = 'arena'") == [(2,)]
    board = at.dataframe[0].value
    assert set(board["model"]) == {"sim-llama-3.1-8b", "sim-mistral-7b"}
    assert list(board["votes"]) == [1, 1]


def test_leaderboard_empty_state(app, env):
    at = open_arena(app)
    assert any("No votes yet" in i.value for i in at.info)


def test_regenerate_and_new_round(app, env, sim):
    at = open_arena(app)
    at.chat_input(key="arena.prompt").set_value("again please").run()
    at.button(key="arena.regen").click().run()
    assert not at.exception
    assert db_rows(env, "SELECT count(*), count(DISTINCT prompt) FROM battles") == [(2, 1)]
    at.button(key="arena.new").click().run()
    assert any("Write a prompt" in c.value for c in at.caption)


def test_continue_sends_each_side_its_own_history(app, env, sim):
    at = open_arena(app)
    at.chat_input(key="arena.prompt").set_value("one").run()
    at.toggle(key="arena.continue").set_value(True).run()
    at.chat_input(key="arena.prompt").set_value("two").run()
    assert not at.exception
    parents = db_rows(env, "SELECT parent_battle_id IS NOT NULL FROM battles ORDER BY created_at")
    assert parents == [(False,), (True,)]
    last_two = [r for r in sim.stats.requests_log if "response_format" not in r][-2:]
    assert all(
        [m["role"] for m in r["messages"] if m["role"] != "system"] == ["user", "assistant", "user"]
        for r in last_two
    )


def test_blank_prompt_is_refused(app, env):
    at = open_arena(app)
    at.chat_input(key="arena.prompt").set_value("   ").run()
    assert any("empty or blank" in w.value for w in at.warning)
    assert db_rows(env, "SELECT count(*) FROM battles") == [(0,)]


def test_carrying_on_from_a_regenerated_answer_is_an_implicit_preference(app, env, sim):
    at = app().run()
    send(at, "pick one")
    first = db_rows(env, "SELECT id FROM messages WHERE role='assistant'")[0][0]
    at.button(key=f"regen-{first}").click().run()
    second = db_rows(env, "SELECT id FROM messages WHERE role='assistant' AND id <> ?", [first])[0][
        0
    ]
    at.button(key=f"prev-{second}").click().run()  # back to the first answer
    send(at, "continuing from the first")
    prefs = db_rows(env, "SELECT kind, source, winner, exchange_a, exchange_b FROM preferences")
    ex = dict(db_rows(env, "SELECT id, exchange_id FROM messages WHERE role='assistant'"))
    assert prefs == [("implicit", "chat", "a", ex[first], ex[second])]
    same_ttft = """SELECT p.ttft_a_ms = ea.ttft_ms AND p.ttft_b_ms = eb.ttft_ms
                   FROM preferences p JOIN exchanges ea ON ea.id = p.exchange_a
                   JOIN exchanges eb ON eb.id = p.exchange_b"""
    assert db_rows(env, same_ttft) == [(True,)]
    send(at, "and once more")  # carrying on again from the same answer adds nothing
    assert db_rows(env, "SELECT count(*) FROM preferences") == [(1,)]


def _app_runtime():
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    return _runtime(load_settings(secrets={}))


def _round(sim, *, finished: bool):
    from aeries.arena import start_round
    from tests.test_arena import contestants

    if not finished:
        sim.config.itl_ms, sim.config.tokens = 20, 400
    battle = start_round(_app_runtime(), "u", contestants(sim), "unseen", blind=False)
    if finished:
        assert battle.wait(10)
    return battle


def test_a_round_that_finished_before_the_page_drew_it_is_logged(app, env, sim):
    at = open_arena(app)
    at.session_state["arena.round"] = _round(sim, finished=True)  # e.g. after a Stop rerun
    at.run()
    assert not at.exception
    assert db_rows(env, "SELECT count(*) FROM battles") == [(1,)]
    assert db_rows(env, "SELECT count(*) FROM exchanges WHERE source = 'arena'") == [(2,)]


def test_new_round_stops_and_logs_the_round_it_drops(app, env, sim):
    at = open_arena(app)
    at.session_state["arena.round"] = _round(sim, finished=True)
    at.run()  # the round's buttons are on screen
    battle = _round(sim, finished=False)
    at.session_state["arena.round"] = battle  # a round still streaming when New round is hit
    at.button(key="arena.new").click().run()
    assert not at.exception
    assert battle.finished
    rows = db_rows(
        env,
        "SELECT e.status FROM exchanges e JOIN battle_sides s ON s.exchange_id = e.id "
        "WHERE s.battle_id = ?",
        [battle.id],
    )
    assert rows == [("aborted",), ("aborted",)]
    assert sim.stats.disconnects == 2


def expanders(at) -> list[str]:
    return [e.label for e in at.expander]


def test_blind_round_shows_no_reasoning_panel_until_the_vote(app, env, sim):
    """A Reasoning panel on one side only would tell which side is the reasoning model."""
    at = open_arena(app)
    at.selectbox(key="arena.model.1").select_index(1).run()  # sim-qwen3-8b reasons
    at.chat_input(key="arena.prompt").set_value("Think, then answer").run()
    assert not at.exception
    assert "Reasoning" not in expanders(at)
    battle_id = db_rows(env, "SELECT id FROM battles")[0][0]
    assert db_rows(env, "SELECT count(*) FROM exchanges WHERE reasoning_text IS NOT NULL") == [
        (1,)
    ]  # one side did reason
    at.button(key=f"arena.vote.{battle_id}.tie.None").click().run()
    assert "Reasoning" in expanders(at)  # shown once names are


def test_a_participant_sees_only_their_own_votes_in_the_leaderboard(app, env, sim):
    from tests.helpers import participant_link

    alice = app(participant_link(env, "alice")).run()
    alice.switch_page("views/arena.py").run()
    alice.chat_input(key="arena.prompt").set_value("alice asks").run()
    battle_id = db_rows(env, "SELECT id FROM battles")[0][0]
    alice.button(key=f"arena.vote.{battle_id}.a.None").click().run()
    assert list(alice.dataframe[0].value["votes"]) == [1, 1]
    bob = app(participant_link(env, "bob")).run()
    bob.switch_page("views/arena.py").run()
    assert not bob.dataframe  # alice's vote is hers
    assert any("No votes yet" in i.value for i in bob.info)
    researcher = open_arena(app)  # local mode: sees every vote
    assert list(researcher.dataframe[0].value["votes"]) == [1, 1]


def test_a_round_is_shown_finished_only_once_its_rows_are_saved(app, env, sim, monkeypatch):
    from aeries.config import load_settings
    from aeries.ui.arena import rounds
    from aeries.ui.resources import _runtime

    at = open_arena(app)
    rt = _runtime(load_settings(secrets={}))
    rt.writer.max_delay_s = 5.0  # a writer slow to commit, as on a loaded machine
    seen: list[int] = []
    draw = rounds.metrics_caption

    def committed_then_draw(*args, **kwargs):
        # No flush: what is on disk when a side's metrics line is drawn.
        seen.append(rt.db.one("SELECT count(*) FROM exchanges WHERE source = 'arena'")[0])
        return draw(*args, **kwargs)

    monkeypatch.setattr(rounds, "metrics_caption", committed_then_draw)
    at.chat_input(key="arena.prompt").set_value("Which is better?").run()
    assert not at.exception
    assert seen and all(n == 2 for n in seen)  # both sides' exchanges, every time
