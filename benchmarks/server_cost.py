"""What one widget change costs the server, per page: CPU seconds and bytes sent, against script time.

    python -m benchmarks.server_cost [sessions] [changes] [page ...]

For each page, `sessions` websocket clients (default 4) open the page at once and
then make `changes` random changes each (default 10) to widgets outside forms,
each waiting for its rerun to finish, as students moving sliders. Each client
behaves like the browser: a widget inside an `st.fragment` reruns only that
fragment, and the hashes of large messages it already holds go with every rerun,
so the server sends a reference instead of the element again.

Measured on the server process (from /proc, all threads):
- CPU ms per change: process CPU time over the load run / number of changes;
- of which the event loop (the main thread: serialising messages, websocket I/O)
  and the script threads (the page script, its caches, building protobufs);
- bytes and messages the client received per rerun.
The script time it is compared with is the page's warm rerun in AppTest
(`benchmarks.latency`, English, process CPU time so the host's load does not
inflate it; its wall time beside). DESIGN.md's budget: CPU per change <= 2x that.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from benchmarks.common import machine, pct, table  # noqa: E402
from benchmarks.wsclient import WIDGET_TYPES, Session, random_state  # noqa: E402
from tests.server import free_port, start_streamlit  # noqa: E402
from ui.registry import PAGES, by_key  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
BUDGET_RATIO = 2.0


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads, live and finished) or of one thread."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class BrowserLikeSession(Session):
    """A websocket session that reruns fragments alone and announces the messages it has cached."""

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self.cached: set[str] = set()
        self.widgets: dict[str, tuple[str, object, str]] = {}  # id -> (type, proto, fragment id)

    async def rerun(self, page: str, fragment_id: str = "", timeout: float = 120) -> tuple[float, int, int]:
        """One rerun; returns (seconds, bytes received, messages received)."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.page_name = page
        cs.fragment_id = fragment_id
        cs.widget_states.widgets.extend(self.states.values())
        cs.cached_message_hashes.extend(sorted(self.cached))
        if not fragment_id:  # a full run redraws every widget; fragment ids may change (layout)
            self.widgets.clear()
        t0 = time.perf_counter()
        await self.conn.send(msg.SerializeToString())
        received = count = 0
        deadline = t0 + timeout
        while True:
            raw = await asyncio.wait_for(self.conn.recv(), max(0.1, deadline - time.perf_counter()))
            received += len(raw)
            count += 1
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if fwd.metadata.cacheable and fwd.hash:
                self.cached.add(fwd.hash)
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                etype = el.WhichOneof("type")
                if etype in WIDGET_TYPES:
                    proto = getattr(el, etype)
                    self.widgets[proto.id] = (etype, proto, fwd.delta.fragment_id)
                elif etype == "exception":
                    raise RuntimeError(f"{page}: {el.exception.type}: {el.exception.message}")
            elif kind == "script_finished" and fwd.script_finished != fwd.FINISHED_EARLY_FOR_RERUN:
                return time.perf_counter() - t0, received, count

    async def change(self, page: str, rng: np.random.Generator) -> tuple[float, int, int] | None:
        """Set one random widget outside a form to a random value and rerun (its fragment, if any)."""
        free = [(w, v) for w, v in self.widgets.items() if not getattr(v[1], "form_id", "")]
        for _ in range(20):
            wid, (etype, proto, fragment) = free[rng.integers(len(free))]
            state = random_state(wid, etype, proto, rng)
            if state is not None:
                self.set_state(state)
                return await self.rerun(page, fragment)
        return None


async def student(base: str, page: str, warmup: int, rng: np.random.Generator) -> BrowserLikeSession:
    s = BrowserLikeSession(base)
    await s.connect()
    await s.rerun(page)
    for _ in range(warmup):
        await s.change(page, rng)
    return s


