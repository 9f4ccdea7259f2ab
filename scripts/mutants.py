"""Mutation testing of core/ with mutmut, module by module, and the per-module table.

    make mutants                      # every module of core/ (hours on 2 cores)
    make mutants MODULE=core/grpo.py  # one module

mutmut (settings in setup.cfg) copies the project into `mutants/`, plants one
small bug at a time in a function of core/ (a flipped sign, `<` for `<=`, a
changed constant, a dropped argument) and runs the core tests that reach that
function. A mutant the tests fail on is *killed*; one they pass on *survived*:
either the tests miss a real bug of that shape, or the mutant computes the same
thing (*equivalent*: e.g. `x * 1.0` for `x`, or a changed default no caller
uses). Survivors judged equivalent are listed in `tests/mutants_equivalent.toml`
with a one-line reason each; every other survivor needs a test against an
independent reference (closed form, literal loop, autograd, published number).

The score counts timeouts and type-check rejections as killed (the mutant is
caught), and excludes equivalent mutants from the denominator.

References:
    mutmut 3 documentation, "mutmut run" and "mutmut results" (statuses).
    Jia & Harman (2011), "An Analysis and Survey of the Development of Mutation
    Testing", IEEE TSE 37(5): the equivalent-mutant problem.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).with_name("mutmut")
EQUIVALENT = ROOT / "tests" / "mutants_equivalent.toml"

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), grouped for the table.
CAUGHT = {1: "killed", 3: "killed", 36: "killed", -24: "killed", 24: "killed", 152: "killed", 37: "killed"}
SURVIVED = {0}
NO_TESTS = {5, 33}


def modules(arg: str | None) -> list[str]:
    """core/x.py (or x) -> ["x"]; nothing -> every module of core/ but the package file."""
    if arg:
        return [Path(arg).stem]
    return sorted(p.stem for p in (ROOT / "core").glob("*.py") if p.stem != "__init__")


def equivalent() -> dict[str, str]:
    """Mutant name -> why it computes the same thing as the original."""
    if not EQUIVALENT.exists():
        return {}
    with open(EQUIVALENT, "rb") as f:
        return {name: entry["reason"] for name, entry in tomllib.load(f).get("mutant", {}).items()}


def run(module: str) -> float:
    """mutmut over one module's mutants; returns the wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([str(MUTMUT), "run", f"core.{module}.*"], cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def tally(module: str, equivalents: dict[str, str]) -> tuple[Counter, list[str]]:
    """Status counts of one module's mutants from mutmut's result file, and the untriaged survivors."""
    meta = ROOT / "mutants" / "core" / f"{module}.py.meta"
    counts: Counter = Counter()
    survivors: list[str] = []
    if not meta.exists():
        return counts, survivors
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        counts["mutants"] += 1
        if code in SURVIVED and name in equivalents:
            counts["equivalent"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            survivors.append(name)
        elif code in CAUGHT:
            counts["killed"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1
        else:
            counts["not checked"] += 1
    return counts, survivors


def main(argv: list[str]) -> int:
    arg = argv[1] if len(argv) > 1 and argv[1] else None
    names = modules(arg)
    equivalents = equivalent()
    cols = [
        "module",
        "mutants",
        "killed",
        "survived",
        "equivalent",
        "no tests",
        "not checked",
        "score",
        "time s",
    ]
    rows = []
    untriaged: dict[str, list[str]] = {}
    for module in names:
        seconds = run(module)
        counts, survivors = tally(module, equivalents)
        live = counts["mutants"] - counts["equivalent"]
        score = f"{counts['killed'] / live:.0%}" if live else "-"
        rows.append([module, *(str(counts[c]) for c in cols[1:7]), score, f"{seconds:.0f}"])
        untriaged[module] = survivors
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    print(f"mutation testing, {time.strftime('%Y-%m-%d')}")
    print(" | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    for module, survivors in untriaged.items():
        if survivors:
            print(
                f"\n{module}: {len(survivors)} survivors not triaged (`.venv/bin/mutmut show NAME` shows one):"
            )
            print("\n".join(f"  {s}" for s in survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
