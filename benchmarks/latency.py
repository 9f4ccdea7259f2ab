"""Warm rerun time of every registered page in both languages (AppTest), against a floor page.

For each page: the first visit, then every widget moved across its range a few
times; p50 / p95 of the rerun after each change. The floor is a trivial page
measured in the same run, so the ratio says what the page itself costs.
AppTest reruns the whole script even where the browser would rerun only a
fragment, so these numbers are an upper bound for fragment controls.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import pct, table  # noqa: E402
from tests.apptest_utils import UNBINDABLE, apply, find, like_a_warm_server, open_page, page_widgets  # noqa: E402
from tests.pages.test_resilience import random_value  # noqa: E402
from ui.i18n import LANGS  # noqa: E402
from ui.registry import HOME, PAGES  # noqa: E402

CHANGES_PER_WIDGET = 4


def as_on_a_server() -> None:
    """Make AppTest's reruns do what a running server's reruns do, no more.

    AppTest starts every run afresh: a new script cache (so both scripts are
    parsed and compiled again) and the pages-folder flag reset (so Streamlit's
    legacy multipage pass runs before the router). A server compiles a script
    once and drops the legacy pass after its first run. Without this, every
    page would be charged ~20 ms that no visitor ever waits for.
    """
    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared
    like_a_warm_server()


P50_BUDGET, P95_BUDGET = 0.100, 0.250


def timed_run(at: AppTest) -> float:
    t0 = time.perf_counter()
    at.run()
    return time.perf_counter() - t0


def floor_times(n: int = 30) -> list[float]:
    at = AppTest.from_file(str(ROOT / "benchmarks" / "floor_page.py"), default_timeout=60).run()
    times = []
    for i in range(n):
        at.slider(key="k").set_value(1 + i % 10)
        times.append(timed_run(at))
    return times


def page_times(
    spec, lang: str, rng: random.Random, changes: int = CHANGES_PER_WIDGET
) -> tuple[float, list[float], int]:
    t0 = time.perf_counter()
    at = open_page(spec, lang)
    first = time.perf_counter() - t0
    times, errors = [], 0
    keys = [w.key for w in page_widgets(at) if w.key and not isinstance(w, UNBINDABLE)]
    for key in keys:
        for _ in range(changes):
            w = find(at, key)
            if w is None:
                break
            value = random_value(w, rng)
            if value is None:
                break
            apply(at, w, value)
            times.append(timed_run(at))
            errors += len(at.exception)
    return first, times, errors


def main(
    langs: tuple[str, ...] = LANGS, changes: int = CHANGES_PER_WIDGET, only: list[str] | None = None
) -> list[list]:
    as_on_a_server()
    floor = floor_times()
    floor_p50 = pct(floor, 50)
    rows = [["(floor page)", "-", "-", 1000 * floor_p50, 1000 * pct(floor, 95), 1.0, 0, "-"]]
    rng = random.Random(0)
    for spec in [HOME, *PAGES]:
        if only and spec.key not in only:
            continue
        for lang in langs:
            first, times, errors = page_times(spec, lang, rng, changes)
            p50, p95 = pct(times, 50), pct(times, 95)
            ok = "✓" if (not times or (p50 <= P50_BUDGET and p95 <= P95_BUDGET)) and errors == 0 else "✗"
            rows.append(
                [
                    spec.key,
                    lang,
                    1000 * first,
                    1000 * p50 if times else "-",  # a page without widgets has no reruns
                    1000 * p95 if times else "-",
                    p50 / floor_p50 if times else "-",
                    errors,
                    ok,
                ]
            )
    print("\n## Warm reruns (AppTest, ms)\n")
    print(table(["page", "lang", "first visit", "p50", "p95", "p50 / floor", "errors", "budget"], rows))
    return rows


if __name__ == "__main__":
    # `python -m benchmarks.latency [quick] [page ...]`: quick is English only,
    # two changes per widget; page keys limit the run to those pages.
    quick = sys.argv[1:2] == ["quick"]
    pages = sys.argv[2:] if quick else sys.argv[1:]
    main(("en",), 2, pages) if quick else main(only=pages)
