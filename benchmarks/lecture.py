"""A lecture as a Locust load test: students who speak Streamlit's websocket protocol (loopback only).

Run by benchmarks/bench_hall.py (`make bench-hall`); on its own:

    locust -f benchmarks/lecture.py --headless -u 40 -r 4 -t 60s --host http://127.0.0.1:8501

Each student opens one page of a lecture-like mix (most of the class on the
page the lecturer is showing), then repeatedly thinks 2-6 s, moves one slider
to a random in-range value and waits for the rerun to finish (script_finished):
that wait is the "change" request Locust times. The protocol is
benchmarks/wsclient.py's (BackMsg.rerun_script with the widget states;
ForwardMsgs until script_finished), over blocking sockets so Locust's gevent
users can run it.

A student keeps its view (the sliders it moved) as the URL would. When its
connection breaks (its worker died), the change in flight fails, and the
student does what the browser does: reconnects with the balancer's cookie and
reloads its URL; the "reconnect" request checks that the new worker drew
every slider at the student's values ("view lost" otherwise).

With LECTURE_OUT=path, every open, change and reconnect is also written there
as JSON lines (kind, time, seconds, ok, worker) when the test stops, for exact
percentiles and the fault run's timeline.

References:
    Locust docs, "Writing a locustfile" and "Testing other systems/protocols"
    (a custom User firing request events).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from locust import User, between, events, task

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from benchmarks.lecture_mix import COOKIE, LECTURE_MIX, sliders, url_value, widget_key  # noqa: E402
from benchmarks.wsclient import SyncSession  # noqa: E402

LOG: list[dict] = []  # every change of this process, for LECTURE_OUT


class Student(User):
    wait_time = between(2, 6)  # thinking, then one change

    def on_start(self) -> None:
        self.rng = random.Random()
        self.page = self.rng.choices(list(LECTURE_MIX), weights=list(LECTURE_MIX.values()))[0]
        self.view: dict[str, str] = {}  # URL parameters of the sliders this student moved
        self.cookie: str | None = None
        self.session: SyncSession | None = None
        self._open(name="open")

    def on_stop(self) -> None:
        if self.session is not None:
            self.session.close()

    # ----------------------------------------------------------------- helpers
    def _fire(self, name: str, t0: float, seconds: float, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=seconds * 1000,
            response_length=0,
            exception=exc,
            context={"worker": self.cookie},
            start_time=t0,
        )

    def _query(self) -> str:
        return "&".join(f"{k}={v}" for k, v in sorted(self.view.items()))

    def _open(self, name: str) -> None:
        """A tab loading its URL: new websocket (with the balancer's cookie if we have one), one run."""
        t0 = time.time()
        try:
            headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else None
            self.session = SyncSession(self.host, headers=headers)
            self.session.connect(timeout=30)
            self.cookie = self.session.cookie(COOKIE) or self.cookie
            result = self.session.run(self.page, self._query(), timeout=60)
            if not result.widgets:  # a fresh worker's first run reruns itself through the router
                result = self.session.run(self.page, self._query(), timeout=60)
            self.sliders = sliders(result)
            lost = [
                k
                for wid, p in self.sliders.items()
                if (k := widget_key(wid)) in self.view
                # a slider at its default carries no value in the message: compare the default then
                and url_value(p, (p.value or p.default)[0]) != self.view[k]
                # a scrubber whose range comes from the last Run (monte_carlo's k under K): a URL value
                # outside the range the URL's own settings give cannot come back, in a browser either
                and p.min <= float(self.view[k]) <= p.max
            ]
            if result.exceptions:
                raise RuntimeError(f"page raised: {result.messages[:1]}")
            if lost:
                drawn = {widget_key(w): (p.value or p.default)[0] for w, p in self.sliders.items()}
                raise RuntimeError(f"view lost: {lost} on {self.page}?{self._query()}, drawn {drawn}")
            if not self.sliders:
                raise RuntimeError(f"no slider on {self.page}")
        except Exception as exc:  # noqa: BLE001 - reported to Locust as a failure
            LOG.append(
                {
                    "kind": name,
                    "t": t0,
                    "s": time.time() - t0,
                    "ok": False,
                    "worker": self.cookie,
                    "error": f"{type(exc).__name__}: {exc}"[:600],
                }
            )
            self._fire(name, t0, time.time() - t0, exc)
            self._drop_session()
            return
        LOG.append({"kind": name, "t": t0, "s": result.seconds, "ok": True, "worker": self.cookie})
        self._fire(name, t0, result.seconds, None)

    def _drop_session(self) -> None:
        if self.session is not None and self.session.conn is not None:
            try:
                self.session.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        self.session = None

    # ----------------------------------------------------------------- the task
    @task
    def change_one_slider(self) -> None:
        if self.session is None or not getattr(self, "sliders", None):
            self._open(name="reconnect")
            return
        wid, p = self.rng.choice(list(self.sliders.items()))
        step = p.step or 1
        n_steps = int(round((p.max - p.min) / step))
        value = min(p.min + step * self.rng.randint(0, n_steps), p.max)
        self.session.set_state(WidgetState(id=wid, double_array_value={"data": [float(value)]}))
        t0 = time.time()
        try:
            result = self.session.run(self.page, self._query(), timeout=60)
            if result.exceptions:
                raise RuntimeError(f"page raised: {result.messages[:1]}")
        except Exception as exc:  # noqa: BLE001 - a failed change, then the tab reconnects
            seconds = time.time() - t0
            LOG.append(
                {
                    "kind": "change",
                    "t": t0,
                    "s": seconds,
                    "ok": False,
                    "worker": self.cookie,
                    "error": type(exc).__name__,
                }
            )
            self._fire("change", t0, seconds, exc)
            self._drop_session()
            self._open(name="reconnect")
            return
        self.view[widget_key(wid)] = url_value(p, value)
        # the server may move other sliders (a scrubber clamped under a new maximum): the browser's
        # URL follows, so the view does too
        for other, q in sliders(result).items():
            if other != wid and q.value and widget_key(other) in self.view:
                self.view[widget_key(other)] = url_value(q, q.value[0])
        LOG.append({"kind": "change", "t": t0, "s": result.seconds, "ok": True, "worker": self.cookie})
        self._fire("change", t0, result.seconds, None)


@events.test_stop.add_listener
def _write_log(environment, **_kwargs) -> None:
    out = os.environ.get("LECTURE_OUT")
    if out:
        with open(out, "w") as f:
            for row in LOG:
                f.write(json.dumps(row) + "\n")
