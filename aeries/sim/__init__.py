"""A stand-in for a vLLM 0.33 OpenAI-compatible server, for tests, benchmarks and the offline demo.

It is a real HTTP server on loopback (Starlette served by uvicorn in a daemon thread), so the real
`openai` client talks to it exactly as it talks to vLLM: same endpoints, SSE framing, chunk
shapes, error bodies, usage, reasoning deltas and metrics names. Latency, length and failures
are set by `SimConfig` (server-wide, mutable at runtime) or per request with
`extra_body={"sim": {...}}` (vLLM ignores unknown fields, so such code also runs against vLLM).

    with SimServer(SimConfig(ttft_ms=50)) as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="x", max_retries=0)

Per-request knobs (the `sim` dict): ttft_ms, itl_ms, tokens, reasoning_tokens, fault,
fault_after, reply. Faults: context_length (400), unknown_model (404), server_error (500),
midstream_error (error event then [DONE]), stall (silence until the client leaves), drop (socket
closed mid-body), health_503, invalid_json, schema_violation, refusal.

CLI: `python -m aeries.sim --port 8000 --ttft-ms 150 --itl-ms 20` (or `aeries-sim …`; Ctrl-C
stops it).

The package imports nothing from the rest of `aeries`. Its modules, bottom to top (each imports
only those above it in this list):

- `config`: `SimModel`, `SimConfig`, the fault names and the per-request `Knobs`.
- `text`: the approximate tokenizer and the deterministic English-ish output.
- `protocol`: the wire format; every body, chunk and event sent is built there.
- `schema`: JSON values that satisfy (or break) a JSON Schema, for structured output.
- `metrics`: the Prometheus metrics under vLLM's names.
- `state`: `SimStats`, and `SimHost`, the server as the handlers see it.
- `stream`: a planned answer sent over time (SSE pacing, faults, bookkeeping).
- `chat`: `POST /v1/chat/completions`: validation the way vLLM does it, and planning.
- `server`: the routes, the admin endpoints and `SimServer`.
- `__main__`: the command line.
"""

from __future__ import annotations

from aeries.sim.config import FAULTS, SimConfig, SimModel
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
]
