"""Every benchmark still starts: its module imports, its command line parses, and the files it
runs exist. Benchmarks are not timed in the test suite (docs/benchmarks.md has the figures);
this catches a bench left behind when code moves, as bench_analytics was when the page scripts
moved from pages/ to views/ (it crashed at its page step)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))


def test_every_bench_is_found() -> None:
    assert {"bench_analytics", "bench_browser", "bench_load", "bench_ttft"} <= set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_starts(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def _named_files(name: str) -> list[Path]:
    """The project files a bench names at module level: Path constants, and strings that are
    paths of Python files relative to the repository."""
    module = importlib.import_module(f"bench.{name}")
    found = []
    for value in vars(module).values():
        if isinstance(value, Path) and value.suffix == ".py":
            found.append(value)
        elif isinstance(value, str) and value.endswith(".py") and "/" in value:
            found.append(ROOT / value)
    return found


def test_the_files_the_benches_run_exist() -> None:
    named = {name: _named_files(name) for name in BENCHES}
    assert named["bench_analytics"] and named["bench_browser"]  # the check sees them
    missing = [
        f"{name}: {path}" for name, paths in named.items() for path in paths if not path.exists()
    ]
    assert not missing, missing
