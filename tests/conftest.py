import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
settings.register_profile("dev", parent=BASE, deadline=None, print_blob=True, max_examples=500)
settings.register_profile("local", parent=BASE, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() == "true" else "local")
)
