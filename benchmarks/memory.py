"""Server memory: after start, after every page in both languages, after 1,000 random reruns.

Drives a real `streamlit run` over its websocket protocol (loopback only). The
DESIGN.md budget is 600 MB RSS (Community Cloud's smallest tier is 690 MB);
growth over the last reruns should be flat (caches are bounded by max_entries,
heavy results by ui.store's byte budget). At the end it lists the largest
st.cache_data caches as the server reports them (`/_stcore/metrics`).
"""

from __future__ import annotations

import asyncio
import re
import sys
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import table  # noqa: E402
from benchmarks.wsclient import Session, random_state, rss_mb  # noqa: E402
from tests.server import free_port, start_streamlit  # noqa: E402
from ui.i18n import LANG_NAMES, LANGS  # noqa: E402
from ui.registry import PAGES  # noqa: E402

BUDGET_MB = 600


async def visit_all(base: str) -> None:
    for lang in LANGS:
        s = Session(base)
        await s.connect()
        for spec in PAGES:
            await s.run(spec.url_path, f"lang={LANG_NAMES[lang]}", timeout=300)
        await s.close()


async def random_reruns(base: str, n: int, rng, samples: list, pid: int, log: list[str]) -> int:
    errors = 0
    sessions = {}
    for i in range(n):
        spec = PAGES[i % len(PAGES)]
        if spec.key not in sessions:
            sessions[spec.key] = Session(base)
            await sessions[spec.key].connect()
            sessions[spec.key].last = await sessions[spec.key].run(spec.url_path, timeout=300)
        s = sessions[spec.key]
        widgets = list(s.last.widgets.items())
        if widgets:
            wid, (etype, proto) = widgets[rng.integers(len(widgets))]
            state = random_state(wid, etype, proto, rng)
            if state is not None:
                s.set_state(state)
        try:
            s.last = await s.run(spec.url_path, timeout=300)
            errors += s.last.exceptions
            log += [f"{spec.key}: {m}" for m in s.last.messages]
        except Exception as e:  # noqa: BLE001
            errors += 1
            log.append(f"{spec.key}: no answer ({type(e).__name__})")
        if (i + 1) % max(1, n // 10) == 0:
            samples.append((i + 1, rss_mb(pid)))
    for s in sessions.values():
        await s.close()
    return errors


def print_caches(base: str, top: int = 8) -> None:
    """The server's own account of its caches (bytes per cached function), largest first."""
    try:
        with urllib.request.urlopen(f"{base}/_stcore/metrics", timeout=30) as r:
            text = r.read().decode()
    except OSError as e:
        print(f"(no cache metrics: {e})")
        return
    sizes = []
    for line in text.splitlines():
        m = re.match(r'cache_memory_bytes\{cache_type="([^"]*)",cache="([^"]*)"\} (\d+)', line)
        if m:
            sizes.append((int(m.group(3)), m.group(1), m.group(2).rsplit(":", 1)[0]))
    total = sum(b for b, _, _ in sizes)
    print(f"\ncaches the server reports: {total / 2**20:.1f} MB in {len(sizes)} caches; largest:")
    for b, kind, name in sorted(sizes, reverse=True)[:top]:
        print(f"- {b / 2**20:.2f} MB {kind} {name}")


def main(reruns: int = 1000) -> list[list]:
    port = free_port()
    proc = start_streamlit(port)
    try:
        base = f"http://127.0.0.1:{port}"
        rows = [["after start", rss_mb(proc.pid), "-"]]
        asyncio.run(visit_all(base))
        rows.append(["every page, en + zh", rss_mb(proc.pid), "-"])
        samples: list = []
        log: list[str] = []
        errors = asyncio.run(random_reruns(base, reruns, np.random.default_rng(0), samples, proc.pid, log))
        for i, mb in samples:
            rows.append([f"after {i} random reruns", mb, errors if i == reruns else "-"])
        peak = max(r[1] for r in rows)
        growth = samples[-1][1] - samples[len(samples) // 2][1] if len(samples) > 1 else 0.0
        print(f"\n## Server memory (RSS MB; budget {BUDGET_MB})\n")
        print(table(["moment", "RSS MB", "errors"], rows))
        print(
            f"\npeak {peak:.0f} MB {'✓' if peak <= BUDGET_MB else '✗'}; growth over the last half of the reruns: {growth:+.0f} MB"
        )
        for line in log:
            print(f"- {line}")
        print_caches(base)
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
