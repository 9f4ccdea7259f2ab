"""axe-core (the accessibility engine) run inside a page that Playwright has open.

axe.min.js comes from the PyPI package `axe-playwright-python` (pinned in
requirements-dev.txt; the file is read from the installed package, nothing is
downloaded at run time). Rules: WCAG 2.0 and 2.1, levels A and AA, plus one of ours that axe cannot see:
every chart has a description (CHART_RULE).

A violation is *ours* unless it lies inside markup Streamlit itself renders and
an entry of `axe_allowlist.toml` names it (rule + CSS selector of the Streamlit
element the offending node sits in + reason + upstream issue). An entry that
applies to a page and no longer occurs there is reported as stale, so the list
can only shrink with Streamlit's fixes, never hide a new problem of ours.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")  # impacts that fail the test
ALLOWLIST_FILE = Path(__file__).with_name("axe_allowlist.toml")
VIEWPORT = {"width": 1280, "height": 900}

# Runs in the page: axe over the whole document (iframes too: none of our pages
# embeds one, and axe would wait for frames it was not injected into), then
# each offending node is tested against the allow-list's selectors with
# Element.closest, so an entry covers a node inside the named Streamlit element.
_RUN = """async ([tags, allow]) => {
  const r = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'], iframes: false,
  });
  return r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => {
      const sel = n.target[n.target.length - 1];
      let el = null;
      try { el = typeof sel === 'string' ? document.querySelector(sel) : null; } catch (e) {}
      return {
        target: n.target.map(String).join(' >>> '),
        impact: n.impact || v.impact,
        html: n.html.slice(0, 160),
        summary: (n.failureSummary || '').slice(0, 240),
        allowed: allow.filter(a => a.rule === v.id && el && el.closest(a.selector)).map(a => a.name),
      };
    }),
  }));
}"""


# axe does not look inside a chart (a canvas / SVG drawn by Vega). Our own rule: every
# chart has a text alternative (charts.show(description=...) -> Streamlit's `alt`, which the
# frontend applies as the chart's description), written into the chart container's aria-label (role graphics-document); without one it says "Vega visualization".
CHART_RULE = "chart-description"
_CHARTS = """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')].map((el, i, all) => {
  const label = (el.getAttribute('aria-label') || '').trim();
  return {ok: label !== '' && label !== 'Vega visualization', label: label.slice(0, 200),
          target: `[data-testid=stVegaLiteChart] (${i + 1} of ${all.length})`};
})"""


@dataclass(frozen=True)
class Allowed:
    name: str
    rule: str
    selector: str
    reason: str
    upstream: str = ""
    pages: tuple[str, ...] = ()  # empty: every page
    views: tuple[str, ...] = ()  # empty: every view

    def applies(self, page: str, view: str) -> bool:
        return (not self.pages or page in self.pages) and (not self.views or view in self.views)


def allowlist() -> list[Allowed]:
    entries = tomllib.loads(ALLOWLIST_FILE.read_text(encoding="utf-8")).get("allow", [])
    out = []
    for e in entries:
        for needed in ("name", "rule", "selector", "reason"):
            assert e.get(needed), f"{ALLOWLIST_FILE.name}: entry {e} lacks {needed!r}"
        out.append(
            Allowed(
                e["name"], e["rule"], e["selector"], e["reason"], e.get("upstream", ""),
                tuple(e.get("pages", ())), tuple(e.get("views", ())),
            )
        )
    names = [a.name for a in out]
    assert len(names) == len(set(names)), f"{ALLOWLIST_FILE.name}: duplicate names"
    return out


def _axe_script() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@dataclass
class AxeReport:
    page: str
    view: str
    ours: list[dict] = field(default_factory=list)  # (rule, node) pairs not allowed, every impact
    allowed: dict[str, int] = field(default_factory=dict)  # allow-list entry -> nodes it covered
    stale: list[str] = field(default_factory=list)  # entries that apply here but matched nothing

    @property
    def blocking(self) -> list[dict]:
        return [n for n in self.ours if n["impact"] in BLOCKING]

    def counts(self) -> dict:
        """Violating nodes: ours by impact, and those the allow-list covers."""
        by_impact: dict[str, int] = {}
        for n in self.ours:
            by_impact[n["impact"]] = by_impact.get(n["impact"], 0) + 1
        return {
            "page": self.page,
            "view": self.view,
            "ours": by_impact,
            "allowed": sum(self.allowed.values()),
            "stale": list(self.stale),
        }

    def save(self, path: Path) -> None:
        """Every violating node of this visit as JSON (artifacts/axe/), to read after a run."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.counts(), "nodes": self.ours, "allowed_nodes": self.allowed}, indent=1))

    def explain(self) -> str:
        lines = [f"axe on {self.page} [{self.view}]:"]
        for n in self.blocking:
            lines.append(f"  {n['impact']:8} {n['rule']}: {n['target']}\n           {n['html']}\n           {n['summary']}")
        for name in self.stale:
            lines.append(f"  stale allow-list entry {name!r}: it applies here and no longer occurs; remove it")
        return "\n".join(lines)


def run(page, page_key: str, view: str) -> AxeReport:
    """axe on the page as it is now; each violating node classified as ours or allowed."""
    entries = [a for a in allowlist() if a.applies(page_key, view)]
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=_axe_script())
    violations = page.evaluate(
        _RUN, [TAGS, [{"name": a.name, "rule": a.rule, "selector": a.selector} for a in entries]]
    )
    report = AxeReport(page_key, view)
    for chart in page.evaluate(_CHARTS):
        if not chart["ok"]:
            report.ours.append(
                {"rule": CHART_RULE, "impact": "critical", "target": chart["target"], "html": chart["label"],
                 "summary": "the chart has no description (charts.show(..., description=t(...)))", "allowed": []}
            )
    for v in violations:
        for n in v["nodes"]:
            if n["allowed"]:
                for name in n["allowed"]:
                    report.allowed[name] = report.allowed.get(name, 0) + 1
            else:
                report.ours.append({"rule": v["id"], **n})
    report.stale = [a.name for a in entries if a.name not in report.allowed]
    return report
