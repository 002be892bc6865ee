"""In-flight answers: from the first token until the stream ends, an answer is kept in the
``inflight`` table, its text refreshed every few seconds, so a crash or a power cut loses at
most those seconds. The next start files what is left there as 'interrupted' exchanges (and
answers in their conversations).

The record is written from the stream's reader thread, through the background writer: it never
waits on the database and never runs before the request has gone out.

On a shared store other processes' answers are in the table too, alive: a process files only
rows no one has refreshed for ``STALE_S`` (longer than a stream may go without a chunk before
the client's read timeout ends it), and claims each by deleting it first, so two processes
never file one answer twice. ``InflightSweeper`` does that every minute, so the answers of a
worker that was killed are filed while the others keep serving.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aeries.calls import CallResult
from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.store.writer import Execute, Insert, Op, Writer

log = logging.getLogger(__name__)

REFRESH_S = 2.0
STALE_S = 180.0  # > the default 60 s read timeout, with room for clocks of several hosts
SWEEP_S = 60.0
INTERRUPTED_ERROR = (
    "Aeries stopped before this answer ended (the app was shut down or crashed); this is the "
    "text received until then."
)
_TIMES = ("started_at", "created_at", "edited_at")


def _encode(row: dict[str, Any]) -> str:
    return json.dumps(
        row, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else v
    )


def _decode(text: str) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(text)
    for key in _TIMES:
        if isinstance(row.get(key), str):
            row[key] = datetime.fromisoformat(row[key])
    return row


class InflightRecord:
    """The stream hook that keeps one answer's in-flight row (see aeries.llm.StreamHook)."""

    def __init__(
        self,
        writer: Writer,
        exchange: Callable[[CallResult], dict[str, Any]],
        *,
        user_id: str | None,
        conversation_id: str | None = None,
        message: Callable[[CallResult], dict[str, Any]] | None = None,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._writer = writer
        self._exchange = exchange
        self._message = message
        self._user_id = user_id
        self._conversation_id = conversation_id
        self._refresh_s = refresh_s
        self._message_json: str | None = None
        self._exchange_json = ""
        self._exchange_id: str | None = None
        self._last_write = 0.0

    def prepare(self, result: CallResult) -> None:
        """Serialise what does not change (the request, the answer's message row) while the
        first token is awaited, so the first token costs the reader thread only a queue put."""
        self._exchange_json = _encode(self._exchange(result))
        if self._message is not None:
            self._message_json = _encode(self._message(result))

    def output(self, result: CallResult, now: float) -> None:
        """Insert the record at the first output, then refresh its text every few seconds."""
        if self._exchange_id is None:
            self._exchange_id = result.id
            self._last_write = now
            self._writer.submit(
                Insert(
                    "inflight",
                    {
                        "exchange_id": result.id,
                        "user_id": self._user_id,
                        "conversation_id": self._conversation_id,
                        "exchange": self._exchange_json or _encode(self._exchange(result)),
                        "message": self._message_json,
                        "response_text": result.content,
                        "reasoning_text": result.reasoning or None,
                        "ttft_ms": result.ttft_ms,
                        "e2e_ms": result.e2e_ms,
                        "chunk_count": result.chunk_count,
                        "updated_at": utcnow(),
                    },
                )
            )
            return
        if now - self._last_write < self._refresh_s:
            return
        self._last_write = now
        self._writer.submit(
            Execute(
                """UPDATE inflight SET response_text = ?, reasoning_text = ?, e2e_ms = ?,
                   chunk_count = ?, updated_at = ? WHERE exchange_id = ?""",
                [
                    result.content,
                    result.reasoning or None,
                    result.e2e_ms,
                    result.chunk_count,
                    utcnow(),
                    result.id,
                ],
            )
        )

    def done_ops(self) -> list[Op]:
        """What ends the record, to submit after the final rows (nothing if none was made)."""
        if self._exchange_id is None:
            return []
        return [Execute("DELETE FROM inflight WHERE exchange_id = ?", [self._exchange_id])]


def _file_one(cur: Any, row: dict[str, Any]) -> None:
    exchange = _decode(row["exchange"])
    known = cur.execute("SELECT 1 FROM exchanges WHERE id = ?", [exchange["id"]]).fetchone()
    if not known:  # not ended cleanly: file what was shown
        exchange.update(
            response_text=row["response_text"],
            reasoning_text=row["reasoning_text"],
            ttft_ms=row["ttft_ms"] if row["ttft_ms"] is not None else exchange.get("ttft_ms"),
            e2e_ms=row["e2e_ms"] if row["e2e_ms"] is not None else exchange.get("e2e_ms"),
            chunk_count=row["chunk_count"],
            status="interrupted",
            error=INTERRUPTED_ERROR,
            error_kind="interrupted",
            tpot_ms=None,
        )
        names = ", ".join(exchange)
        marks = ", ".join("?" for _ in exchange)
        cur.execute(f"INSERT INTO exchanges ({names}) VALUES ({marks})", list(exchange.values()))
    if row["message"]:
        message = _decode(row["message"])
        present = cur.execute("SELECT 1 FROM messages WHERE id = ?", [message["id"]]).fetchone()
        if not present:
            message.update(content=row["response_text"], status="interrupted")
            message["reasoning"] = row["reasoning_text"]
            names = ", ".join(message)
            marks = ", ".join("?" for _ in message)
            cur.execute(f"INSERT INTO messages ({names}) VALUES ({marks})", list(message.values()))
            cur.execute(
                """UPDATE conversations
                   SET message_count = message_count + 1, last_message_at = ?,
                       current_leaf_id = ?
                   WHERE id = ? AND user_id = ?""",
                [message["created_at"], message["id"], row["conversation_id"], row["user_id"]],
            )


def recover_inflight(db: Database, *, older_than_s: float | None = None) -> int:
    """File the answers left in flight by a process that ended (call before the app serves);
    returns how many were filed as interrupted. ``older_than_s``: only rows not refreshed for
    that long (on a shared store, where younger rows are other processes' live answers);
    None files every row (the embedded store: one process, so none is live at start)."""
    if older_than_s is None:
        rows = db.records("SELECT * FROM inflight ORDER BY updated_at")
    else:
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        rows = db.records(
            "SELECT * FROM inflight WHERE updated_at < ? ORDER BY updated_at", [cutoff]
        )
    filed = 0
    for row in rows:
        try:
            with db.transaction() as cur:
                # Claim it first: a second process filing the same row waits on the row lock,
                # then finds it gone and files nothing.
                claimed = cur.execute(
                    "DELETE FROM inflight WHERE exchange_id = ? RETURNING exchange_id",
                    [row["exchange_id"]],
                ).fetchone()
                if claimed is None:
                    continue
                _file_one(cur, row)
            filed += 1
        except Exception:  # keep the row for the next start rather than lose it
            log.exception("Could not file the interrupted answer %s", row["exchange_id"])
    if filed:
        log.warning("Filed %d answers interrupted by a shutdown or crash", filed)
    return filed


class InflightSweeper:
    """On a shared store: files, every ``every_s``, the answers of processes that ended
    without filing them (a worker killed mid-stream), while this process keeps serving."""

    def __init__(
        self, db: Database, *, every_s: float = SWEEP_S, older_than_s: float = STALE_S
    ) -> None:
        self._db = db
        self._every_s = every_s
        self._older_than_s = older_than_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aeries-inflight", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                recover_inflight(self._db, older_than_s=self._older_than_s)
            except Exception as exc:  # the store is away: the next sweep tries again
                log.warning("Could not look for interrupted answers: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
