"""The websocket load client sends back what a browser would: every value widget's state."""

from __future__ import annotations

import asyncio

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from bench.ws_client import WsSession


def _drawn(session: WsSession, kind: str, **fields: object) -> None:
    """Deliver a delta that draws one element of ``kind`` with ``fields`` set."""
    msg = ForwardMsg()
    msg.metadata.delta_path.extend([0, len(session._widgets)])
    proto = getattr(msg.delta.new_element, kind)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(proto, name).extend(value)
        else:
            setattr(proto, name, value)
    session._handle(msg, 0.0)


def _sent(session: WsSession) -> dict[str, object]:
    msg = BackMsg()
    session._client_state(msg)
    out: dict[str, object] = {}
    for w in msg.rerun_script.widget_states.widgets:
        field = w.WhichOneof("value")
        value = getattr(w, field)
        out[w.id] = list(value.data) if field == "double_array_value" else value
    return out


def test_each_value_widget_is_sent_back_with_the_value_it_shows() -> None:
    session = WsSession("http://127.0.0.1:1")
    _drawn(session, "slider", id="temp", default=[0.7])
    _drawn(session, "number_input", id="max", default=1.0, value=1024.0, set_value=True)
    _drawn(session, "checkbox", id="think", default=True)
    _drawn(session, "text_area", id="prompt", default="")
    _drawn(session, "selectbox", id="persona", options=["Helpful", "Terse"], default=1)
    _drawn(session, "markdown", body="not a widget")
    assert _sent(session) == {
        "temp": [0.7],
        "max": 1024.0,
        "think": True,
        "prompt": "",
        "persona": "Terse",
    }


def test_a_widget_drawn_again_keeps_its_value_unless_the_script_sets_one() -> None:
    session = WsSession("http://127.0.0.1:1")
    _drawn(session, "number_input", id="max", default=1.0, value=1024.0, set_value=True)
    _drawn(session, "number_input", id="max", default=1.0)  # redrawn: the browser keeps 1024
    assert _sent(session) == {"max": 1024.0}
    _drawn(session, "number_input", id="max", default=1.0, value=64.0, set_value=True)
    assert _sent(session) == {"max": 64.0}


def test_the_handshake_carries_the_given_headers_and_exposes_the_answers() -> None:
    # A proxy routes a session by the cookie sent with the handshake and names the worker in
    # its answer: both must pass through WsSession (bench_workers and tests/serve rely on it).
    sent: list[str | None] = []

    def name_the_worker(connection: ServerConnection, request: Request, response: Response) -> None:
        response.headers["X-Aeries-Worker"] = "1"

    async def handler(ws: ServerConnection) -> None:
        sent.append(ws.request.headers.get("Cookie") if ws.request else None)
        await ws.wait_closed()

    async def scenario() -> str | None:
        async with serve(
            handler,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("streamlit")],
            process_response=name_the_worker,
        ) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            async with WsSession(url, headers={"Cookie": "aeries_worker=abc"}) as session:
                assert session.response_headers is not None
                return session.response_headers.get("X-Aeries-Worker")

    assert asyncio.run(scenario()) == "1"
    assert sent == ["aeries_worker=abc"]
