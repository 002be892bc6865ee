"""The simulator's command line: `python -m aeries.sim` (or `aeries-sim`); Ctrl-C stops it.

    python -m aeries.sim --host 127.0.0.1 --port 8000 --ttft-ms 150 --itl-ms 20 --tokens 200

One vLLM process, as deployed (one model, its aliases, the server's reasoning parser):

    python -m aeries.sim --single-model --model Qwen/Qwen3-8B --served-model-name qwen3 \\
        --reasoning-parser qwen3 --max-model-len 32768 --enable-per-request-metrics

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

from aeries.sim.config import (
    FAULTS,
    REASONING_PARSERS,
    SimConfig,
    SimModel,
    default_models,
    is_reasoning_id,
)
from aeries.sim.server import SimServer


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aeries.sim", description="Serve a simulated vLLM 0.33 OpenAI API."
    )
    defaults = SimConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms, help="prefill time")
    parser.add_argument("--itl-ms", type=float, default=defaults.itl_ms)
    parser.add_argument("--tokens", type=int, default=defaults.tokens)
    parser.add_argument("--reasoning-tokens", type=int, default=defaults.reasoning_tokens)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--model",
        action="extend",
        nargs="+",
        metavar="ID",
        help="served model ids (default: three sim models); models whose id contains 'qwen3', "
        "'-r1' or 'think' think (emit <think>…</think>); in multi-model mode each of those "
        "runs qwen3's reasoning parser unless --reasoning-parser says otherwise",
    )
    parser.add_argument(
        "--single-model",
        action="store_true",
        help="serve only the first model, as one `vllm serve` process does; reasoning is then "
        "separated only with --reasoning-parser",
    )
    parser.add_argument(
        "--served-model-name",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="aliases of the first model (vLLM's flag): responses name the first one",
    )
    parser.add_argument(
        "--reasoning-parser",
        choices=[*sorted(REASONING_PARSERS), "none"],
        help="the server's reasoning parser, for every served model; without one, thinking "
        "arrives inside `content`, tags included (with qwen3's, a model that never opens "
        "<think> answers all in `reasoning`, as on vLLM)",
    )
    parser.add_argument("--fault", choices=sorted(FAULTS))
    parser.add_argument("--fault-after", type=int, default=defaults.fault_after)
    parser.add_argument("--max-model-len", type=int, help="context length of every model")
    parser.add_argument(
        "--stream-interval",
        type=int,
        default=defaults.stream_interval,
        help="tokens per streamed chunk (vLLM's flag; the first token and the end go at once)",
    )
    parser.add_argument(
        "--max-num-seqs",
        type=int,
        help="requests of a model generating at once; the others wait in a queue "
        "(default: no limit)",
    )
    parser.add_argument(
        "--enable-per-request-metrics",
        action="store_true",
        help="vLLM's flag: a `metrics` object (queue, TTFT from scheduling, generation time, "
        "mean ITL, tokens/s) on the final usage chunk (include_usage, n=1) and in "
        "non-streaming bodies",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    args = parser.parse_args(argv)
    if args.stream_interval < 1:
        parser.error("--stream-interval must be at least 1")
    if args.max_num_seqs is not None and args.max_num_seqs < 1:
        parser.error("--max-num-seqs must be at least 1")
    return args


def _models(args: argparse.Namespace) -> list[SimModel]:
    if args.model:
        models = []
        for model_id in args.model:
            thinks = is_reasoning_id(model_id)
            parser = "qwen3" if thinks and not args.single_model else None
            models.append(SimModel(model_id, reasoning=thinks, reasoning_parser=parser))
    else:
        models = default_models()
    if args.reasoning_parser is not None:
        chosen = None if args.reasoning_parser == "none" else args.reasoning_parser
        for model in models:
            model.reasoning_parser = chosen
    if args.served_model_name:
        models[0].served_names = tuple(args.served_model_name)
    if args.max_model_len:
        for model in models:
            model.max_model_len = args.max_model_len
    return models


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the CLI flags describe."""
    return SimConfig(
        models=_models(args),
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        reasoning_tokens=args.reasoning_tokens,
        seed=args.seed,
        fault=args.fault,
        fault_after=args.fault_after,
        single_model=args.single_model,
        stream_interval=args.stream_interval,
        max_num_seqs=args.max_num_seqs,
        per_request_metrics=args.enable_per_request_metrics,
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
    models = ", ".join(name for model in server.config.served() for name in model.names)
    print(f"serving {models} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
