"""The observer: signals with provenance after a turn; every failure becomes an error signal."""

from __future__ import annotations

import json

import pytest

from aeries.ids import new_id, utcnow
from aeries.llm import ClientPool, LiveStreams, ModelInfo
from aeries.observer import (
    PROMPT_HASH,
    SCHEMA,
    FinishedTurn,
    ObservationError,
    Observer,
    parse_observation,
)

GOOD = {
    "sentiment": 0.5,
    "satisfaction": 0.8,
    "topics": ["Owls", "night birds"],
    "pref_verbosity": "concise",
    "pref_format": "bullets",
    "pref_tone": "none",
    "pref_expertise": "none",
    "corrected": True,
    "correction": "Owls can't turn 360 degrees.",
    "intent": "question",
    "confidence": 0.9,
}


def turn(sim_url: str, **overrides) -> FinishedTurn:
    values = dict(
        user_id="u1",
        conversation_id="c1",
        exchange_id=new_id(),
        answer_message_id=new_id(),
        user_message_id=new_id(),
        user_text="Be brief please. Do owls turn their heads fully?",
        answer_text="Owls turn about 270 degrees.",
        previous_answer=None,
        status="ok",
        e2e_ms=120.0,
        endpoint=sim_url,
        model="sim-llama-3.1-8b",
        started_at=utcnow(),
    )
    values.update(overrides)
    return FinishedTurn(**values)


def make_observer(store, timeout=5.0, **kwargs) -> Observer:
    _, writer = store
    pool = ClientPool("k", connect_timeout_s=1.0, read_timeout_s=timeout)
    return Observer(writer, pool, lambda m: None, **kwargs)


def signals(db, writer):
    writer.flush()
    return db.rows(
        "SELECT kind, name, value_num, value_text, extractor, extractor_version,"
        " prompt_hash FROM signals ORDER BY created_at, id"
    )


def test_parse_accepts_valid_and_normalises():
    obs = parse_observation(json.dumps(GOOD))
    assert obs.topics == ["owls", "night birds"]
    assert obs.preferences == {"verbosity": "concise", "format": "bullets"}
    assert obs.corrected and obs.correction.startswith("Owls")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ('{"sentiment": 0.', "invalid_json"),
        ("I'm sorry, but I can't help with that.", "refusal"),
        ("[1, 2]", "schema"),
        (json.dumps({**GOOD, "sentiment": 3}), "schema"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "intent"}), "schema"),
        (json.dumps({**GOOD, "pref_tone": "sarcastic"}), "schema"),
        (json.dumps({**GOOD, "topics": "owls"}), "schema"),
        (json.dumps({**GOOD, "confidence": True}), "schema"),
    ],
)
def test_parse_rejects_with_reason(text, reason):
    with pytest.raises(ObservationError) as info:
        parse_observation(text)
    assert info.value.reason == reason


def test_schema_is_flat():
    for spec in SCHEMA["properties"].values():
        assert spec["type"] != "object"
        assert spec.get("items", {}).get("type", "string") == "string"


