"""Helpers for the store's concurrency tests: a call made while a store-wide lock is held, and
one call from many threads released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aeries.store.db import Database


def waits_for(db: Database, key: str, call: Callable[[], Any]) -> Any:
    """Run ``call`` in another thread while this one holds ``db.lock(key)``: it must still be
    waiting after a while, and finish once the lock is released. Returns its result."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc
        done.set()

    with db.lock(key):
        thread = threading.Thread(target=run)
        thread.start()
        assert not done.wait(0.3), f"ran without waiting for the lock {key!r}"
    thread.join(10)
    assert done.is_set(), "still waiting after the lock was released"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def at_once(n: int, call: Callable[[], Any]) -> list[Any]:
    """``call`` from ``n`` threads released together; each result, or the exception raised."""
    gate = threading.Barrier(n)
    results: list[Any] = []

    def run() -> None:
        gate.wait()
        try:
            results.append(call())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
