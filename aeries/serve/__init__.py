"""Serving many participants: ``aeries serve`` runs N Streamlit workers behind nginx with sticky
sessions, every worker logging to one shared store (see docs/serving.md).

The pieces stand alone so tests and benchmarks can assemble them: `aeries.serve.nginx` (the
configuration and the nginx process), `aeries.serve.workers` (the Streamlit processes),
`aeries.serve.process` (a supervised child), `aeries.serve.command` (the supervisor).
"""

from aeries.serve.command import (
    ServeError,
    ServeOptions,
    Supervisor,
    add_arguments,
    resolve_store,
    run_command,
)
from aeries.serve.nginx import COOKIE, WORKER_HEADER, NginxError, NginxNotFound, ProxyConfig

__all__ = [
    "COOKIE",
    "WORKER_HEADER",
    "NginxError",
    "NginxNotFound",
    "ProxyConfig",
    "ServeError",
    "ServeOptions",
    "Supervisor",
    "add_arguments",
    "resolve_store",
    "run_command",
]
