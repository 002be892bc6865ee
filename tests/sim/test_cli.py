"""The command line: `python -m aeries.sim` serves and stops on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx2
import openai
import pytest

from tests.helpers import ROOT
from tests.sim.helpers import LLAMA, MSGS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "aeries.sim", "--port", str(port), "--ttft-ms", "10"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        base_url = process.stdout.readline().decode().strip()
        assert base_url == f"http://127.0.0.1:{port}/v1"
        assert httpx2.get(f"http://127.0.0.1:{port}/health").status_code == 200
        cli = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=5)
        answer = cli.chat.completions.create(model=LLAMA, messages=MSGS, max_tokens=3)
        assert answer.usage.completion_tokens == 3
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
