"""Mutation testing of core/ with mutmut, module by module, and the per-module table.

    make mutants                      # every module of core/ (hours on 2 cores)
    make mutants MODULE=core/grpo.py  # one module
    make mutants MODULE=core/grpo.py ARGS=--survivors      # re-run only its last survivors
    make mutants MODULE=core/mdp.py ARGS="--functions bellman_backup,value_iteration"

mutmut runs with one worker (`--max-children 1`; the machine is shared) and with
Hypothesis' "mutants" profile (tests/conftest.py): derandomised, so a verdict does
not depend on a random draw, and without shrinking, so a property test that a
mutant fails stops at the first failing example instead of shrinking it until the
mutant's CPU-time limit (a timeout, minutes later). `--survivors` re-checks only the mutants that
survived the last run of the module, and those it found no test for (after new tests: a test
added can only kill more, so the killed ones stand); the table then shows the full run's time
and the re-checks' (summed). `--resume` checks only the mutants without a verdict (a run stopped
half-way; the time adds up). `--functions f,Class.method` restricts a module to some functions
(mutmut's names `core.<module>.x_<function>__mutmut_N`, `core.<module>.xǁClassǁmethod__mutmut_N`);
the others count as "not checked", and the time adds to the module's. mutmut's own output goes
to mutants/mutmut.log.

Limits of mutmut 3 worth knowing: it does not mutate decorated functions (`@property`,
`@torch.no_grad()`, `@functools.cache`), so those have no score; code run at import time (a
module-level table built by calling functions) is reached by no test, so its mutants show as
"no tests" unless a test calls the builders; a test whose body changed keeps the functions it
was linked to in mutants/mutmut-stats.json (renaming the test re-links it), and a function
that lost its decorator is linked to no test at all (every mutant "no tests"): `--fresh-stats`
makes mutmut collect the links again. Test files removed from tests/ are removed from mutmut's
copy before each run (mutmut never deletes there, and a stale file fails its stats step).

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
caught), and excludes equivalent and not-checked mutants from the denominator
(so a run restricted with `--functions` scores the functions it checked).

References:
    mutmut 3 documentation, "mutmut run" and "mutmut results" (statuses).
    Jia & Harman (2011), "An Analysis and Survey of the Development of Mutation
    Testing", IEEE TSE 37(5): the equivalent-mutant problem.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).with_name("mutmut")
EQUIVALENT = ROOT / "tests" / "mutants_equivalent.toml"

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped for the table:
# caught = a failing test (1, 3), a timeout (36, +-24, 152, 255) or the type checker (37).
CAUGHT = {1, 3, 36, -24, 24, 152, 255, 37}
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


TIMES = ROOT / "mutants" / "times.json"
LOG = ROOT / "mutants" / "mutmut.log"


def core_imports(path: Path) -> set[str]:
    """The core modules a file imports (`from core import x`, `from core.x import ...`, `import core.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "core":
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("core.")}
    return found


def test_files_reaching(module: str) -> list[Path]:
    """tests/core files that import the module, directly or through another core module."""
    users, grew = {module}, True
    while grew:  # core modules that import a user are users too
        more = {p.stem for p in (ROOT / "core").glob("*.py") if core_imports(p) & users} - users
        users |= more
        grew = bool(more)
    return [p for p in sorted((ROOT / "tests" / "core").glob("test_*.py")) if core_imports(p) & users]


def function_glob(module: str, function: str) -> str:
    """mutmut's names for one function's mutants: `f` -> x_f, `Class.method` -> xǁClassǁmethod."""
    if "." in function:
        cls, method = function.split(".", 1)
        return f"core.{module}.x\u01c1{cls}\u01c1{method}__mutmut_*"
    return f"core.{module}.x_{function}__mutmut_*"


def run(names: list[str], max_children: int, module: str) -> float:
    """mutmut over the named mutants (globs allowed); returns the wall time in seconds.

    Only the core test files that can reach the module are collected (PYTEST_ADDOPTS
    --ignore for the others): mutmut runs a mutant against the tests that call its
    function anyway, and its first step times the whole selection, which for all of
    tests/core (the training tests of grpo, diffusion, ...) takes many minutes.
    """
    reaching = set(test_files_reaching(module))
    ignore = [
        f"--ignore={p.relative_to(ROOT)}"
        for p in sorted((ROOT / "tests" / "core").glob("test_*.py"))
        if reaching and p not in reaching
    ]
    # one BLAS / OpenMP thread: mutmut forks a child per mutant, and a torch thread pool that
    # existed before the fork deadlocks in the child (the mutant then "times out" whatever it does)
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env = {
        **os.environ,
        **threads,
        "CI": "true",
        "HYPOTHESIS_PROFILE": "mutants",
        "PYTEST_ADDOPTS": " ".join(ignore),
    }
    drop_stale_tests()
    start = time.perf_counter()
    LOG.parent.mkdir(exist_ok=True)
    with open(LOG, "a") as log:  # mutmut's progress and errors (e.g. a run that matched no mutant)
        subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(max_children), *names],
            cwd=ROOT,
            check=False,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return time.perf_counter() - start


def drop_stale_tests() -> list[Path]:
    """Delete test files from mutmut's copy (mutants/tests) that the project no longer has.

    mutmut copies tests/ into mutants/ but never deletes there: a test file renamed or
    removed since an earlier run stays in the copy, is collected, and (importing names
    core no longer has) fails mutmut's first step ("failed to collect stats").
    """
    copy = ROOT / "mutants" / "tests"
    stale = [p for p in copy.rglob("*.py") if not (ROOT / "tests" / p.relative_to(copy)).exists()]
    for p in stale:
        p.unlink()
    return stale


TIMEOUTS = {36, -24, 24, 152, 255}


def unchecked(module: str, timeouts: bool) -> list[str]:
    """The module's mutants without a verdict yet (a run stopped half-way), and its timeouts if asked."""
    meta = ROOT / "mutants" / "core" / f"{module}.py.meta"
    if not meta.exists():
        return []
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return [k for k, code in codes.items() if code is None or (timeouts and code in TIMEOUTS)]


def last_survivors(module: str, equivalents: dict[str, str]) -> list[str]:
    """The module's mutants whose last verdict was "survived" or "no tests" (a test added since may
    reach them), but for those listed as equivalent."""
    meta = ROOT / "mutants" / "core" / f"{module}.py.meta"
    if not meta.exists():
        return []
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return [k for k, code in codes.items() if code in SURVIVED | NO_TESTS and k not in equivalents]


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", nargs="?", default=None, help="core/x.py or x; nothing: every module")
    parser.add_argument("--survivors", action="store_true", help="re-run only the last run's survivors")
    parser.add_argument("--report", action="store_true", help="run nothing: the table of the last results")
    parser.add_argument("--resume", action="store_true", help="check only the mutants without a verdict yet")
    parser.add_argument("--timeouts", action="store_true", help="with --resume: re-check timeouts too")
    parser.add_argument("--functions", default="", help="comma-separated functions of the module to mutate")
    parser.add_argument("--max-children", type=int, default=1, help="mutmut workers (default 1)")
    parser.add_argument(
        "--fresh-stats", action="store_true", help="forget which tests reach which function (re-collect)"
    )
    args = parser.parse_args(argv[1:])
    if args.fresh_stats:  # mutmut then times and maps every selected test again before mutating
        (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    names = modules(args.module or None)
    equivalents = equivalent()
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
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
        "rerun s",
    ]
    rows = []
    untriaged: dict[str, list[str]] = {}
    for module in names:
        if args.report:
            todo = []
        elif args.survivors:
            todo = last_survivors(module, equivalents)
        elif args.resume:
            todo = unchecked(module, args.timeouts)
        elif args.functions:
            todo = [function_glob(module, f.strip()) for f in args.functions.split(",") if f.strip()]
        else:
            todo = [f"core.{module}.*"]
        seconds = run(todo, args.max_children, module) if todo else 0.0
        entry = times.get(module, {}) if args.report else times.setdefault(module, {})
        if args.report:
            pass
        elif args.survivors:  # every re-check since the full run
            entry["rerun"] = entry.get("rerun", 0) + round(seconds)
        elif args.resume or args.functions:  # the full run's time is the sum of its parts
            entry["full"] = entry.get("full", 0) + round(seconds)
        else:
            entry["full"] = round(seconds)
            entry.pop("rerun", None)
        if not args.report:  # a report only reads (it may run beside a real run)
            TIMES.parent.mkdir(exist_ok=True)
            TIMES.write_text(json.dumps(times, indent=1))
        counts, survivors = tally(module, equivalents)
        live = counts["mutants"] - counts["equivalent"] - counts["not checked"]
        score = f"{counts['killed'] / live:.0%}" if live else "-"
        full, rerun = entry.get("full"), entry.get("rerun")
        rows.append(
            [
                module,
                *(str(counts[c]) for c in cols[1:7]),
                score,
                "-" if full is None else str(full),
                "-" if rerun is None else str(rerun),
            ]
        )
        untriaged[module] = survivors
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    print(f"mutation testing, {time.strftime('%Y-%m-%d')}, {args.max_children} worker(s)")
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
