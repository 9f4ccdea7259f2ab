"""Every "Try this" preset of every registered page has its claim test (issue 22).

A page's presets are read from its try_this call; its claim tests live in tests/claims/test_<page>.py,
one function `test_<preset>` per preset. A page without the file, or a preset without its test, fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.claims.helpers import preset_names
from ui.registry import PAGES

HERE = Path(__file__).resolve().parent


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.key) for s in PAGES])
def test_every_preset_has_a_claim_test(spec):
    names = preset_names(spec.file)
    assert names, f"{spec.key}: no 'Try this' presets found in {spec.file}"
    path = HERE / f"test_{spec.key}.py"
    assert path.exists(), f"{spec.key}: no claim tests, expected {path.relative_to(HERE.parent.parent)}"
    missing = [f"test_{n}" for n in names if f"test_{n}" not in functions_in(path)]
    assert missing == [], f"{spec.key}: presets without a claim test in {path.name}: {missing}"


def test_preset_names_are_read_from_the_page(tmp_path, monkeypatch):
    """The parser finds presets passed as a literal and as a module-level name (so the check can fail)."""
    import tests.claims.helpers as helpers

    monkeypatch.setattr(helpers, "ROOT", tmp_path)
    (tmp_path / "a.py").write_text('page.try_this(P, {"one": {"x": 1}, "two": {"x": f(2)}})\n')
    (tmp_path / "b.py").write_text('PRESETS = {"three": {}}\npage.try_this(P, PRESETS, facts={})\n')
    (tmp_path / "c.py").write_text("x = 1\n")
    assert preset_names("a.py") == ["one", "two"]
    assert preset_names("b.py") == ["three"]
    assert preset_names("c.py") == []