def test_observer_writes_heuristic_and_model_signals_with_provenance(store, sim):
    db, writer = store
    observer = make_observer(store)
    observer.submit(turn(sim.base_url))
    assert observer.drain(10)
    rows = signals(db, writer)
    kinds = {(r[0], r[1]) for r in rows}
    assert {
        ("heuristic", "user_chars"),
        ("heuristic", "answer_chars"),
        ("heuristic", "answer_latency_ms"),
    } <= kinds
    assert {
        ("observer", n) for n in ("sentiment", "satisfaction", "confidence", "corrected", "intent")
    } <= kinds
    model_rows = [r for r in rows if r[0] == "observer"]
    assert all(r[4:] == ("observer", "1", PROMPT_HASH) for r in model_rows)
    heur = [r for r in rows if r[0] == "heuristic"]
    assert all(r[4] == "heuristics" for r in heur)
    assert dict((r[1], r[2]) for r in heur)["user_chars"] == len(turn("x").user_text)
    request = sim.stats.last_request
    assert request["response_format"]["type"] == "json_schema"
    assert request["chat_template_kwargs"] == {"enable_thinking": False}
    exchange = db.rows("SELECT source, status, params->>'prompt_hash' FROM exchanges")
    assert exchange == [("observer", "ok", PROMPT_HASH)]
    # Analytics files the scores and notes under the observed answer.
    observed = turn("x")
    scores = db.rows("SELECT model, satisfaction_n, sentiment_n, thumb FROM answer_scores")
    assert scores == [(observed.model, 1, 1, None)]
    noted = db.rows(
        """SELECT count(*) FROM signals
           WHERE kind = 'observer' AND name IN ('topic', 'preference')"""
    )
    assert db.one("SELECT count(*) FROM learned_notes") == noted[0] and noted[0][0] > 0
    observer.close()


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"fault": "invalid_json"}, "invalid_json"),
        ({"fault": "schema_violation"}, "schema"),
        ({"fault": "refusal"}, "refusal"),
        ({"fault": "stall", "fault_after": 1}, "timeout"),
        ({"fault": "server_error"}, "http_500"),
    ],
)
def test_observer_failures_become_error_signals(store, sim, knobs, reason):
    db, writer = store
    observer = make_observer(store, timeout=0.5, extra_body={"sim": knobs})
    assert observer.submit(turn(sim.base_url))
    assert observer.drain(10)
    errors = [r[3] for r in signals(db, writer) if r[1] == "observer_error"]
    assert len(errors) == 1 and errors[0].startswith(reason)
    assert not [r for r in signals(db, writer) if r[1] == "sentiment"]
    observer.close()


def test_observer_server_down_is_an_error_signal(store):
    db, writer = store
    observer = make_observer(store)
    observer.submit(turn("http://127.0.0.1:9/v1"))
    assert observer.drain(10)
    errors = [r[3] for r in signals(db, writer) if r[1] == "observer_error"]
    assert errors and errors[0].startswith("server_down")


def test_configured_observer_model_that_is_missing(store, sim):
    db, writer = store
    observer = make_observer(store, observer_model="ghost-model")
    observer.submit(turn(sim.base_url))
    assert observer.drain(10)
    assert [r[3][:17] for r in signals(db, writer) if r[1] == "observer_error"] == [
        "model_unavailable"
    ]


def test_observer_uses_configured_model(store, sim):
    _, writer = store
    pool = ClientPool("k", connect_timeout_s=1.0, read_timeout_s=5.0)
    resolve = {"sim-qwen3-8b": ModelInfo(sim.base_url, "sim-qwen3-8b")}.get
    observer = Observer(writer, pool, resolve, observer_model="sim-qwen3-8b")
    observer.submit(turn(sim.base_url))
    assert observer.drain(10)
    assert sim.stats.last_request["model"] == "sim-qwen3-8b"


def test_full_queue_skips_turn_and_records_it(store, sim):
    db, writer = store
    sim.config.ttft_ms = 300
    observer = make_observer(store, workers=1, max_pending=1)
    results = [observer.submit(turn(sim.base_url)) for _ in range(4)]
    assert results.count(False) >= 1
    assert observer.drain(15)
    errors = [r[3] for r in signals(db, writer) if r[1] == "observer_error"]
    assert sum(e.startswith("overloaded") for e in errors) == results.count(False)


def test_an_observation_waits_for_the_answers_streaming_then_runs(store, sim):
    db, writer = store
    answers = LiveStreams()
    observer = make_observer(store, answers=answers, yield_s=30.0)
    answers.opened()  # somebody's answer is on its way to their screen
    observer.submit(turn(sim.base_url))
    assert not observer.drain(0.5)  # not observed while it streams
    assert signals(db, writer) == []
    answers.closed()
    assert observer.drain(10)
    assert {r[0] for r in signals(db, writer)} == {"heuristic", "observer"}
    observer.close()


def test_an_observation_waits_no_longer_than_yield_s(store, sim):
    db, writer = store
    answers = LiveStreams()
    answers.opened()  # a stream that never ends
    observer = make_observer(store, answers=answers, yield_s=0.3)
    observer.submit(turn(sim.base_url))
    assert observer.drain(10)
    assert {r[0] for r in signals(db, writer)} == {"heuristic", "observer"}
    observer.close()
