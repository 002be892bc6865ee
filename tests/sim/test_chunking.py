"""Several tokens per chunk (vLLM's stream_interval) and the reasoning shape: qwen3's parser
(role chunk alone, reasoning a token later, `</think>` silent, then the content) or none
(the tags inside `content`)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

from aeries.sim import SimServer
from tests.sim.helpers import LLAMA, MSGS, QWEN, chat, payloads, record, sse_events

TEN = " ".join(f"w{i}" for i in range(10))  # ten pieces: "w0", " w1", …


def _run(live: SimServer, model: str = LLAMA, **extra: Any) -> tuple[list[dict], list[float]]:
    """The payloads of one stream and, per SSE event, the simulator's send time."""
    body = {"model": model, "messages": MSGS, "stream": True, "sim": {"itl_ms": 30}}
    body["sim"] |= extra.pop("sim", {})
    body |= {"stream_options": {"include_usage": True}} | extra
    status, events = sse_events(live.url, body)
    assert status == 200
    chunks = payloads(events)
    times = [e["t"] for e in record(live.url, chunks[0]["id"])["events"]]
    return chunks, times


def _deltas(chunks: list[dict]) -> list[dict]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def _slots(times: list[float], itl: float = 0.030) -> list[int]:
    return [round((t - times[0]) / itl) for t in times]


def test_stream_interval_groups_tokens_first_and_last_at_once(live: SimServer) -> None:
    live.config.stream_interval = 4
    chunks, times = _run(live, sim={"reply": TEN})
    deltas = _deltas(chunks)
    assert deltas[1:] == [
        {"content": "w0"},  # the first token alone (with the role chunk)
        {"content": " w1 w2 w3 w4"},
        {"content": " w5 w6 w7 w8"},
        {"content": " w9"},  # the rest at the finish: w9 and the EOS
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 11
    assert _slots(times)[:5] == [0, 0, 4, 8, 10]


def test_per_request_stream_interval_is_clamped_up_to_the_server(live: SimServer) -> None:
    chunks, times = _run(live, sim={"reply": TEN}, stream_interval=3)
    assert _deltas(chunks)[1:] == [
        {"content": "w0"},
        {"content": " w1 w2 w3"},
        {"content": " w4 w5 w6"},
        {"content": " w7 w8 w9"},
        {"content": ""},  # the EOS alone at the finish
    ]
    assert _slots(times)[:6] == [0, 0, 3, 6, 9, 10]
    live.config.stream_interval = 4
    chunks, _ = _run(live, sim={"reply": TEN}, stream_interval=2)
    assert len(_deltas(chunks)) == 5  # role + 4: the server's 4 wins
    answer = httpx2.post(
        f"{live.base_url}/chat/completions",
        json={"model": LLAMA, "messages": MSGS, "stream_interval": 0},
    )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "body.stream_interval"


def test_qwen3_parser_shape(live: SimServer) -> None:
    chunks, times = _run(live, QWEN, sim={"reply": "Hi", "reasoning_tokens": 1})
    deltas = _deltas(chunks)
    word = deltas[2]["reasoning"]  # the one reasoning piece
    assert deltas == [
        {"role": "assistant", "content": ""},  # at the <think> token, which sends nothing
        {"reasoning": "\n"},
        {"reasoning": word},
        {"reasoning": "\n"},
        # </think>: nothing
        {"content": "\n\n"},
        {"content": "Hi"},
        {"content": ""},
    ]
    assert _slots(times)[:7] == [0, 1, 2, 3, 5, 6, 7]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": chunks[-1]["usage"]["prompt_tokens"],
        "total_tokens": chunks[-1]["usage"]["prompt_tokens"] + 8,
        "completion_tokens": 8,
        "completion_tokens_details": {"reasoning_tokens": 3},
    }


