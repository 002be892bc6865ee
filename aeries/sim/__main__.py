"""The simulator's command line: `python -m aeries.sim` (or `aeries-sim`); Ctrl-C stops it.

    python -m aeries.sim --host 127.0.0.1 --port 8000 --ttft-ms 150 --itl-ms 20 --tokens 200

It prints the OpenAI base URL on stdout once connections are accepted, then serves in the
foreground until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

import uvicorn

from aeries.sim.config import FAULTS, SimConfig, SimModel, default_models, is_reasoning_id
from aeries.sim.server import SimServer


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aeries.sim", description="Serve a simulated vLLM 0.33 OpenAI API."
    )
    defaults = SimConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms)
    parser.add_argument("--itl-ms", type=float, default=defaults.itl_ms)
    parser.add_argument("--tokens", type=int, default=defaults.tokens)
    parser.add_argument("--reasoning-tokens", type=int, default=defaults.reasoning_tokens)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--model",
        action="extend",
        nargs="+",
        metavar="ID",
        help="served model ids (default: three sim models); ids containing 'qwen3', '-r1' "
        "or 'think' are reasoning models",
    )
    parser.add_argument("--fault", choices=sorted(FAULTS))
    parser.add_argument("--fault-after", type=int, default=defaults.fault_after)
    parser.add_argument("--max-model-len", type=int, help="context length of every model")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the CLI flags describe."""
    if args.model:
        models = [
            SimModel(model_id, reasoning=is_reasoning_id(model_id)) for model_id in args.model
        ]
    else:
        models = default_models()
    if args.max_model_len:
        for model in models:
            model.max_model_len = args.max_model_len
    return SimConfig(
        models=models,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        reasoning_tokens=args.reasoning_tokens,
        seed=args.seed,
        fault=args.fault,
        fault_after=args.fault_after,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground until SIGINT or SIGTERM; the exit status."""
    args = _parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log_config = dict(uvicorn.config.LOGGING_CONFIG)
    server = SimServer(config_from_args(args), host=args.host, port=args.port)
    try:
        server.start(log_config=log_config)
    except OSError as exc:
        print(f"aeries.sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("uvicorn").setLevel(args.log_level.upper())
    print(server.base_url, flush=True)
    models = ", ".join(model.id for model in server.config.models)
    print(f"serving {models} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
