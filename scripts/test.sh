#!/usr/bin/env bash
# Install everything the tests need (Python packages, Debian's Chromium) and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-dev.txt
python3 -m pip install -q -e .  # the project itself: tests and benches import it, no sys.path
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m cogapp --check docs/schema.md  # the column lists, generated from the migrations
lint-imports  # the layering contracts in pyproject.toml ([tool.importlinter])
python3 -m mypy  # types over aeries/ ([tool.mypy] in pyproject.toml)
# DuckDB's nanobind layer reports "leaked instances" at interpreter exit, after pytest's
# summary; drop exactly those lines so the summary stays the last word (pipefail keeps the
# exit code of pytest).
python3 -m pytest "$@" 2>&1 | grep -v -E '^(nanobind: | - leaked | - \.\.\. skipped|See https://nanobind)'
