"""The mutation-testing tool (scripts/mutants.py) and its list of equivalent mutants (issue 21).

The README's mutation table is the tool's `--report`; these check the bookkeeping behind it on a
hand-made verdict file, and that every listed equivalent names a real module and gives a reason.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import mutants  # noqa: E402

NAME = re.compile(r"^core\.(\w+)\.x(?:_\w+|ǁ\w+ǁ\w+)__mutmut_\d+$")


def test_every_equivalent_names_a_core_mutant_and_says_why():
    with open(ROOT / "tests" / "mutants_equivalent.toml", "rb") as f:
        entries = tomllib.load(f)["mutant"]
    modules = {p.stem for p in (ROOT / "core").glob("*.py")}
    assert entries, "the list is empty"
    for name, entry in entries.items():
        match = NAME.match(name)
        assert match, f"not a mutmut name: {name}"
        assert match.group(1) in modules, f"{name}: no module core/{match.group(1)}.py"
        assert set(entry) == {"reason"}, f"{name}: {sorted(entry)}"
        assert len(entry["reason"].split()) >= 4, f"{name}: the reason is too short to judge"


def test_function_globs_follow_mutmut_names():
    assert mutants.function_glob("mdp", "value_iteration") == "core.mdp.x_value_iteration__mutmut_*"
    assert mutants.function_glob("induction", "Model.forward") == "core.induction.xǁModelǁforward__mutmut_*"


@pytest.fixture
def verdicts(tmp_path, monkeypatch):
    """A module "toy" with one mutant of each verdict, in a project root of its own."""
    monkeypatch.setattr(mutants, "ROOT", tmp_path)
    (tmp_path / "mutants" / "core").mkdir(parents=True)
    codes = {
        "core.toy.x_f__mutmut_1": 1,  # a test failed: killed
        "core.toy.x_f__mutmut_2": 0,  # survived, listed as equivalent
        "core.toy.x_f__mutmut_3": 0,  # survived, not triaged
        "core.toy.x_f__mutmut_4": -24,  # CPU limit: a timeout, caught
        "core.toy.x_f__mutmut_5": 33,  # no test reaches it
        "core.toy.x_f__mutmut_6": None,  # not checked yet
        "core.toy.x_f__mutmut_7": 37,  # rejected by the type checker: caught
    }
    meta = tmp_path / "mutants" / "core" / "toy.py.meta"
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    return {"core.toy.x_f__mutmut_2": "same value"}


def test_tally_counts_each_verdict_once(verdicts):
    counts, survivors = mutants.tally("toy", verdicts)
    assert counts == {
        "mutants": 7,
        "killed": 3,  # 1, 4 and 7
        "equivalent": 1,
        "survived": 1,
        "no tests": 1,
        "not checked": 1,
    }
    assert survivors == ["core.toy.x_f__mutmut_3"]


def test_survivors_rerun_includes_the_untested_but_not_the_equivalent(verdicts):
    assert mutants.last_survivors("toy", verdicts) == ["core.toy.x_f__mutmut_3", "core.toy.x_f__mutmut_5"]
    assert mutants.unchecked("toy", timeouts=False) == ["core.toy.x_f__mutmut_6"]
    assert mutants.unchecked("toy", timeouts=True) == ["core.toy.x_f__mutmut_4", "core.toy.x_f__mutmut_6"]


def test_stale_test_files_are_dropped_from_mutmuts_copy(tmp_path, monkeypatch):
    # mutants/tests keeps a file the project removed; it must go, the others stay
    (tmp_path / "tests" / "core").mkdir(parents=True)
    (tmp_path / "tests" / "core" / "test_kept.py").write_text("")
    copy = tmp_path / "mutants" / "tests" / "core"
    copy.mkdir(parents=True)
    for name in ("test_kept.py", "test_removed.py"):
        (copy / name).write_text("")
    monkeypatch.setattr(mutants, "ROOT", tmp_path)
    assert mutants.drop_stale_tests() == [copy / "test_removed.py"]
    assert sorted(p.name for p in copy.iterdir()) == ["test_kept.py"]
