"""One model per server, as a vLLM deployment serves it: aliases sharing its max_model_len,
responses naming the first alias, reasoning separated by the server's parser flag."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest

from aeries.sim import SimModel, SimServer, single_model_config
from aeries.sim.__main__ import _parse_args, config_from_args
from tests.sim.helpers import FAST, MSGS, metric

QWEN_PATH = "Qwen/Qwen3-8B"


def _model(parser: str | None) -> SimModel:
    names = ("qwen3", "q3")
    return SimModel(QWEN_PATH, 32768, reasoning=True, served_names=names, reasoning_parser=parser)


@pytest.fixture
def single() -> Iterator[SimServer]:
    config = single_model_config(_model("qwen3"), **FAST)
    config.models.append(SimModel("sim-llama-3.1-8b"))  # not served: one model per process
    with SimServer(config) as sim:
        yield sim


def test_single_model_serves_its_aliases(single: SimServer) -> None:
    client = openai.OpenAI(base_url=single.base_url, api_key="x", max_retries=0, timeout=5)
    cards = client.models.list().data
    assert [c.id for c in cards] == ["qwen3", "q3"]
    assert {(c.model_extra["root"], c.model_extra["max_model_len"]) for c in cards} == {
        (QWEN_PATH, 32768)
    }
    answer = client.chat.completions.create(model="q3", messages=MSGS, max_tokens=50)
    assert answer.model == "qwen3"  # the first alias, whichever was asked
    assert answer.choices[0].message.model_extra["reasoning"].startswith("\n")
    for other in (QWEN_PATH, "sim-llama-3.1-8b"):
        with pytest.raises(openai.NotFoundError) as error:
            client.chat.completions.create(model=other, messages=MSGS)
        expected = f"The model `{other}` does not exist. Valid aliases: qwen3, q3."
        assert error.value.body["message"] == expected
    text = httpx2.get(f"{single.url}/metrics").text  # labelled with the first alias
    assert metric(text, "vllm:prompt_tokens_total", "qwen3") > 0
    assert 'model_name="q3"' not in text and "sim-llama" not in text


def test_reasoning_follows_the_server_flag_not_the_name(single: SimServer) -> None:
    client = openai.OpenAI(base_url=single.base_url, api_key="x", max_retries=0, timeout=5)
    extra = {"sim": {"reply": "Hi", "reasoning_tokens": 2}}
    parsed = client.chat.completions.create(model="qwen3", messages=MSGS, extra_body=extra)
    assert parsed.choices[0].message.content == "\n\nHi"
    single.config.models[0].reasoning_parser = None
    raw = client.chat.completions.create(model="qwen3", messages=MSGS, extra_body=extra)
    content = raw.choices[0].message.content
    assert content.startswith("<think>\n") and content.endswith("\n</think>\n\nHi")
    assert raw.choices[0].message.model_extra["reasoning"] is None


def test_cli_describes_a_single_model_server() -> None:
    args = _parse_args(
        [
            "--single-model",
            "--model",
            QWEN_PATH,
            "--served-model-name",
            "qwen3",
            "q3",
            "--reasoning-parser",
            "qwen3",
            "--max-model-len",
            "4096",
            "--stream-interval",
            "2",
            "--max-num-seqs",
            "8",
            "--enable-per-request-metrics",
        ]
    )
    config = config_from_args(args)
    (model,) = config.served()
    assert (model.id, model.names, model.max_model_len) == (QWEN_PATH, ("qwen3", "q3"), 4096)
    assert model.reasoning and model.reasoning_parser == "qwen3"
    assert (config.stream_interval, config.max_num_seqs, config.per_request_metrics) == (
        2,
        8,
        True,
    )
    plain = config_from_args(_parse_args(["--single-model", "--model", QWEN_PATH]))
    assert plain.served()[0].reasoning_parser is None  # no flag, no separation
    multi = config_from_args(_parse_args(["--model", "a-qwen3", "llama"]))
    assert [m.reasoning_parser for m in multi.served()] == ["qwen3", None]
    off = config_from_args(_parse_args(["--reasoning-parser", "none"]))
    assert all(m.reasoning_parser is None for m in off.served())
    assert not config_from_args(_parse_args([])).single_model


def test_cli_help_lists_the_server_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--single-model",
        "--served-model-name",
        "--reasoning-parser",
        "--stream-interval",
        "--max-num-seqs",
        "--enable-per-request-metrics",
    ):
        assert flag in text
