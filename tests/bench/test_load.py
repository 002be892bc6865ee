"""100 concurrent streams, 10% with faults: nothing lost, faults logged, nobody blocked."""

from __future__ import annotations

from bench.load_driver import max_in_flight, run_concurrent


def test_hundred_concurrent_streams_with_faults(store, sim):
    db, writer = store
    sim.config.ttft_ms, sim.config.itl_ms = 50, 10
    outcomes = run_concurrent(sim.base_url, writer, streams=100, fault_share=0.1, tokens=20)
    assert len(outcomes) == 100
    writer.flush()
    # zero lost rows
    assert db.one("SELECT count(*) FROM exchanges WHERE source = 'load'") == (100,)
    assert db.one("SELECT count(*) FROM inflight") == (0,)  # every record ended with its answer
    stored = dict(db.rows("SELECT id, status FROM exchanges"))
    assert {o.result.id for o in outcomes} == set(stored)
    # every fault logged as an error, every healthy stream ok and complete
    faulty = [o for o in outcomes if o.fault]
    healthy = [o for o in outcomes if not o.fault]
    assert len(faulty) == 10
    assert all(stored[o.result.id] == "error" for o in faulty)
    assert all(o.result.error for o in faulty)
    assert all(
        stored[o.result.id] == "ok" and o.result.completion_tokens == 20 + 1 for o in healthy
    )  # + the EOS token
    # no stream blocked by another: all were in flight together, and the batch took a small
    # fraction of running them one after another
    assert max_in_flight(outcomes) >= 90
    batch_ms = (max(o.ended for o in outcomes) - min(o.started for o in outcomes)) * 1000
    one_answer_ms = 50 + 19 * 10  # the simulator's schedule for one healthy answer
    assert batch_ms < 0.2 * 100 * one_answer_ms
