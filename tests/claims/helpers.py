"""What a "Try this" claim test needs: a page's presets (read from its source), its defaults (read from the
page as AppTest renders it), and the setting a preset makes (issue 22).

A claim test applies `setting(page, preset)` and computes the claim with the core functions, called the
way the page calls them.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path
from typing import Any

from tests.apptest_utils import open_page, page_widgets
from ui.registry import ROOT, by_key


class Expr(str):
    """A preset value the page computes (e.g. `boundary - 3`): its source text, for the test to evaluate."""


def _literal(node: ast.expr, names: dict[str, Any] | None = None) -> Any:
    """A preset value: a literal, or an expression over `names` (the page's module-level literals and
    its imports from core, e.g. `{**COMMON, "T": 4}` or `BOOK_LAYOUT`); anything else as an `Expr`."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    try:
        code = compile(ast.Expression(node), "<preset>", "eval")
        return eval(code, {"__builtins__": {}}, dict(names or {}))  # names and literals only: no calls
    except Exception:
        return Expr(ast.unparse(node))


def _module_names(tree: ast.Module) -> dict[str, Any]:
    """The page's names a preset may use: what it imports from core (pure, cheap to import) and its
    module-level assignments that are literals over earlier such names (e.g. `COMMON = {...}`)."""
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "core":
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:  # `from core import x`: a submodule
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = value
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            if not any(isinstance(n, ast.Call) for n in ast.walk(node.value)):
                value = _literal(node.value, names)
                if not isinstance(value, Expr):
                    names[node.targets[0].id] = value
    return names


def _presets_node(tree: ast.Module) -> ast.Dict | None:
    """The dict passed to page.try_this(P, presets, ...): a literal, or a module-level name bound to one."""
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "try_this"
            and len(node.args) >= 2
        ):
            arg = node.args[1]
            if isinstance(arg, ast.Name):
                arg = assigned.get(arg.id)
            return arg if isinstance(arg, ast.Dict) else None
    return None


def preset_names(page_file: str | Path) -> list[str]:
    """The preset names of a page, in order, parsed from its try_this call ([] if it has none)."""
    tree = ast.parse(Path(ROOT / page_file).read_text(encoding="utf-8"))
    node = _presets_node(tree)
    return [] if node is None else [ast.literal_eval(k) for k in node.keys]


@functools.cache
def presets(page: str) -> dict[str, dict[str, Any]]:
    """{preset: {widget key: value}} as written in the page (computed values as `Expr`)."""
    tree = ast.parse((ROOT / by_key(page).file).read_text(encoding="utf-8"))
    node = _presets_node(tree)
    assert node is not None, f"{page}: no try_this presets found"
    names = _module_names(tree)
    found = {}
    for k, v in zip(node.keys, node.values, strict=True):
        whole = _literal(v, names)  # e.g. {**COMMON, "algo": "basic"}
        if isinstance(whole, dict):
            found[ast.literal_eval(k)] = whole
        else:  # some value is computed by the page at run time: that value as an Expr, the rest literal
            found[ast.literal_eval(k)] = {
                ast.literal_eval(kk): _literal(vv, names) for kk, vv in zip(v.keys, v.values, strict=True)
            }
    return found


@functools.cache
def defaults(page: str) -> dict[str, Any]:
    """Every keyed widget's value when the page opens with no query string (English)."""
    at = open_page(by_key(page))
    assert not at.exception, at.exception
    return {w.key: w.value for w in page_widgets(at) if w.key and not w.key.startswith(("try_", "csv_"))}


@functools.cache
def revealed(page: str, preset: str) -> dict[str, Any]:
    """Widgets the preset's button brings on screen that the opening page does not show (e.g. the power
    family's c and alpha, truncated policy iteration's sweeps), with the values they hold."""
    at = open_page(by_key(page))
    at.button(key=f"try_{page}_{preset}").click().run()
    assert not at.exception, at.exception
    shown = defaults(page)
    return {
        w.key: w.value
        for w in page_widgets(at)
        if w.key and w.key not in shown and not w.key.startswith(("try_", "csv_"))
    }


def setting(page: str, preset: str) -> dict[str, Any]:
    """The page's defaults with the preset's values on top: what the page computes after the button.
    Hidden widgets (a control the preset reveals but does not set) hold the default they show."""
    return {**defaults(page), **revealed(page, preset), **presets(page)[preset]}
