"""The observer: after each finished chat exchange, signals about the user, in the background.

Runs on a small bounded pool of threads: it never delays a stream or the next turn, never calls
Streamlit, and turns every failure of its own (server down, timeout, invalid JSON, refusal,
schema violation, overload) into an ``observer_error`` signal instead of an exception.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aeries.calls import StudyRef
from aeries.llm import ChatRequest, ClientPool, LiveStreams, ModelInfo, Sampling, stream_chat
from aeries.observer.extraction import (
    EXTRACTOR,
    PROMPT_HASH,
    RESPONSE_FORMAT,
    VERSION,
    Observation,
    ObservationError,
    observer_messages,
    parse_observation,
)
from aeries.store.exchanges import exchange_row, log_exchange
from aeries.store.facts import AnswerContext, fact_ops
from aeries.store.profile import profile_ops
from aeries.store.signals import HEURISTICS, Provenance, Target
from aeries.store.writer import Insert, Writer
from aeries.vocabulary import HeuristicName

log = logging.getLogger(__name__)

MODEL_PROVENANCE = Provenance(EXTRACTOR, VERSION, PROMPT_HASH)
# How long after its answer an observation may wait for the answers still streaming to end.
YIELD_S = 20.0


@dataclass(frozen=True)
class FinishedTurn:
    """A chat exchange that has ended, as the observer needs it."""

    user_id: str
    conversation_id: str
    exchange_id: str
    answer_message_id: str
    user_message_id: str
    user_text: str
    answer_text: str
    previous_answer: str | None
    status: str
    e2e_ms: float | None
    endpoint: str
    model: str
    started_at: datetime
    persona_id: str | None = None
    brief_enabled: bool | None = None
    study: StudyRef | None = None

    @property
    def target(self) -> Target:
        """What the observer's signals are about: the answer message and its exchange."""
        return Target(
            self.user_id, self.conversation_id, self.answer_message_id, self.exchange_id, self.study
        )

    @property
    def context(self) -> AnswerContext:
        """The answer as analytics files the observer's signals under."""
        return AnswerContext(
            exchange_id=self.exchange_id,
            user_id=self.user_id,
            started_at=self.started_at,
            model=self.model,
            source="chat",
            persona_id=self.persona_id,
            brief_enabled=self.brief_enabled,
        )


