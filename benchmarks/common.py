"""Shared helpers for the benchmark tables."""

from __future__ import annotations

import platform

import numpy as np


def pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (pastes into the README)."""
    cells = [
        [
            f"{c:.0f}"
            if isinstance(c, float) and abs(c) >= 10
            else (f"{c:.2f}" if isinstance(c, float) else str(c))
            for c in r
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "| " + " | ".join("-" * w for w in widths) + " |", *map(line, cells)])


def machine() -> str:
    try:
        import os

        cores = os.cpu_count()
        load = os.getloadavg()[0]
    except OSError:
        cores, load = "?", float("nan")
    return f"{platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}, load average {load:.1f} at start"