async def load_run(base: str, pid: int, page: str, sessions: int, changes: int) -> dict:
    rngs = [np.random.default_rng(i) for i in range(sessions)]
    failures: list[str] = []
    students = await asyncio.gather(*(student(base, page, 3, rng) for rng in rngs))
    cpu0, main0, t0 = cpu_seconds(pid), cpu_seconds(pid, pid), time.perf_counter()

    async def changes_of(s: BrowserLikeSession, rng) -> list:
        out = []
        for _ in range(changes):
            try:
                r = await s.change(page, rng)
            except (TimeoutError, RuntimeError) as e:  # counted, not fatal
                failures.append(f"{page}: {type(e).__name__} {e}")
                continue
            if r is not None:
                out.append(r)
        return out

    runs = [
        r
        for rs in await asyncio.gather(*(changes_of(s, g) for s, g in zip(students, rngs, strict=True)))
        for r in rs
    ]
    cpu1, main1, t1 = cpu_seconds(pid), cpu_seconds(pid, pid), time.perf_counter()
    for s in students:
        await s.close()
    n = max(1, len(runs))
    return {
        "changes": len(runs),
        "cpu_ms": 1000 * (cpu1 - cpu0) / n,
        "loop_ms": 1000 * (main1 - main0) / n,
        "bytes": sum(b for _, b, _ in runs) / n,
        "messages": sum(m for _, _, m in runs) / n,
        "p50_ms": 1000 * pct([s for s, _, _ in runs], 50),
        "wall_s": t1 - t0,
        "failures": failures,
    }


def wait_for_health(port: int, seconds: float = 600) -> None:
    """tests.server waits 60 s at most; a loaded host can take longer to start the server."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not come up within {seconds:.0f} s")


def script_times(keys: list[str], changes: int = 2) -> dict[str, tuple[float, float]]:
    """Warm rerun of each page in AppTest: (process CPU ms, mean over the changes; wall ms p50).

    The mean, like the server's CPU per change: a change that misses a cache costs
    its full computation on both sides."""
    from benchmarks import latency

    latency.as_on_a_server()
    out = {}
    rng = random.Random(0)
    wall_timed = latency.timed_run
    cpu: list[float] = []

    def cpu_timed(at) -> float:
        c0 = time.process_time()
        wall = wall_timed(at)
        cpu.append(time.process_time() - c0)
        return wall

    latency.timed_run = cpu_timed
    try:
        for key in keys:
            cpu.clear()
            _, walls, _ = latency.page_times(by_key(key), "en", rng, changes)
            out[key] = (1000 * float(np.mean(cpu)) if cpu else float("nan"), 1000 * pct(walls, 50))
    finally:
        latency.timed_run = wall_timed
    return out


def main(
    sessions: int = 4, changes: int = 10, only: list[str] | None = None, extra: tuple[str, ...] = ()
) -> list[list]:
    keys = [p.key for p in PAGES if not only or p.key in only]
    print(machine(), "; server flags:", " ".join(extra) or "none")
    scripts = script_times(keys)
    port = free_port()
    proc = start_streamlit(port, *extra, wait=False)
    wait_for_health(port)
    rows: list[list] = []
    failed: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        for key in keys:
            r = asyncio.run(load_run(base, proc.pid, by_key(key).url_path, sessions, changes))
            print(f"{key}: {r['cpu_ms']:.0f} ms CPU a change, {len(r['failures'])} failed", flush=True)
            failed += r["failures"]
            script_cpu, script_wall = scripts[key]
            ratio = r["cpu_ms"] / script_cpu if script_cpu else float("nan")
            rows.append(
                [
                    key,
                    script_cpu,
                    script_wall,
                    r["cpu_ms"],
                    r["cpu_ms"] - r["loop_ms"],
                    r["loop_ms"],
                    ratio,
                    r["bytes"] / 1000,
                    r["messages"],
                    r["p50_ms"],
                    "✓" if ratio <= BUDGET_RATIO else "✗",
                ]
            )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"\n## Server cost per widget change ({sessions} sessions x {changes} changes a page; ms, kB)\n")
    print(
        table(
            [
                "page",
                "script CPU mean (AppTest)",
                "script wall p50",
                "server CPU / change",
                "script threads",
                "event loop",
                "CPU / script",
                "kB sent / rerun",
                "messages",
                "change p50",
                "budget 2x",
            ],
            rows,
        )
    )
    for f in failed:
        print(f"- failed: {f}")
    return rows


if __name__ == "__main__":
    # `--streamlit-gc`: the server as Streamlit ships it (a full gc.collect after every run), for
    # the before/after comparison in the README.
    args = [a for a in sys.argv[1:] if a != "--streamlit-gc"]
    flags = ("--runner.postScriptGC", "true") if "--streamlit-gc" in sys.argv else ()
    nums = [int(a) for a in args if a.isdigit()]
    main(*nums[:2], only=[a for a in args if not a.isdigit()] or None, extra=flags)
