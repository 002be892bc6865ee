"""A Streamlit session without a browser: Streamlit's own protocol on ``/_stcore/stream``.

One ``WsSession`` is one browser tab as the server sees it. It speaks the installed
``streamlit.proto`` messages over a websocket (``websockets``, already installed with uvicorn):

* connect to ``ws://host:port/_stcore/stream`` offering the subprotocol ``streamlit`` (the
  browser repurposes that header as ``streamlit, <xsrf token>, <session id>``; no Origin is
  sent, so the XSRF check that only guards the auth cookie is not involved). Compression
  (permessage-deflate) is offered as a browser does;
* ``open(query)`` sends the ``rerun_script`` BackMsg a page load sends: a ``ClientState``
  with the page's query string, an empty page script hash (the start page) and the
  ``context_info`` (url, timezone, locale) that ``st.context`` reads;
* every ForwardMsg (one per binary frame) is parsed and timed as it arrives: ``new_session``
  starts a run (and names the page's script hash), ``page_info_changed`` carries the query
  string the script set (the browser puts it in its URL and sends it back on the next rerun;
  so does this client), ``delta`` messages draw elements and blocks at ``metadata.delta_path``,
  and ``script_finished`` ends a run. A run chain ends with ``FINISHED_SUCCESSFULLY``;
  ``FINISHED_EARLY_FOR_RERUN`` (an ``st.rerun()``) is followed by another run;
* ``submit(text)`` sends what the browser sends when Enter is pressed in ``st.chat_input``: a
  ``rerun_script`` whose ``widget_states`` hold the chat input's id with
  ``chat_input_value.data = text`` (Streamlit 1.67's chat input is a ``chat_input_value``
  trigger, not a ``string_trigger_value``; see ``streamlit/testing/v1/element_tree.py``).
  The chat input is found in the deltas: the ``chat_input`` element whose id ends with the
  key (``$$ID-<hash>-<key>``), else the first one.

The answer to a submit is the assistant ``chat_message`` block after the ones the last run
drew (history is redrawn on every run): the first markdown delta under that block with text
in it (the streaming cursor ``▌`` and whitespace left out, expanders such as "Reasoning" left
out, as ``bench_browser.py`` does) is the first answer text. ``Turn`` records, from the moment
the BackMsg went out: that first text, the end of the run chain, and the bytes received.

Not handled: the values of other widgets (the browser re-sends every widget's state on each
rerun; this client sends only the chat input, so the others keep their server-side values),
the forward-message cache (no ``cached_message_hashes`` are sent, so nothing arrives as a
``ref_hash``), file uploads, heartbeats, reconnecting, fragments.

Identity is up to the caller: ``bench.bench_sessions`` opens each session with a personal
link (``?p=<token>``) made as ``tests/helpers.participant_link`` makes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.datastructures import Headers

CURSOR = "▌"
Path = tuple[int, ...]


@dataclass
class Turn:
    """One submit (or page open) and what came back, times in perf_counter seconds."""

    text: str | None
    sent_at: float
    sent_wall: float = 0.0  # time.time() at sent_at: to place the turn among the app's rows
    answers_before: int = 0  # assistant blocks the previous run drew
    first_text_at: float | None = None
    ended_at: float | None = None
    bytes_received: int = 0
    frames: int = 0

    @property
    def first_text_ms(self) -> float | None:
        return None if self.first_text_at is None else (self.first_text_at - self.sent_at) * 1e3

    @property
    def end_ms(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.sent_at) * 1e3


@dataclass
class _Run:
    """What the current script run drew that matters here."""

    assistant_blocks: list[Path] = field(default_factory=list)
    expanders: list[Path] = field(default_factory=list)


class WsSession:
    """One Streamlit session over ``/_stcore/stream``. Use as ``async with``.

    ``headers`` go with the websocket handshake (e.g. the ``Cookie`` a proxy routes by, as the
    browser sends the cookies it was given); ``response_headers`` are the handshake answer's
    once connected (e.g. the header a proxy names the worker in)."""

    def __init__(
        self,
        base_url: str,
        chat_key: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        self.http_base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream"
        self.chat_key = chat_key
        self.headers = dict(headers or {})
        self.response_headers: Headers | None = None
        self.query_string = ""
        self.page_script_hash = ""
        self.chat_input_id: str | None = None
        self.errors: list[str] = []
        self.bytes_total = 0
        self._ws: websockets.ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._run = _Run()
        self._answers_last_run = 0
        self._turn: Turn | None = None
        self._ended = asyncio.Event()
        # Every value widget drawn so far and the value it shows, sent back with each rerun as
        # the browser does (a rerun without them resets those widgets to their defaults).
        self._widgets: dict[str, tuple[str, object]] = {}

    async def __aenter__(self) -> Self:
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=[websockets.Subprotocol("streamlit")],
            additional_headers=self.headers,
            max_size=None,
            ping_interval=None,  # a loaded server must not be dropped for a late pong
            open_timeout=120,
            close_timeout=5,
        )
        if self._ws.response is not None:
            self.response_headers = self._ws.response.headers
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    # --- sending ---------------------------------------------------------------------------

    def _client_state(self, msg: BackMsg) -> None:
        state = msg.rerun_script
        for wid, (field_name, value) in self._widgets.items():
            widget = state.widget_states.widgets.add()
            widget.id = wid
            if field_name == "double_array_value":
                widget.double_array_value.data.extend(value)
            else:
                setattr(widget, field_name, value)
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        ctx = state.context_info
        ctx.timezone = "UTC"
        ctx.timezone_offset = 0
        ctx.locale = "en-US"
        ctx.url = self.http_base + "/" + (f"?{self.query_string}" if self.query_string else "")

    async def _send(self, msg: BackMsg, text: str | None) -> Turn:
        assert self._ws is not None, "use the session as `async with`"
        self._ended.clear()
        turn = Turn(text, time.perf_counter(), time.time(), answers_before=self._answers_last_run)
        self._turn = turn
        await self._ws.send(msg.SerializeToString())
        return turn

    async def open(self, query_string: str = "", timeout: float = 120.0) -> Turn:
        """Load the page (``query_string`` without ``?``) and wait until its run ends and the
        chat input is on the page."""
        self.query_string = query_string
        msg = BackMsg()
        self._client_state(msg)
        turn = await self._send(msg, None)
        await self.wait_end(timeout)
        if self.chat_input_id is None:
            raise RuntimeError(f"no chat input on the page; errors: {self.errors}")
        return turn

    async def submit(self, text: str) -> Turn:
        """Press Enter in the chat input with ``text`` typed; returns the turn being recorded
        (``wait_end`` waits for it)."""
        if self.chat_input_id is None:
            raise RuntimeError("the page has no chat input (open it first)")
        msg = BackMsg()
        self._client_state(msg)
        widget = msg.rerun_script.widget_states.widgets.add()
        widget.id = self.chat_input_id
        widget.chat_input_value.data = text
        return await self._send(msg, text)

    async def wait_end(self, timeout: float) -> Turn:
        """Wait until the current run chain ended (``script_finished``, not for a rerun)."""
        try:
            await asyncio.wait_for(self._ended.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no end of the script run after {timeout:g} s; errors: {self.errors}"
            ) from None
        assert self._turn is not None
        return self._turn

    # --- receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                now = time.perf_counter()
                if isinstance(frame, str):
                    continue
                self.bytes_total += len(frame)
                if self._turn is not None:
                    self._turn.bytes_received += len(frame)
                    self._turn.frames += 1
                msg = ForwardMsg()
                msg.ParseFromString(frame)
                self._handle(msg, now)
        except websockets.ConnectionClosed as exc:
            self.errors.append(f"connection closed: {exc}")
            self._ended.set()

    def _handle(self, msg: ForwardMsg, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._run = _Run()
            if msg.new_session.page_script_hash:
                self.page_script_hash = msg.new_session.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "delta":
            self._delta(msg, now)
        elif kind == "session_event":
            if msg.session_event.HasField("script_compilation_exception"):
                exc = msg.session_event.script_compilation_exception
                self.errors.append(f"{exc.type}: {exc.message}")
        elif kind == "script_finished":
            status = msg.script_finished
            if status in (ForwardMsg.FINISHED_EARLY_FOR_RERUN,):
                return  # st.rerun(): another run follows
            self._answers_last_run = len(self._run.assistant_blocks)
            if self._turn is not None and self._turn.ended_at is None:
                self._turn.ended_at = now
            self._ended.set()

    def _delta(self, msg: ForwardMsg, now: float) -> None:
        path: Path = tuple(msg.metadata.delta_path)
        delta = msg.delta
        which = delta.WhichOneof("type")
        if which == "add_block":
            block = delta.add_block
            block_kind = block.WhichOneof("type")
            if block_kind == "chat_message" and block.chat_message.name == "assistant":
                if path not in self._run.assistant_blocks:
                    self._run.assistant_blocks.append(path)
            elif block_kind == "expandable" and path not in self._run.expanders:
                self._run.expanders.append(path)
            return
        if which != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        shown = _shown_value(kind, element, self._widgets)
        if shown is not None and kind is not None:
            self._widgets[getattr(element, kind).id] = shown
        if kind == "chat_input":
            wid = element.chat_input.id
            if self.chat_key is None:
                self.chat_input_id = self.chat_input_id or wid
            elif wid.endswith(f"-{self.chat_key}") or self.chat_input_id is None:
                self.chat_input_id = wid
        elif kind == "exception":
            self.errors.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "markdown":
            self._markdown(path, element.markdown.body, now)

    def _markdown(self, path: Path, body: str, now: float) -> None:
        turn = self._turn
        if turn is None or turn.text is None or turn.first_text_at is not None:
            return
        blocks = self._run.assistant_blocks
        if len(blocks) <= turn.answers_before:
            return
        answer = blocks[turn.answers_before]
        if path[: len(answer)] != answer:
            return
        if any(path[: len(e)] == e for e in self._run.expanders):
            return
        shown = "".join(body.replace(CURSOR, "").split())
        if shown and shown != "".join(turn.text.split()):
            turn.first_text_at = now


def _shown_value(
    kind: str | None, element: Element, known: dict[str, tuple[str, object]]
) -> tuple[str, object] | None:
    """The widget state field and value a browser holds for a value widget just drawn: the
    value the script set, else what it held already, else the widget's default; None for
    other elements and for a known widget the script did not set (its value stays)."""
    if kind is None:
        return None
    proto = getattr(element, kind)
    if not hasattr(proto, "set_value") or (proto.id in known and not proto.set_value):
        return None
    if kind == "slider":
        return "double_array_value", list(proto.value if proto.set_value else proto.default)
    if kind == "number_input":
        return "double_value", proto.value if proto.set_value else proto.default
    if kind == "checkbox":  # toggles too
        return "bool_value", proto.value if proto.set_value else proto.default
    if kind in ("text_area", "text_input"):
        return "string_value", proto.value if proto.set_value else proto.default
    if kind == "selectbox":
        if proto.set_value:
            return "string_value", proto.raw_value
        if proto.options:
            return "string_value", proto.options[proto.default]
    return None
