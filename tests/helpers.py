"""Helpers shared by the tests: waiting for background effects, signing in as a participant,
and driving the chat page through AppTest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aeries.config import load_settings
from aeries.store.db import Database
from aeries.store.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until true or timeout (for background effects)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def participant_link(env: dict[str, str], name: str) -> dict[str, str]:
    """Query parameters that sign in as participant ``name`` (made if new), as the personal
    link a researcher hands out does."""
    from aeries.auth import name_key, participant_token
    from aeries.auth.tokens import load_or_create_key
    from aeries.store.users import account_by_key, create_account

    settings = load_settings(secrets={})
    key = load_or_create_key(settings.key_path, settings.secret)
    db = Database(settings.store_target)
    try:
        migrate(db)
        account = account_by_key(db, name_key(name)) or create_account(
            db, name, name_key(name), "invite"
        )
    finally:
        db.close()
    return {"p": participant_token(key, account.id, account.link_epoch)}


def send(at, text: str):
    at.chat_input(key="aeries.prompt").set_value(text).run()
    return at


def db_rows(env, sql: str, params=None):
    """Read the app's database from the test (same process: through the cached runtime)."""
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    rt = _runtime(load_settings(secrets={}))
    rt.writer.flush()
    return rt.db.rows(sql, params)


def last_chat_request(sim) -> dict:
    """The newest request the chat made (observer calls ask for structured output)."""
    chats = [r for r in sim.stats.requests_log if "response_format" not in r]
    return chats[-1]


def markdown_texts(at) -> list[str]:
    return [m.value for m in at.markdown]


def app_runtime():
    """The app's cached runtime, as the page under test uses it (same process)."""
    from aeries.config import load_settings
    from aeries.ui.resources import _runtime

    return _runtime(load_settings(secrets={}))


def problem_texts(at) -> str:
    """Every error and warning the page shows, as one text."""
    return " ".join(e.value for kind in ("error", "warning") for e in getattr(at, kind))