class Observer:
    """A bounded background pool that observes finished turns."""

    def __init__(
        self,
        writer: Writer,
        pool: ClientPool,
        resolve_model: Callable[[str], ModelInfo | None],
        *,
        observer_model: str | None = None,
        workers: int = 2,
        max_pending: int = 64,
        extra_body: dict[str, Any] | None = None,
        answers: LiveStreams | None = None,
        yield_s: float = YIELD_S,
    ) -> None:
        self.writer = writer
        self.answers = answers
        self.yield_s = yield_s
        self.pool = pool
        self.resolve_model = resolve_model
        self.observer_model = observer_model
        self.extra_body = extra_body
        # Each turn with the time it was queued (monotonic).
        self._queue: queue.Queue[tuple[float, FinishedTurn] | None] = queue.Queue(max_pending)
        self._idle = threading.Condition()
        self._busy = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"aeries-observer-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, turn: FinishedTurn) -> bool:
        """Queue a turn; when the queue is full the turn is skipped and that is recorded."""
        with self._idle:
            self._busy += 1
        try:
            self._queue.put_nowait((time.monotonic(), turn))
        except queue.Full:
            self._done()
            self._error(turn, "overloaded", "observer queue full; turn skipped")
            return False
        return True

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued turn is observed (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Finish queued work (up to ``timeout``), then stop the workers; say how many finished
        answers were left unobserved (their exchanges are logged; only the signals are missing)."""
        if not self.drain(timeout):
            with self._idle:
                left = self._busy
            log.warning("Stopping with %d finished answers not yet observed", left)
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    def _done(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            queued_at, turn = item
            try:
                if self.answers is not None:
                    # An observation is never urgent, answers on screen are: wait for a
                    # moment when none is streaming, but no longer than yield_s after the
                    # answer ended (so a busy server delays observations, never loses them).
                    self.answers.wait_quiet(queued_at + self.yield_s - time.monotonic())
                self.observe(turn)
            except Exception as exc:  # never let one turn kill the worker
                log.exception("observer failed")
                self._error(turn, "internal", f"{type(exc).__name__}: {exc}")
            finally:
                self._done()

    def observe(self, turn: FinishedTurn) -> None:
        """Write heuristic signals, then ask the observer model (synchronously, in a worker)."""
        self._heuristics(turn)
        self._model_signals(turn)

    def _heuristics(self, turn: FinishedTurn) -> None:
        values: dict[HeuristicName, float] = {
            "user_chars": len(turn.user_text),
            "answer_chars": len(turn.answer_text),
        }
        if turn.e2e_ms is not None and turn.status == "ok":
            values["answer_latency_ms"] = turn.e2e_ms
        self._write(
            turn,
            [
                turn.target.row("heuristic", name, HEURISTICS, value_num=float(value))
                for name, value in values.items()
            ],
        )

    def _model_signals(self, turn: FinishedTurn) -> None:
        target = self._target(turn)
        if target is None:
            self._error(
                turn,
                "model_unavailable",
                f"observer model {self.observer_model!r} is not served by any endpoint",
            )
            return
        request = ChatRequest(
            target.endpoint,
            target.id,
            observer_messages(turn.previous_answer, turn.user_text, turn.answer_text),
            Sampling(temperature=0.0, top_p=1.0, max_tokens=400, thinking=False),
            response_format=RESPONSE_FORMAT,
            extra_body=self.extra_body,
        )
        result = stream_chat(self.pool, request).collect()
        log_exchange(
            self.writer,
            exchange_row(
                request,
                result,
                source="observer",
                user_id=turn.user_id,
                conversation_id=turn.conversation_id,
                message_id=turn.answer_message_id,
                params={
                    "extractor": EXTRACTOR,
                    "extractor_version": VERSION,
                    "prompt_hash": PROMPT_HASH,
                    "observed_exchange_id": turn.exchange_id,
                },
                study=turn.study,
            ),
        )
        if result.status != "ok":
            self._error(turn, result.error_kind or "error", result.error or "observer call failed")
            return
        try:
            observation = parse_observation(result.content)
        except ObservationError as exc:
            self._error(turn, exc.reason, exc.detail)
            return
        self._write_observation(turn, observation)

    def _target(self, turn: FinishedTurn) -> ModelInfo | None:
        if not self.observer_model:
            return ModelInfo(turn.endpoint, turn.model)
        return self.resolve_model(self.observer_model)

    def _write_observation(self, turn: FinishedTurn, obs: Observation) -> None:
        p = MODEL_PROVENANCE
        rows = [
            turn.target.row("observer", "sentiment", p, value_num=obs.sentiment),
            turn.target.row("observer", "satisfaction", p, value_num=obs.satisfaction),
            turn.target.row("observer", "confidence", p, value_num=obs.confidence),
            turn.target.row("observer", "corrected", p, value_num=float(obs.corrected)),
            turn.target.row("observer", "intent", p, value_text=obs.intent),
        ]
        rows += [turn.target.row("observer", "topic", p, value_text=t) for t in obs.topics]
        rows += [
            turn.target.row("observer", "preference", p, value_text=f"{aspect}={value}")
            for aspect, value in sorted(obs.preferences.items())
        ]
        if obs.corrected and obs.correction:
            rows.append(turn.target.row("observer", "correction", p, value_text=obs.correction))
        self._write(turn, rows)

    def _write(self, turn: FinishedTurn, rows: list[dict[str, Any]]) -> None:
        """The rows, then what they add to the brief's profile and to analytics, in one batch
        (the rows first, so the writer inserts them together)."""
        derived = [op for row in rows for op in (*fact_ops(row, turn.context), *profile_ops(row))]
        derived.sort(key=lambda op: not isinstance(op, Insert))  # note rows before upserts
        self.writer.submit(*(Insert("signals", row) for row in rows), *derived)

    def _error(self, turn: FinishedTurn, reason: str, detail: str) -> None:
        row = turn.target.row(
            "observer",
            "observer_error",
            MODEL_PROVENANCE,
            value_text=f"{reason}: {detail}"[:500],
        )
        self._write(turn, [row])
