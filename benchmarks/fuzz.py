"""The long fuzz: 10,000 random in-range settings spread over every registered page (AppTest)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import table  # noqa: E402
from benchmarks.latency import as_on_a_server  # noqa: E402
from tests.apptest_utils import UNBINDABLE, apply, find, open_page, page_widgets  # noqa: E402
from tests.pages.test_resilience import random_value  # noqa: E402
from ui.registry import HOME, PAGES  # noqa: E402


def main(settings: int = 10_000) -> list[list]:
    as_on_a_server()
    rng = random.Random(0)
    specs = [HOME, *PAGES]
    per_page = max(1, settings // len(specs))
    rows = []
    for spec in specs:
        at = open_page(spec, rng.choice(["en", "zh"]))
        failures = 0
        for _ in range(per_page):
            widgets = [w for w in page_widgets(at) if w.key and not isinstance(w, UNBINDABLE)]
            for w in rng.sample(widgets, min(len(widgets), rng.randint(1, 3))):
                value = random_value(w, rng)
                if value is not None:
                    apply(at, find(at, w.key), value)
            at.run()
            failures += bool(at.exception) + bool(at.error)
        rows.append([spec.key, per_page, failures, "✓" if failures == 0 else "✗"])
    print("\n## Fuzz (random in-range settings)\n")
    print(table(["page", "settings", "failures", "ok"], rows))
    return rows


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
