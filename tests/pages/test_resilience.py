"""Bad input never breaks a page: random settings, hostile URLs, no network.

Covers every registered page, so pages added later are fuzzed with no extra work.
"""

from __future__ import annotations

import random
import socket

import pytest

from tests.apptest_utils import (
    ALL_PAGES,
    SELECTION,
    UNBINDABLE,
    Checkbox,
    Multiselect,
    NumberInput,
    Slider,
    Toggle,
    apply,
    assert_healthy,
    bound_key,
    find,
    is_text_widget,
    open_page,
    options_of,
    page_widgets,
    submit_forms,
)

FUZZ_SETTINGS = 20  # per page in `make test`; benchmarks/fuzz.py runs 10,000
SUBMIT_P = 0.25  # share of settings that also press Run on every form (training, sampling: slow)
PAGE_IDS = [pytest.param(s, id=s.key) for s in ALL_PAGES]
# Known failures, open (page key -> reason): none now; the fuzz's gridworld and transformer findings are fixed.
KNOWN: dict[str, str] = {}
FUZZ_IDS = [
    pytest.param(s, id=s.key, marks=pytest.mark.xfail(reason=KNOWN[s.key], strict=False))
    if s.key in KNOWN
    else pytest.param(s, id=s.key)
    for s in ALL_PAGES
]


def random_value(w, rng: random.Random):
    """A random in-range value for `w`, or None for widgets without a range."""
    if isinstance(w, Slider):
        lo, hi = w.min, w.max
        step = w.step or (1 if isinstance(lo, int) else (hi - lo) / 100)
        k = rng.randint(0, int(round((hi - lo) / step)))
        v = lo + k * step
        v = int(v) if isinstance(lo, int) else min(float(round(v, 10)), hi)
        return (min(v, w.value[1]), w.value[1]) if isinstance(w.value, tuple | list) else v
    if isinstance(w, NumberInput):
        if w.min is None or w.max is None:
            return None
        if isinstance(w.min, int) and isinstance(w.max, int):
            return rng.randint(w.min, w.max)
        return rng.uniform(w.min, w.max)
    if isinstance(w, Checkbox | Toggle):
        return rng.random() < 0.5
    if isinstance(w, SELECTION):
        opts = options_of(w)
        if not opts:
            return None
        if isinstance(w, Multiselect):
            return rng.sample(opts, rng.randint(0, len(opts)))
        return rng.choice(opts)
    return None


def random_setting(at, rng: random.Random) -> dict | None:
    """Set 1-3 random page widgets to random in-range values (and sometimes press Run on every
    form); returns what was set, or None when the page has no widget to set. Not run yet."""
    widgets = [w for w in page_widgets(at) if w.key and not isinstance(w, UNBINDABLE)]
    if not widgets:
        return None
    changed = {}
    for w in rng.sample(widgets, min(len(widgets), rng.randint(1, 3))):
        value = random_value(w, rng)
        if value is not None:
            apply(at, find(at, w.key), value)
            changed[w.key] = value
    if rng.random() < SUBMIT_P and submit_forms(at):
        changed["(submitted)"] = True
    return changed


@pytest.mark.parametrize("spec", FUZZ_IDS)
def test_fuzz_random_settings(spec):
    rng = random.Random(f"fuzz-{spec.key}")
    at = open_page(spec)
    for i in range(FUZZ_SETTINGS):
        changed = random_setting(at, rng)
        if changed is None:
            break
        at.run()
        assert_healthy(at, f"{spec.key}: setting {i} {changed}")


HOSTILE = {
    "out_of_range": "1e308",
    "negative": "-999999",
    "wrong_type": "banana",
    "empty": "",
    "long": "9" * 10_000,
    "html": '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "nan": "nan",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("spec", PAGE_IDS)
def test_hostile_url_values_are_ignored(spec, kind):
    """Every bound parameter at once set to a hostile value: the page renders with its defaults."""
    clean = open_page(spec)
    defaults = {bound_key(w): w.value for w in page_widgets(clean) if bound_key(w)}
    hostile = HOSTILE[kind]
    at = open_page(spec, "en", {key: hostile for key in defaults} | {"lecture": hostile})
    assert_healthy(at, f"{spec.key}: {kind}")
    for key, default in defaults.items():
        w = find(at, key)
        if w is None or is_text_widget(w):
            continue  # any text is a valid text-field value; the page must cope (checked above)
        if isinstance(w, SELECTION) or isinstance(default, str):
            # a text value can only be valid if it is one of the options
            assert w.value == default or (isinstance(w.value, str) and w.value in options_of(w)), key
        else:
            assert w.value == default, f"{spec.key}: {key} took the hostile value {w.value!r}"
    # never rendered as HTML
    for el in list(at.markdown) + list(at.caption) + list(at.get("html")):
        text = str(el.value)
        assert 'alert("x")' not in text and "onerror=" not in text, f"{spec.key}: hostile text rendered"


@pytest.fixture
def no_network(monkeypatch):
    """Only loopback connections; anything else raises (the app must not reach out)."""
    real_connect = socket.socket.connect
    attempts = []

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            return real_connect(self, address)
        attempts.append(address)
        raise OSError(f"network access blocked in tests: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: guarded(socket.socket(), a[0]))
    yield attempts


@pytest.mark.parametrize("spec", PAGE_IDS)
def test_pages_work_without_network(spec, no_network):
    at = open_page(spec, "zh")
    assert_healthy(at, spec.key)
    assert no_network == [], f"{spec.key} tried to reach {no_network}"
