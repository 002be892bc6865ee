"""Arena rounds against the simulator: concurrency, blindness, votes, stops, multi-turn."""

from __future__ import annotations

import random
import time

import pytest

from aeries.arena import Contestant, record_vote, start_round
from aeries.llm import ModelInfo, Sampling
from tests.helpers import wait_until


def contestants(sim, *models: str) -> list[Contestant]:
    names = models or ("sim-llama-3.1-8b", "sim-mistral-7b")
    return [Contestant(ModelInfo(sim.base_url, m), Sampling(max_tokens=200)) for m in names]


def rows(rt, sql, params=None):
    rt.writer.flush()
    return rt.db.rows(sql, params)


def test_two_contestants_stream_concurrently(runtime, sim):
    sim.config.ttft_ms, sim.config.itl_ms, sim.config.tokens = 20, 50, 40
    one = 20 + 39 * 50  # ms for one answer (the simulator's schedule)
    start = time.perf_counter()
    battle = start_round(
        runtime, "u", contestants(sim, "sim-llama-3.1-8b", "sim-llama-3.1-8b"), "race", blind=False
    )
    assert battle.wait(10)
    elapsed = (time.perf_counter() - start) * 1000
    assert elapsed < 1.4 * one, f"{elapsed:.0f} ms: the sides did not overlap"
    assert elapsed < 0.75 * 2 * one
    for side in battle.sides:
        assert side.result.status == "ok" and side.result.completion_tokens == 40 + 1  # EOS


def test_blind_mode_shuffles_positions_over_rounds(runtime, sim):
    rng = random.Random(7)
    cs = contestants(sim)
    orders = set()
    for _ in range(12):
        battle = start_round(runtime, "u", cs, "order?", blind=True, rng=rng)
        battle.wait(10)
        orders.add(tuple(s.contestant.model.id for s in battle.sides))
    assert orders == {
        ("sim-llama-3.1-8b", "sim-mistral-7b"),
        ("sim-mistral-7b", "sim-llama-3.1-8b"),
    }
    fixed = start_round(runtime, "u", cs, "order?", blind=False, rng=rng)
    fixed.wait(10)
    assert [s.contestant.model.id for s in fixed.sides] == ["sim-llama-3.1-8b", "sim-mistral-7b"]


def test_vote_is_linked_to_both_exchanges_and_positions(runtime, sim):
    battle = start_round(
        runtime, "u", contestants(sim), "vote on me", blind=True, rng=random.Random(1)
    )
    battle.wait(10)
    vote = record_vote(runtime, battle, "b", reasons=["clearer"], comment=" nice ")
    assert vote["ms_to_vote"] is not None and vote["ms_to_vote"] >= 0
    stored = rows(runtime, "SELECT outcome, reasons, comment, user_id FROM votes")
    assert stored == [("b", ["clearer"], "nice", "u")]
    pref = rows(
        runtime,
        """SELECT p.winner, p.position_a, p.position_b, ea.model, eb.model,
                                   ea.source, p.model_a, p.model_b
                            FROM preferences p JOIN exchanges ea ON ea.id = p.exchange_a
                            JOIN exchanges eb ON eb.id = p.exchange_b""",
    )
    left, right = battle.sides[0].contestant.model.id, battle.sides[1].contestant.model.id
    assert pref == [("b", 0, 1, left, right, "arena", left, right)]
    sides = rows(runtime, "SELECT position, model FROM battle_sides ORDER BY position")
    assert sides == [(0, left), (1, right)]
    with pytest.raises(ValueError, match="already"):
        record_vote(runtime, battle, "a")


def test_vote_joins_to_latency_and_length(runtime, sim):
    battle = start_round(runtime, "u", contestants(sim), "join", blind=False)
    battle.wait(10)
    record_vote(runtime, battle, "tie")
    joined = rows(
        runtime,
        """SELECT ea.ttft_ms > 0, eb.ttft_ms > 0, ea.completion_tokens,
                                     length(eb.response_text) > 0,
                                     p.ttft_a_ms = ea.ttft_ms AND p.ttft_b_ms = eb.ttft_ms
                              FROM votes v JOIN preferences p ON p.vote_id = v.id
                              JOIN exchanges ea ON ea.id = p.exchange_a
                              JOIN exchanges eb ON eb.id = p.exchange_b""",
    )
    assert joined == [(True, True, 30 + 1, True, True)]  # + 1: the end-of-sequence token


