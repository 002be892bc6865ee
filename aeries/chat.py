"""One chat turn, independent of the UI: request from the shown branch, stream, then persist.

Order matters: the request goes out before anything is written (stream first, persist later);
the user message, the answer and the exchange are handed to the background writer once the
stream has ended, however it ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aeries.calls import StudyRef
from aeries.history import history_window
from aeries.ids import new_id, utcnow
from aeries.llm import CallResult, ChatRequest, LLMStream, Sampling, stream_chat
from aeries.messages import Message
from aeries.observer import FinishedTurn
from aeries.runtime import Runtime
from aeries.store.conversations import message_row, save_message
from aeries.store.exchanges import exchange_row
from aeries.store.inflight import InflightRecord
from aeries.store.signals import record_implicit
from aeries.store.writer import Insert


def system_messages(*parts: str | None) -> list[dict[str, str]]:
    """System messages for the non-empty parts (persona prompt, then the brief)."""
    return [{"role": "system", "content": p.strip()} for p in parts if p and p.strip()]


@dataclass
class TurnSpec:
    """Everything that defines one answer to generate."""

    user_id: str
    conversation_id: str
    endpoint: str
    model: str
    sampling: Sampling
    system_prompt: str | None = None
    brief: str | None = None
    origin: str = "new"
    origin_message_id: str | None = None
    persona_id: str | None = None
    brief_enabled: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)
    max_model_len: int | None = None  # the model's context, bounding the history by tokens
    study: StudyRef | None = None  # the study (version, condition) this turn is made in


class Turn:
    """A streaming answer to the last user message of ``branch``; ``finish()`` persists it."""

    def __init__(self, runtime: Runtime, spec: TurnSpec, branch: list[Message]) -> None:
        self.runtime = runtime
        self.spec = spec
        self.parent = branch[-1]
        self.previous_answer = next(
            (m.content for m in reversed(branch[:-1]) if m.role == "assistant"), None
        )
        system = system_messages(spec.system_prompt, spec.brief)
        # Bounded by messages and by tokens: one huge old message cannot fill the context.
        self.window = history_window(
            branch,
            history=runtime.settings.history,
            max_model_len=spec.max_model_len,
            max_tokens=spec.sampling.max_tokens,
            system=system,
        )
        messages = system + self.window.messages
        self.request = ChatRequest(spec.endpoint, spec.model, messages, spec.sampling)
        self.message_id = new_id()
        self.answer: Message | None = None
        # Kept in the inflight table from the first token on, so a crash leaves what was shown.
        self.record = InflightRecord(
            runtime.writer,
            self._exchange_row,
            user_id=spec.user_id,
            conversation_id=spec.conversation_id,
            message=lambda started: message_row(self._message(started, "interrupted")),
        )
        self.stream: LLMStream = stream_chat(runtime.pool, self.request, self.record)

    def _message(self, result: CallResult, status: str) -> Message:
        spec = self.spec
        return Message(
            id=self.message_id,
            conversation_id=spec.conversation_id,
            parent_id=self.parent.id,
            role="assistant",
            content=result.content,
            created_at=utcnow(),
            reasoning=result.reasoning or None,
            status=status,
            exchange_id=result.id,
            origin=spec.origin,
            origin_message_id=spec.origin_message_id,
        )

    def _exchange_row(self, result: CallResult) -> dict[str, Any]:
        spec = self.spec
        params = {
            **spec.params,
            "history": self.runtime.settings.history,
            "history_omitted": self.window.omitted,
        }
        if spec.system_prompt:
            params["system_prompt"] = spec.system_prompt
        return exchange_row(
            self.request,
            result,
            source="chat",
            user_id=spec.user_id,
            conversation_id=spec.conversation_id,
            message_id=self.message_id,
            persona_id=spec.persona_id,
            brief_enabled=spec.brief_enabled,
            params=params,
            study=spec.study,
        )

    def finish(self) -> Message:
        """Close the stream if still open, then log the exchange and store the answer."""
        if self.answer is not None:
            return self.answer
        self.stream.close()
        result = self.stream.result
        spec = self.spec
        self.answer = self._message(result, result.status)
        self.answer.meta = {
            "model": spec.model,
            "ttft_ms": result.ttft_ms,
            "e2e_ms": result.e2e_ms,
            "completion_tokens": result.completion_tokens,
            "prompt_tokens": result.prompt_tokens,
            "error": result.error,
            "started_at": result.started_at,
            "persona_id": spec.persona_id,
            "brief_enabled": spec.brief_enabled,
        }
        writer = self.runtime.writer
        writer.submit(Insert("exchanges", self._exchange_row(result)))
        save_message(writer, spec.user_id, self.answer)
        writer.submit(*self.record.done_ops())
        if result.status == "aborted":
            record_implicit(writer, "abort", spec.user_id, self.answer)
        self._observe()
        return self.answer

    def _observe(self) -> None:
        """Hand the finished exchange to the observer (it runs after the stream, never before)."""
        observer = self.runtime.observer
        answer = self.answer
        if observer is None or answer is None or self.parent.role != "user":
            return
        result = self.stream.result
        observer.submit(
            FinishedTurn(
                user_id=self.spec.user_id,
                conversation_id=self.spec.conversation_id,
                exchange_id=result.id,
                answer_message_id=answer.id,
                user_message_id=self.parent.id,
                user_text=self.parent.content,
                answer_text=result.content,
                previous_answer=self.previous_answer,
                status=result.status,
                e2e_ms=result.e2e_ms,
                endpoint=self.spec.endpoint,
                model=self.spec.model,
                started_at=result.started_at,
                persona_id=self.spec.persona_id,
                brief_enabled=self.spec.brief_enabled,
                study=self.spec.study,
            )
        )


def user_message(
    conversation_id: str,
    parent_id: str | None,
    text: str,
    *,
    origin: str = "new",
    origin_message_id: str | None = None,
) -> Message:
    """A new user message (a sibling of ``origin_message_id`` when it is an edit)."""
    now = utcnow()
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        parent_id=parent_id,
        role="user",
        content=text,
        created_at=now,
        origin=origin,
        origin_message_id=origin_message_id,
        edited_at=now if origin == "edit" else None,
    )
