"""Streaming chat completions from vLLM through the openai client, with vLLM-benchmark timings.

Timing follows `vllm bench serve` exactly (0.33, ``_choice_has_streamed_output`` in
vllm/benchmarks/lib/endpoint_request_func.py): the clock starts just before the request is sent;
a chunk is *output* when its delta carries content, reasoning or tool calls, or ``content == ""``
without a ``role`` (the end-of-sequence token, which decodes to nothing, arrives that way one
step after the last visible text); the role chunk, a ``{}`` delta and the usage chunk are not.
TTFT = first output − start; E2EL = last output − start; ITL = gaps between consecutive output
*chunks* (one chunk can carry several tokens); TPOT = (E2EL − TTFT) / (completion_tokens − 1),
with completion_tokens from ``usage``. docs/timings.md says the same with examples.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx2
import openai

from aeries.calls import CallResult, ChatRequest, Delta, ServerMetrics, Status, StreamHook
from aeries.ids import new_id, utcnow
from aeries.llm.errors import describe_error, server_ending
from aeries.llm.think import Part, ThinkSplitter
from aeries.vocabulary import SERVER_ENDINGS

log = logging.getLogger(__name__)


class LiveStreams:
    """How many streams of one pool are being read right now, and a wait for a moment when
    none is (the observer takes its model calls out of the way of answers being shown)."""

    def __init__(self) -> None:
        self._count = 0
        self._quiet = threading.Condition()

    @property
    def count(self) -> int:
        return self._count

    def opened(self) -> None:
        with self._quiet:
            self._count += 1

    def closed(self) -> None:
        with self._quiet:
            self._count -= 1
            if self._count == 0:
                self._quiet.notify_all()

    def wait_quiet(self, timeout_s: float) -> bool:
        """Wait until no stream is open, at most ``timeout_s``; whether it is quiet now."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._count == 0, max(0.0, timeout_s))


class ClientPool:
    """One openai client per endpoint, created on first use and reused (keeps connections warm).
    ``live`` counts the streams opened through it that are still being read."""

    def __init__(self, api_key: str, *, connect_timeout_s: float, read_timeout_s: float) -> None:
        self.live = LiveStreams()
        self._api_key = api_key
        self._timeout = openai.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._clients: dict[str, openai.OpenAI] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: str) -> openai.OpenAI:
        """The client for ``endpoint``."""
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                # No retries: a retried stream would double-count timings, and a dead server
                # must be reported in milliseconds, not after backoff.
                client = openai.OpenAI(
                    base_url=endpoint,
                    api_key=self._api_key,
                    max_retries=0,
                    timeout=self._timeout,
                )
                # The chat resource is imported lazily on first access (~60 ms): pay it here,
                # not inside the first answer's TTFT.
                _ = client.chat.completions
                self._clients[endpoint] = client
            return client