def test_stop_on_one_side_aborts_only_that_side(runtime, sim):
    sim.config.itl_ms, sim.config.tokens = 20, 100
    battle = start_round(runtime, "u", contestants(sim), "stop one", blind=False)
    assert wait_until(lambda: len(battle.sides[0].text) > 0, 5)
    battle.sides[0].stop()
    assert battle.wait(10)
    assert battle.sides[0].result.status == "aborted"
    assert battle.sides[1].result.status == "ok"
    assert battle.sides[1].result.completion_tokens == 100 + 1  # + the end-of-sequence token
    assert wait_until(lambda: sim.stats.disconnects == 1)


def test_vote_waits_for_every_side(runtime, sim):
    sim.config.itl_ms, sim.config.tokens = 20, 100
    battle = start_round(runtime, "u", contestants(sim), "not yet", blind=False)
    with pytest.raises(ValueError, match="finished"):
        record_vote(runtime, battle, "a")
    for side in battle.sides:
        side.stop()
    battle.wait(5)


def test_best_of_three_is_recorded_as_pairwise_outcomes(runtime, sim):
    cs = contestants(sim, "sim-llama-3.1-8b", "sim-mistral-7b", "sim-qwen3-8b")
    battle = start_round(runtime, "u", cs, "three way", blind=True, rng=random.Random(3))
    battle.wait(10)
    best = battle.sides[2].contestant.label
    record_vote(runtime, battle, "best", best=2)
    prefs = rows(runtime, "SELECT contestant_a, winner FROM preferences")
    assert len(prefs) == 2 and all(p == (best, "a") for p in prefs)
    with pytest.raises(ValueError):
        record_vote(runtime, start_round(runtime, "u", cs, "x", blind=False), "a")


def test_multi_turn_round_continues_each_side_with_its_own_answer(runtime, sim):
    first = start_round(runtime, "u", contestants(sim), "first", blind=True, rng=random.Random(5))
    first.wait(10)
    second = start_round(runtime, "u", contestants(sim), "second", previous=first)
    second.wait(10)
    assert [s.contestant for s in second.sides] == [s.contestant for s in first.sides]
    for old, new in zip(first.sides, second.sides, strict=True):
        roles = [m["role"] for m in new.request.messages]
        assert roles == ["user", "assistant", "user"]
        assert new.request.messages[1]["content"] == old.text
    assert second.parent_id == first.id


def test_wrong_number_of_contestants(runtime, sim):
    with pytest.raises(ValueError, match="2 to 4"):
        start_round(runtime, "u", contestants(sim, "sim-llama-3.1-8b"), "solo")


def test_a_round_nobody_looks_at_again_is_logged_when_its_last_side_ends(runtime, sim):
    # The browser closed mid-round: no page run will see the round finish, so the side
    # threads log it themselves (once, whichever side ends last).
    sim.config.itl_ms, sim.config.tokens = 10, 30
    battle = start_round(runtime, "u", contestants(sim), "left alone", blind=False)
    assert battle.wait(10)
    assert wait_until(lambda: battle.logged, 2)
    assert rows(runtime, "SELECT prompt FROM battles WHERE id = ?", [battle.id]) == [
        ("left alone",)
    ]
    sides = rows(
        runtime,
        """SELECT count(*), count(e.id) FROM battle_sides s
           LEFT JOIN exchanges e ON e.id = s.exchange_id WHERE s.battle_id = ?""",
        [battle.id],
    )
    assert sides == [(2, 2)]
    record_vote(runtime, battle, "a")  # voting later does not log the round a second time
    assert rows(runtime, "SELECT count(*) FROM battles") == [(1,)]
    assert rows(runtime, "SELECT count(*) FROM exchanges WHERE source = 'arena'") == [(2,)]
