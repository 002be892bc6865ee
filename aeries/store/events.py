"""Events: changes the user made (persona switched, brief toggled, preference deleted)."""

from __future__ import annotations

import json
from typing import Any

from aeries.ids import new_id, utcnow
from aeries.store.writer import Insert, Writer


def log_event(
    writer: Writer,
    kind: str,
    *,
    user_id: str | None,
    conversation_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record an event (written in the background)."""
    writer.submit(
        Insert(
            "events",
            {
                "id": new_id(),
                "user_id": user_id,
                "conversation_id": conversation_id,
                "kind": kind,
                "payload": json.dumps(payload or {}, ensure_ascii=False),
                "created_at": utcnow(),
            },
        )
    )