class LLMStream:
    """A streaming call. ``start()`` sends the request; iterate for Deltas; ``close()`` aborts.

    A reader thread consumes the HTTP stream and timestamps every chunk as it arrives, so the
    timings are the server's even when the caller is busy drawing between reads; the caller
    receives the deltas through a queue. ``result`` is complete once iteration ends or
    ``close()`` returns, whatever happened.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        request: ChatRequest,
        hook: StreamHook | None = None,
        live: LiveStreams | None = None,
    ) -> None:
        self.request = request
        self._live = live
        self.result = CallResult(id=new_id())
        self._client = client
        self._hook = hook
        self._stream: Any = None
        self._t0 = 0.0
        self._last_output = 0.0
        self._started = False
        self._finished = False
        self._abort = threading.Event()
        self._queue: queue.SimpleQueue[Delta | None] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._read_status: Status = "aborted"
        self._gen = self._iterate()
        # A server without a reasoning parser sends <think>…</think> inside content.
        self._think = ThinkSplitter()

    def start(self) -> LLMStream:
        """Send the request now (before the caller renders anything); errors land in result."""
        if self._started:
            return self
        self._started = True
        req = self.request
        self.result.started_at = utcnow()
        self._t0 = time.perf_counter()
        body: dict[str, Any] = {
            "model": req.model,
            "messages": req.messages,
            "temperature": req.sampling.temperature,
            "top_p": req.sampling.top_p,
            "max_tokens": req.sampling.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if req.response_format:
            body["response_format"] = req.response_format
        body.update(req.body_extras())
        try:
            # The official client sends it (auth, timeouts, HTTP errors as openai exceptions)
            # and its Stream decodes the events (an in-stream error raises APIError), but
            # each chunk stays the JSON object it is: building a ChatCompletionChunk model
            # costs ~140 µs a chunk, two thirds of a stream's CPU, and under many sessions
            # every other answer waits for that CPU.
            self._stream = self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.Stream[object],
            )
        except Exception as exc:
            self._fail(exc)
            return self
        self._reader = threading.Thread(target=self._read, name="aeries-stream", daemon=True)
        if self._live is not None:
            self._live.opened()  # closed by the reader, however the stream ends
        self._reader.start()
        return self

    def __iter__(self) -> Iterator[Delta]:
        return self._gen

    def abort(self) -> None:
        """Stop from any thread: the HTTP stream is shut now (vLLM frees the request) and the
        stream ends with status 'aborted'."""
        self._abort.set()
        _shutdown_socket(self._stream)

    def close(self) -> None:
        """Stop early: close the HTTP stream so vLLM frees the request; record 'aborted'."""
        self._gen.close()
        self._stop_reader()
        if not self._finished:
            self._finish(self._read_status)

    def collect(self) -> CallResult:
        """Consume the whole stream and return the result."""
        for _ in self:
            pass
        return self.result

    def _iterate(self) -> Generator[Delta, None, None]:
        self.start()
        if self._stream is None:
            self._finish("error")
            return
        try:
            while (delta := self._queue.get()) is not None:
                yield delta
        finally:
            # Also on GeneratorExit (Stop, a rerun): abort the reader unless it already ended.
            self._stop_reader()
            self._finish(self._read_status)

    def _stop_reader(self) -> None:
        reader = self._reader
        if reader is None or reader is threading.current_thread():
            return
        if reader.is_alive():
            self.abort()
            reader.join(10)

    def _read(self) -> None:
        """The reader thread: every chunk timestamped on arrival, deltas handed over."""
        status: Status = "aborted"
        self._call_hook(None)
        try:
            for chunk in self._stream:
                now = time.perf_counter()
                if not isinstance(chunk, dict):
                    continue  # not a chunk object: nothing vLLM sends
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    self.result.prompt_tokens = usage.get("prompt_tokens")
                    self.result.completion_tokens = usage.get("completion_tokens")
                    # vLLM's per-request metrics ride on the usage chunk (an extra field).
                    server = ServerMetrics.from_wire(chunk.get("metrics"))
                    if server is not None:
                        self.result.server = server
                produced = False
                for choice in chunk.get("choices") or ():
                    if choice.get("finish_reason"):
                        self.result.finish_reason = choice["finish_reason"]
                    for delta in self._output(choice.get("delta") or {}, now):
                        self._queue.put(delta)
                        produced = True
                if produced:
                    self._call_hook(now)  # after the page has the delta: never delays it
                if self._abort.is_set():
                    break
            status = "aborted" if self._abort.is_set() else "ok"
        except Exception as exc:
            if self._abort.is_set():
                status = "aborted"  # the read failed because abort() shut the connection
            else:
                self._fail(exc)
                status = "error"
        finally:
            self._close_stream()
            for delta in self._take(self._think.finish()):
                self._queue.put(delta)
            self._read_status = status
            self._queue.put(None)
            if self._live is not None:
                self._live.closed()

    def _call_hook(self, now: float | None) -> None:
        hook = self._hook
        if hook is None:
            return
        try:
            if now is None:
                hook.prepare(self.result)
            else:
                hook.output(self.result, now)
        except Exception:  # a record that cannot be kept must never break the answer
            log.exception("stream hook failed")

    def _output(self, delta: dict[str, Any], now: float) -> Iterator[Delta]:
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        content = delta.get("content")
        if not _is_output(delta, reasoning, content):
            return
        self._mark_output(now)
        if reasoning:
            yield from self._take([("reasoning", reasoning)])
        if content:
            yield from self._take(self._think.feed(content))

    def _take(self, parts: list[Part]) -> Iterator[Delta]:
        for kind, text in parts:
            if kind == "reasoning":
                self.result.reasoning += text
            else:
                self.result.content += text
            yield Delta(kind, text)

    def _mark_output(self, now: float) -> None:
        result = self.result
        if result.ttft_ms is None:
            result.ttft_ms = (now - self._t0) * 1000.0
        else:
            result.itl_ms.append((now - self._last_output) * 1000.0)
        self._last_output = now
        result.e2e_ms = (now - self._t0) * 1000.0
        result.chunk_count += 1

    def _fail(self, exc: BaseException) -> None:
        result = self.result
        info = describe_error(
            exc,
            model=self.request.model,
            partial=bool(result.content or result.reasoning),
            output=result.chunk_count > 0,
        )
        self.result.error = info.message
        self.result.error_kind = info.kind
        self.result.error_detail = info.detail

    def _close_stream(self) -> None:
        if self._stream is not None:
            # Closing a broken connection may itself fail; there is nothing left to keep.
            with contextlib.suppress(Exception):
                self._stream.close()

    def _finish(self, status: Status) -> None:
        if self._finished:
            return
        self._finished = True
        result = self.result
        ending = SERVER_ENDINGS.get(result.finish_reason or "")
        if result.error is not None:
            status = "error"
        elif status == "ok" and ending is not None:
            # vLLM ended the answer itself (paused, shutting down, or it repeated itself): the
            # text is incomplete, so it is neither an ok answer nor the user's own Stop.
            status = "cut_off"
            info = server_ending(ending, partial=bool(result.content or result.reasoning))
            result.error, result.error_kind, result.error_detail = (
                info.message,
                info.kind,
                info.detail,
            )
        self.result.status = status
        if status == "aborted" and self.result.error is None:
            self.result.error_kind = "aborted"


def _is_output(delta: dict[str, Any], reasoning: str | None, content: str | None) -> bool:
    """vLLM's benchmark rule for whether a chunk is output (see the module docstring)."""
    if reasoning or content or delta.get("tool_calls") or delta.get("function_call"):
        return True
    # An end-of-sequence (or special) token: `content` present and empty, no `role` (the role
    # chunk has one; vLLM never sends `"role": null`).
    return content == "" and delta.get("role") is None


