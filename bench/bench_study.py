"""What a study adds on the path to the first token, against today's chat path.

The study page sends a chat message first thing in a run, from the place its previous run read
(kept in session state: the condition and version cannot change once assigned), so on the
path are: the place's checks (study open, still at the chat, turns left) and the condition's
turn spec. The fresh re-read of the place (one query joining enrolment, study and version)
happens after the request is out; it is timed separately. Today's chat path builds its spec
from the page's controls and reads the brief (on by default for a new conversation).

Both paths then send the same request to the simulator (TTFT 20 ms) and stop at the first
token; they alternate request by request so drift hits them alike. Printed: the resolution
alone (µs), TTFT of both paths, added ms at p50 and p99, and the ratio of medians.

    python -m bench.bench_study [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from aeries.brief import assemble_brief
from aeries.chat import Turn, TurnSpec, user_message
from aeries.config import load_settings
from aeries.llm import Sampling, warm_up_client_stack
from aeries.runtime import Runtime, build_runtime
from aeries.sim import SimConfig, SimServer
from aeries.store.studies import get_enrolment, save_study_version, set_study_status
from aeries.studies import flow
from aeries.studies.conditions import condition_spec
from aeries.studies.flow import Place
from aeries.studies.spec import parse_study
from bench._common import pct, summary, today

STUDY = (Path(__file__).resolve().parents[1] / "studies" / "example.toml").read_text()
MODEL = "sim-llama-3.1-8b"


def _enrolled(rt: Runtime) -> str:
    """A participant of the example study, at its chat step."""
    study = parse_study(STUDY)
    save_study_version(rt.db, study.id, study.title, study.config_hash, STUDY)
    set_study_status(rt.db, study.id, "live")
    place = flow.arrive(rt.db, study.id, {"PROLIFIC_PID": "bench01", "STUDY_ID": "b"})
    place = flow.consent(rt.db, place, agreed=True)
    place = flow.advance(rt.db, place)  # past the instructions
    place, problems = flow.submit(rt.db, place, "pre", {"uses_ai": "Sometimes", "age": 40})
    assert not problems and place.enrolment.step == "chat", (problems, place.enrolment.step)
    return place.enrolment.id


def resolve(rt: Runtime, session: dict[str, Place], conversation_id: str) -> TurnSpec:
    """What a study page run does before it sends (aeries.ui.studies.participant._send_first)."""
    place = session["place"]
    assert place.enrolment.step == "chat" and flow.may_continue(place) is None
    assert place.enrolment.status == "in_progress" and not flow.chat_progress(place).at_max
    spec = condition_spec(rt, place, conversation_id)
    assert spec is not None
    return spec


def chat_spec(rt: Runtime, user_id: str, conversation_id: str) -> TurnSpec:
    """Today's chat path (aeries.ui.chat.turns._spec with its defaults): the model and
    sampling come from the page's controls, the brief is on for a new conversation."""
    model = rt.models()[0]
    brief = assemble_brief(rt.db, user_id)
    return TurnSpec(
        user_id=user_id,
        conversation_id=conversation_id,
        endpoint=model.endpoint,
        model=model.id,
        sampling=Sampling(),
        system_prompt="You are a helpful assistant. Answer concisely.",
        brief=brief.text or None,
        brief_enabled=True,
        max_model_len=model.max_model_len,
    )


def first_token(rt: Runtime, make_spec: object, conversation_id: str) -> float:
    t0 = time.perf_counter()
    spec: TurnSpec = make_spec()  # type: ignore[operator]
    question = user_message(conversation_id, None, "Explain TTFT in one paragraph.")
    turn = Turn(rt, spec, [question])
    first = None
    for _ in turn.stream:
        if first is None:
            first = (time.perf_counter() - t0) * 1000
    turn.finish()
    assert first is not None
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    server = SimServer(SimConfig(ttft_ms=20, itl_ms=1, tokens=20)).start()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AERIES_BASE_URL"] = server.base_url
        os.environ["AERIES_DB"] = str(Path(tmp) / "bench.duckdb")
        rt = build_runtime(load_settings(secrets={}))
        rt.observer = None  # the observer's calls would share the simulator with the paths
        warm_up_client_stack()
        enrolment_id = _enrolled(rt)
        enrolment = get_enrolment(rt.db, enrolment_id)
        assert enrolment is not None
        session = {"place": flow.place_of(rt.db, enrolment_id)}
        paths = {
            "chat": lambda: chat_spec(rt, enrolment.user_id, "bench-chat"),
            "study": lambda: resolve(rt, session, "bench-study"),
        }
        alone: list[float] = []
        reread: list[float] = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            resolve(rt, session, "bench-study")
            alone.append((time.perf_counter() - t0) * 1e6)
            t0 = time.perf_counter()
            session["place"] = flow.place_of(rt.db, enrolment_id)
            reread.append((time.perf_counter() - t0) * 1e6)
        for _ in range(10):
            for name, make in paths.items():
                first_token(rt, make, f"warm-{name}")
        times: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(args.requests):
            order = list(paths) if i % 2 == 0 else list(reversed(paths))
            for name in order:
                times[name].append(first_token(rt, paths[name], f"bench-{name}"))
        rt.close()
    server.stop()
    chat, study = times["chat"], times["study"]
    print(f"Study resolution on the path to the first token, {args.requests} each ({today()})")
    print(summary("on the path: place checks + condition spec", alone, "µs"))
    print(summary("after the send: the place re-read (one query)", reread, "µs"))
    print(summary("chat path  ", chat))
    print(summary("study path ", study))
    print(
        f"added at p50: {pct(study, 0.5) - pct(chat, 0.5):+.3f} ms, "
        f"added at p99: {pct(study, 0.99) - pct(chat, 0.99):+.3f} ms, "
        f"ratio of medians study/chat: {pct(study, 0.5) / pct(chat, 0.5):.3f}"
    )


if __name__ == "__main__":
    main()
