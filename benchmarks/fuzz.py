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
from tests.apptest_utils import UNBINDABLE, apply, find, open_page, page_widgets, submit_forms  # noqa: E402
from tests.pages.test_resilience import SUBMIT_P, random_value  # noqa: E402
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
        failures, messages, t0 = 0, [], time.perf_counter()
        for i in range(per_page):
            widgets = [w for w in page_widgets(at) if w.key and not isinstance(w, UNBINDABLE)]
            changed = {}
            for w in rng.sample(widgets, min(len(widgets), rng.randint(1, 3))):
                value = random_value(w, rng)
                if value is not None:
                    apply(at, find(at, w.key), value)
                    changed[w.key] = value
            if rng.random() < SUBMIT_P and submit_forms(at):
                changed["(submitted)"] = True
            at.run()
            if at.exception or at.error:
                failures += 1
                shown = [e.value for e in at.exception] + [e.value for e in at.error]
                messages.append(f"{spec.key} #{i} after {changed}: {str(shown)[:300]}")
        rows.append([spec.key, per_page, failures, f"{time.perf_counter() - t0:.0f}", "✓" if failures == 0 else "✗"])
        print(f"{spec.key}: {per_page} settings, {failures} failures", flush=True)
        for m in messages[:5]:
            print("  ", m, flush=True)
    print("\n## Fuzz (random in-range settings)\n")
    print(table(["page", "settings", "failures", "seconds", "ok"], rows))
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, sys.argv[2:] or None)
