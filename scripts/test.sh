#!/usr/bin/env bash
# Install everything the tests need (Python packages; Debian's Chromium, PostgreSQL and nginx)
# and run them.
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
# PostgreSQL's server programs, for the shared-store tests (tests/pg.py runs a throwaway
# cluster). The check is the search the fixtures make. No system cluster: the tests make their
# own, so createcluster.conf says so before the package's scripts run (and ucf keeps it).
if ! python3 -c "from aeries.store.pg_server import find_bin_dir; find_bin_dir()" 2>/dev/null; then
  no_cluster='mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" >>/etc/postgresql-common/createcluster.conf'
  if [ "$(id -u)" = "0" ]; then
    sh -c "$no_cluster"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    sudo sh -c "$no_cluster"
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
fi
# nginx, in front of `aeries serve --workers N` (its tests start their own, never the service).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
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
# The whole run (no arguments) also runs the page tests on the shared store: the same tests,
# each with a fresh PostgreSQL database as AERIES_DB (tests that set up the store
# they choose are marked own_store).
if [ "$#" -eq 0 ]; then
  AERIES_TEST_STORE=postgres python3 -m pytest tests/views tests/test_runtime.py tests/test_arena.py \
    tests/test_brief.py tests/observer tests/store/test_inflight.py -m "not own_store" 2>&1 \
    | grep -v -E '^(nanobind: | - leaked | - \.\.\. skipped|See https://nanobind)'
fi