_WARM_CHUNK = (
    b'data: {"id":"w","object":"chat.completion.chunk","created":0,"model":"w",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"w"},"finish_reason":"stop"}]}'
    b"\n\n"
    b'data: {"id":"w","object":"chat.completion.chunk","created":0,"model":"w","choices":[],'
    b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\ndata: [DONE]\n\n'
)


def warm_up_client_stack() -> None:
    """Pay the client's one-time costs (lazy imports, the request path's first use) at startup
    with one in-memory call, so the first answer's TTFT is not slower than the rest."""

    def answer(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=_WARM_CHUNK
        )

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = openai.OpenAI(
        base_url="http://warm-up.invalid/v1", api_key="x", http_client=http, max_retries=0
    )
    request = ChatRequest("http://warm-up.invalid/v1", "w", [{"role": "user", "content": "w"}])
    LLMStream(client, request).collect()
    client.close()


def _shutdown_socket(stream: Any) -> None:
    """Wake a thread blocked reading this stream: close() alone does not interrupt a recv()
    in progress on Linux, but shutting the socket down does (the connection is not reused)."""
    response = getattr(stream, "response", None)
    network = (getattr(response, "extensions", None) or {}).get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def stream_chat(
    pool: ClientPool, request: ChatRequest, hook: StreamHook | None = None
) -> LLMStream:
    """Open a streaming call (request sent immediately)."""
    return LLMStream(pool.get(request.endpoint), request, hook, pool.live).start()
