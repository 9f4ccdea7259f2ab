import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_terminal_summary(terminalreporter):
    """Per-page axe-core counts from the browser tests (issue 20), also under xdist.

    Each browser visit records its counts in `user_properties`, which travel with
    the test report from an xdist worker to this process.
    """
    rows = {}  # (page, view) -> counts; a subtest's report repeats its test's properties
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call":
                continue
            for name, value in getattr(rep, "user_properties", ()):
                if name == "axe":
                    rows[value["page"], value["view"]] = value
    if not rows:
        return
    terminalreporter.section("axe-core (WCAG 2.1 A/AA): violating nodes per page")
    terminalreporter.write_line(f"{'page':<22}{'view':<9}{'critical':>9}{'serious':>9}{'moderate':>9}{'minor':>7}{'allowed':>9}  stale")
    for _, r in sorted(rows.items()):
        ours = r["ours"]
        terminalreporter.write_line(
            f"{r['page']:<22}{r['view']:<9}{ours.get('critical', 0):>9}{ours.get('serious', 0):>9}"
            f"{ours.get('moderate', 0):>9}{ours.get('minor', 0):>7}{r['allowed']:>9}  {', '.join(r['stale']) or '-'}"
        )

# Hypothesis profiles (issue 21). A loaded 2-core machine can take seconds for one example that takes
# milliseconds alone, so no profile has a per-example deadline; `max_examples` stays per test.
#   ci:  derandomised (the same examples on every run, so a red build is reproducible), no database;
#        chosen when CI=true.
#   dev: exploring: fresh random examples each run, remembered in the local example database, 5x the
#        examples; choose it with HYPOTHESIS_PROFILE=dev.
#   local (default otherwise): Hypothesis' random exploration, without the deadline.
# parent: Hypothesis' own defaults (under CI=true Hypothesis may have loaded its built-in CI profile already)
BASE = settings.get_profile("default")
settings.register_profile(
    "ci",
    parent=BASE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# mutants: the ci profile without shrinking, for mutation testing (scripts/mutants.py): a mutant that fails
#          a property test is killed at its first failing example; shrinking it would only spend the
#          mutant's CPU-time limit (mutmut then reports a timeout, still a kill, minutes later).
settings.register_profile(
    "mutants", parent=settings.get_profile("ci"), phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
settings.register_profile("dev", parent=BASE, deadline=None, print_blob=True, max_examples=500)
settings.register_profile("local", parent=BASE, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() == "true" else "local")
)
