"""N concurrent sessions on one server, over Streamlit's websocket protocol (loopback only).

Each session opens a page and makes M slider changes, each time waiting for
script_finished; reports p50 / p95 latency, errors, server RSS, and checks that
every session sees its own values (no cross-session bleed): after each change
the slider element each session receives back carries that session's value.
Bounded: N sessions x M changes, with a per-run timeout.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from benchmarks.common import pct, table  # noqa: E402
from benchmarks.wsclient import Session, rss_mb  # noqa: E402
from tests.server import free_port, start_streamlit  # noqa: E402


async def one_session(base: str, page: str, changes: int, seed: int) -> tuple[list[float], int, int]:
    s = Session(base)
    await s.connect()
    times, errors, bleed = [], 0, 0
    try:
        first = await s.run(page)
        sliders = [(wid, p) for wid, (e, p) in first.widgets.items() if e == "slider" and len(p.default) == 1]
        if not sliders:
            return times, errors, bleed
        rng = np.random.default_rng(seed)
        for _ in range(changes):
            wid, p = sliders[rng.integers(len(sliders))]
            n_steps = int(round((p.max - p.min) / (p.step or 1)))
            value = min(p.min + (p.step or 1) * int(rng.integers(0, n_steps + 1)), p.max)
            s.set_state(WidgetState(id=wid, double_array_value={"data": [float(value)]}))
            r = await s.run(page)
            times.append(r.seconds)
            errors += r.exceptions
            echoed = r.widgets.get(wid)
            if echoed is not None and echoed[1].value and abs(echoed[1].value[0] - value) > 1e-9:
                bleed += 1
    except Exception:  # noqa: BLE001 - a failed session is counted, not fatal
        errors += 1
    finally:
        await s.close()
    return times, errors, bleed


async def run_load(base: str, page: str, sessions: int, changes: int):
    return await asyncio.wait_for(
        asyncio.gather(*(one_session(base, page, changes, seed) for seed in range(sessions))), timeout=600
    )


def main(page: str = "perceptron", sessions: int = 20, changes: int = 10) -> list[list]:
    port = free_port()
    proc = start_streamlit(port)
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(run_load(base, page, 1, 1))  # warm the caches once
        results = asyncio.run(run_load(base, page, sessions, changes))
        times = [t for ts, _, _ in results for t in ts]
        errors = sum(e for _, e, _ in results)
        bleed = sum(b for _, _, b in results)
        rows = [
            [
                page,
                sessions,
                changes,
                1000 * pct(times, 50),
                1000 * pct(times, 95),
                errors,
                bleed,
                rss_mb(proc.pid),
            ]
        ]
        print(f"\n## Load: {sessions} concurrent sessions x {changes} slider changes (websocket, ms)\n")
        print(
            table(
                ["page", "sessions", "changes each", "p50", "p95", "errors", "bleed", "server RSS MB"], rows
            )
        )
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(*(args[:1] or ["perceptron"]), *(int(a) for a in args[1:3]))