def test_qwen3_parser_with_stream_interval(live: SimServer) -> None:
    live.config.stream_interval = 4
    chunks, _ = _run(live, QWEN, sim={"reply": "Hi", "reasoning_tokens": 1})
    word = _deltas(chunks)[1]["reasoning"].strip()
    assert _deltas(chunks) == [
        {"role": "assistant", "content": ""},  # <think> alone sends nothing
        {"reasoning": f"\n{word}\n"},  # then "\n", the piece, "\n", </think>
        {"content": "\n\nHi"},  # the rest with the EOS
    ]


def test_without_a_parser_the_thinking_is_inside_content(
    live: SimServer, client: openai.OpenAI
) -> None:
    live.config.models[1].reasoning_parser = None
    chunks, _ = _run(live, QWEN, sim={"reply": "Hi", "reasoning_tokens": 1})
    word = _deltas(chunks)[3]["content"]
    assert [d.get("content") for d in _deltas(chunks)] == [
        "", "<think>", "\n", word, "\n", "</think>", "\n\n", "Hi", "",
    ]  # fmt: skip
    assert "completion_tokens_details" not in chunks[-1]["usage"]
    message = chat(client, model=QWEN, extra_body={"sim": {"reply": "Hi", "reasoning_tokens": 1}})
    assert message.choices[0].message.content == f"<think>\n{word}\n</think>\n\nHi"
    assert message.choices[0].message.model_extra["reasoning"] is None


@pytest.mark.parametrize("parser", ["qwen3", None])
def test_thinking_off_sends_content_only(live: SimServer, parser: str | None) -> None:
    live.config.models[1].reasoning_parser = parser
    off = {"chat_template_kwargs": {"enable_thinking": False}}
    chunks, _ = _run(live, QWEN, sim={"reply": "Hi"}, **off)
    assert _deltas(chunks)[1:] == [{"content": "Hi"}, {"content": ""}]
    details = chunks[-1]["usage"].get("completion_tokens_details")
    assert details == ({"reasoning_tokens": 0} if parser else None)


def test_include_reasoning_false_drops_reasoning_deltas(live: SimServer) -> None:
    chunks, _ = _run(
        live, QWEN, sim={"reply": "Hi", "reasoning_tokens": 1}, include_reasoning=False
    )
    assert _deltas(chunks)[1:] == [{"content": "\n\n"}, {"content": "Hi"}, {"content": ""}]


def test_stream_interval_through_the_admin_endpoint(live: SimServer) -> None:
    answer = httpx2.post(f"{live.url}/sim/config", json={"stream_interval": 3})
    assert answer.json()["stream_interval"] == 3 and live.config.stream_interval == 3
    assert httpx2.post(f"{live.url}/sim/config", json={"stream_interval": 0}).status_code == 400


def test_abort_flushes_what_the_interval_held_back(live: SimServer) -> None:
    live.config.stream_interval = 4
    sim = {"reply": TEN, "fault": "server_abort", "fault_after": 6}
    chunks, times = _run(live, sim=sim)
    assert _deltas(chunks)[1:] == [
        {"content": "w0"},
        {"content": " w1 w2 w3 w4"},
        {"content": " w5"},  # held back, sent with the abort
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "abort"
    assert chunks[-1]["usage"]["completion_tokens"] == 6
    assert _slots(times)[:4] == [0, 0, 4, 6]


def test_an_error_drops_what_the_interval_held_back(live: SimServer) -> None:
    live.config.stream_interval = 4
    body = {"model": LLAMA, "messages": MSGS, "stream": True}
    body["sim"] = {"reply": TEN, "fault": "midstream_error", "fault_after": 6}
    _, events = sse_events(live.url, body)
    texts = [text for _, text in events]
    assert texts[-2].startswith('{"error":{"message":"Internal server error"')
    assert [_deltas([c])[0] for c in payloads(events[:-2] + events[-1:])][1:] == [
        {"content": "w0"},
        {"content": " w1 w2 w3 w4"},
    ]  # " w5" never went out
