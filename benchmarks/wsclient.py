"""A minimal Streamlit websocket client: the browser's protocol, without a browser.

It sends BackMsg.rerun_script (the page, query string and widget states) and
reads ForwardMsgs until script_finished, collecting the widgets the page drew.
Used by load.py and memory.py against a server on loopback only (tests/server.py starts it). Streamlit
1.67 serves with uvicorn/starlette and depends on `websockets` (no longer on
tornado), so that is the client here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

WIDGET_TYPES = {
    "slider",
    "number_input",
    "checkbox",
    "selectbox",
    "radio",
    "button_group",
    "multiselect",
    "toggle",
}


@dataclass
class RunResult:
    seconds: float
    widgets: dict[str, tuple[str, object]]  # widget id -> (element type, proto)
    texts: list[str] = field(default_factory=list)
    exceptions: int = 0
    messages: list[str] = field(default_factory=list)  # exception and error texts, for the report


def rerun_message(states, page_name: str = "", query: str = "") -> bytes:
    """BackMsg.rerun_script as the browser sends it: page, query string and widget states."""
    msg = BackMsg()
    cs = msg.rerun_script
    cs.query_string = query
    cs.page_name = page_name
    cs.widget_states.widgets.extend(states)
    return msg.SerializeToString()


def absorb(raw: bytes, result: RunResult) -> bool:
    """Read one ForwardMsg into `result`; True once the script run has finished."""
    fwd = ForwardMsg()
    fwd.ParseFromString(raw)
    kind = fwd.WhichOneof("type")
    if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
        el = fwd.delta.new_element
        etype = el.WhichOneof("type")
        if etype in WIDGET_TYPES:
            proto = getattr(el, etype)
            result.widgets[proto.id] = (etype, proto)
        elif etype == "markdown":
            result.texts.append(el.markdown.body)
        elif etype == "exception":
            result.exceptions += 1
            result.messages.append(f"{el.exception.type}: {el.exception.message}")
    return kind == "script_finished"


class Session:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        self.ws_url = base_url.replace("http://", "ws://") + "/_stcore/stream"
        self.headers = headers or {}  # e.g. a balancer's sticky cookie
        self.conn = None
        self.states: dict[str, WidgetState] = {}

    async def connect(self) -> None:
        self.conn = await connect(
            self.ws_url, subprotocols=["streamlit"], max_size=None, additional_headers=self.headers
        )

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def run(self, page_name: str = "", query: str = "", timeout: float = 60) -> RunResult:
        """One rerun with the current widget states; waits for script_finished."""
        t0 = time.perf_counter()
        await self.conn.send(rerun_message(self.states.values(), page_name, query))
        result = RunResult(0.0, {})
        deadline = t0 + timeout
        while True:
            raw = await asyncio.wait_for(self.conn.recv(), max(0.1, deadline - time.perf_counter()))
            if absorb(raw, result):
                result.seconds = time.perf_counter() - t0
                return result

    def set_state(self, state: WidgetState) -> None:
        self.states[state.id] = state


class SyncSession(Session):
    """The same protocol over blocking sockets (websocket-client), for Locust's gevent users.

    benchmarks/lecture.py and tests/deploy use it; websocket-client keeps no
    background thread, so it is safe under gevent's monkey-patching.
    """

    def connect(self, timeout: float = 30) -> None:  # type: ignore[override]
        import websocket  # websocket-client (requirements-dev.txt)

        self.conn = websocket.create_connection(
            self.ws_url,
            subprotocols=["streamlit"],
            header=[f"{k}: {v}" for k, v in self.headers.items()],
            timeout=timeout,
            enable_multithread=False,
        )

    def close(self) -> None:  # type: ignore[override]
        if self.conn is not None:
            self.conn.close(timeout=1)

    def run(self, page_name: str = "", query: str = "", timeout: float = 60) -> RunResult:  # type: ignore[override]
        t0 = time.perf_counter()
        self.conn.send_binary(rerun_message(self.states.values(), page_name, query))
        result = RunResult(0.0, {})
        deadline = t0 + timeout
        while True:
            self.conn.settimeout(max(0.1, deadline - time.perf_counter()))
            raw = self.conn.recv()
            if not raw:
                raise ConnectionError("websocket closed by the server")
            if absorb(raw, result):
                result.seconds = time.perf_counter() - t0
                return result

    def response_header(self, name: str) -> str | None:
        """A header of the websocket handshake's response (e.g. the hall's X-Hall-Worker)."""
        return (self.conn.getheaders() or {}).get(name.lower())

    def cookie(self, name: str) -> str | None:
        """A cookie the server set in the websocket handshake (HAProxy's sticky cookie)."""
        # websocket-client joins repeated Set-Cookie headers with "; "
        for part in (self.response_header("Set-Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def random_state(wid: str, etype: str, proto, rng) -> WidgetState | None:
    """A random in-range value for one widget, as the browser would send it."""
    ws = WidgetState(id=wid)
    if etype == "slider" and proto.options:
        # A select_slider: the browser sends the chosen option's label.
        if len(proto.default) != 1:
            return None
        ws.string_array_value.data[:] = [str(rng.choice(list(proto.options)))]
    elif etype == "slider":
        if len(proto.default) != 1:
            return None
        lo, hi, step = proto.min, proto.max, proto.step or 1
        v = lo + step * rng.integers(0, int(round((hi - lo) / step)) + 1)
        ws.double_array_value.data[:] = [min(float(v), hi)]
    elif etype == "number_input":
        if not (proto.has_min and proto.has_max):
            return None
        if proto.data_type == proto.INT:
            ws.int_value = int(rng.integers(int(proto.min), int(proto.max) + 1))
        else:
            ws.double_value = float(rng.uniform(proto.min, proto.max))
    elif etype in ("checkbox", "toggle"):
        ws.bool_value = bool(rng.integers(0, 2))
    elif etype in ("selectbox", "radio"):
        if not proto.options:
            return None
        ws.string_value = str(rng.choice(list(proto.options)))
    else:
        return None
    return ws
