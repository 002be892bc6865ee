"""A stand-in for a vLLM 0.33 OpenAI-compatible server, for tests, benchmarks and the offline demo.

It is a real HTTP server on loopback (Starlette served by uvicorn in a daemon thread), so the real
`openai` client talks to it exactly as it talks to vLLM: same endpoints, SSE framing, chunk
shapes (null keys and key order included), error bodies, usage (the EOS token counted), the
reasoning parser's deltas, per-request metrics and Prometheus names. Latency, length and failures
are set by `SimConfig` (server-wide, mutable at runtime) or per request with
`extra_body={"sim": {...}}` (vLLM ignores unknown fields, so such code also runs against vLLM).

    with SimServer(SimConfig(ttft_ms=50)) as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="x", max_retries=0)

    # one vLLM process: one model, its aliases, the server's reasoning parser
    model = SimModel("Qwen/Qwen3-8B", reasoning=True, served_names=("qwen3",),
                     reasoning_parser="qwen3")
    sim = SimServer(single_model_config(model, per_request_metrics=True)).start()

Per-request knobs (the `sim` dict): ttft_ms, itl_ms, tokens, reasoning_tokens, fault,
fault_after, reply. vLLM's own request fields it honours: max_tokens / max_completion_tokens,
stream_options, stream_interval, repetition_detection, include_reasoning,
chat_template_kwargs.enable_thinking, response_format, X-Request-Id / request_id. Faults:
context_length (400), unknown_model (404), server_error (500 before the stream);
grammar_error (400), engine_error (500, empty message), engine_paused (503), engine_dead (500):
one in-stream error event before any output; midstream_error (500 after the role chunk and
`fault_after` tokens), stall, drop, server_abort (finish_reason "abort"), repetition
(finish_reason "repetition"); health_503, invalid_json, schema_violation, refusal.

`GET /sim/responses` (and `SimServer.stats.responses`) gives each answer as sent, with the
`time.perf_counter()` of every event, so tests compute expected client timings from real send
times.

CLI: `python -m aeries.sim --port 8000 --ttft-ms 150 --itl-ms 20` (or `aeries-sim …`; Ctrl-C
stops it; `--help` lists the vLLM-like server flags).

The package imports nothing from the rest of `aeries`. Its modules, bottom to top (each imports
only those above it in this list):

- `config`: `SimModel`, `SimConfig`, the fault names and the per-request `Knobs`.
- `text`: the approximate tokenizer and the deterministic English-ish output.
- `answer`: an answer's tokens, where it ends, and the steps (chunks) a stream sends.
- `engine`: the scheduler's slots (max_num_seqs, the queue) and a request's schedule.
- `protocol`: the wire format; every body, chunk and event sent is built there.
- `schema`: JSON values that satisfy (or break) a JSON Schema, for structured output.
- `metrics`: the Prometheus metrics under vLLM's names.
- `state`: `SimStats` (with the response records), and `SimHost`, the server as handlers see it.
- `validation`: vLLM's request checks, in its order and with its messages.
- `stream`: a planned answer sent over time (queue, SSE pacing, faults, bookkeeping).
- `chat`: `POST /v1/chat/completions`: checking and planning.
- `server`: the routes, the admin endpoints and `SimServer`.
- `__main__`: the command line.
"""

from __future__ import annotations

from aeries.sim.config import FAULTS, SimConfig, SimModel, default_models, single_model_config
from aeries.sim.metrics import SimMetrics
from aeries.sim.server import SimServer, build_app
from aeries.sim.state import SimHost, SimStats
from aeries.sim.text import count_prompt_tokens

__all__ = [
    "FAULTS",
    "SimConfig",
    "SimHost",
    "SimMetrics",
    "SimModel",
    "SimServer",
    "SimStats",
    "build_app",
    "count_prompt_tokens",
    "default_models",
    "single_model_config",
]
