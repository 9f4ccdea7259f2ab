"""The long fuzz: 10,000 random in-range settings spread over every registered page (AppTest).

    python -m benchmarks.fuzz 10000                  every page, one after another
    python -m benchmarks.fuzz 10000 diffusion grpo   only these pages (same settings as in the full run)

Each page draws from its own seeded stream, so a page's settings do not depend on
which other pages run: the full run can be split over several processes.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import table  # noqa: E402
from benchmarks.latency import as_on_a_server  # noqa: E402
from tests.apptest_utils import open_page  # noqa: E402
from tests.pages.test_resilience import random_setting  # noqa: E402
from ui.registry import HOME, PAGES  # noqa: E402


def main(settings: int = 10_000, pages: list[str] | None = None) -> list[list]:
    as_on_a_server()
    specs = [HOME, *PAGES]
    per_page = max(1, settings // len(specs))
    rows = []
    for spec in specs:
        if pages and spec.key not in pages:
            continue
        rng = random.Random(f"fuzz-{spec.key}")
        at = open_page(spec, rng.choice(["en", "zh"]))
        failures, messages, ran, t0 = 0, [], 0, time.perf_counter()
        for i in range(per_page):
            changed = random_setting(at, rng)
            if changed is None:  # a page without widgets (home): its first run is the whole test
                break
            at.run()
            ran += 1
            if at.exception or at.error:
                failures += 1
                shown = [e.value for e in at.exception] + [e.value for e in at.error]
                messages.append(f"{spec.key} #{i} after {changed}: {str(shown)[:300]}")
        rows.append([spec.key, ran, failures, f"{time.perf_counter() - t0:.0f}", "✓" if failures == 0 else "✗"])
        print(f"{spec.key}: {ran} settings, {failures} failures", flush=True)
        for m in messages[:5]:
            print("  ", m, flush=True)
    print("\n## Fuzz (random in-range settings)\n")
    print(table(["page", "settings", "failures", "seconds", "ok"], rows))
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, sys.argv[2:] or None)
