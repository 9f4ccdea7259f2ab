"""The lecture's page mix and the sliders a student moves (shared by lecture.py and bench_hall.py).

Kept apart from benchmarks/lecture.py, which imports Locust (and with it gevent's
monkey-patching), so the benchmark driver can use it without Locust.
"""

from __future__ import annotations

COOKIE = "HALL"  # deploy/hall.py's sticky cookie (absent on a single `streamlit run`)
# A lecture: most students on the page being taught, some still on the previous topics.
# A student moves only sliders outside forms (a form waits for its Run button); weights sum to 20.
LECTURE_MIX = {
    "perceptron": 8,
    "activations": 3,
    "gridworld": 3,
    "robbins_monro": 2,
    "monte_carlo": 2,
    "receptive_field": 1,
    "discrete_metric": 1,
}
SIDEBAR_KEYS = {"lang", "lecture"}


def widget_key(wid: str) -> str:
    """A keyed widget's id is `$$ID-<hash>-<key>`: the key is the URL parameter it is bound to."""
    return wid.split("-", 2)[2] if wid.startswith("$$ID-") else wid


def url_value(proto, value: float) -> str:
    return str(int(round(value))) if proto.data_type == proto.INT else repr(round(value, 10))


def sliders(result) -> dict[str, object]:
    """The plain sliders a student can move: one value, numeric, outside any form, not the sidebar's."""
    return {
        wid: p
        for wid, (etype, p) in result.widgets.items()
        if etype == "slider"
        and len(p.default) == 1
        and not p.options
        and not p.form_id
        and widget_key(wid) not in SIDEBAR_KEYS
    }
