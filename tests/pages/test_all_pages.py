"""Every registered page x {en, zh}: renders, survives every widget at its extremes,
every "Try this" button, and reproduces a view from its URL."""

from __future__ import annotations

import pytest

from tests.apptest_utils import (
    ALL_PAGES,
    UNBINDABLE,
    apply,
    assert_healthy,
    bound_key,
    extremes,
    find,
    open_page,
    options_of,
    page_widgets,
    url_value,
)
from ui.i18n import LANGS, strings

CASES = [pytest.param(spec, lang, id=f"{spec.key}-{lang}") for spec in ALL_PAGES for lang in LANGS]


@pytest.mark.parametrize(("spec", "lang"), CASES)
def test_page_renders(spec, lang):
    at = open_page(spec, lang)
    assert_healthy(at, spec.key)
    assert at.title, "every page has a title"
    assert at.title[0].value == strings(lang)[f"{spec.key}.title"], "the page speaks the chosen language"
    if spec.key != "home":
        assert at.get("download_button"), "every topic page offers its data as CSV"
        assert at.latex, "every topic page shows its formulas"


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.key) for s in ALL_PAGES])
def test_every_widget_bound_to_url(spec):
    at = open_page(spec)
    for w in page_widgets(at):
        if isinstance(w, UNBINDABLE):
            continue
        assert w.key, f"{spec.key}: a {type(w).__name__} without a key"
        assert bound_key(w) == w.key, f"{spec.key}: widget {w.key!r} is not bound to the URL"


@pytest.mark.parametrize(("spec", "lang"), CASES)
def test_widgets_at_min_max_default(spec, lang):
    at = open_page(spec, lang)
    keys = [w.key for w in page_widgets(at) if w.key and not isinstance(w, UNBINDABLE)]
    for key in keys:
        w = find(at, key)
        if w is None:  # hidden by an earlier setting
            continue
        default = w.value
        name = "default"
        for name, value in extremes(w):
            w = find(at, key)
            if w is None:
                break
            apply(at, w, value)
            at.run()
            assert_healthy(at, f"{spec.key}: {key} = {name} ({value!r})")
        w = find(at, key)
        if w is not None and name != "default":
            w.set_value(default)
            at.run()


@pytest.mark.parametrize(("spec", "lang"), CASES)
def test_try_this_buttons(spec, lang):
    at = open_page(spec, lang)
    names = [b.key for b in at.button if b.key and b.key.startswith(f"try_{spec.key}_")]
    if spec.key != "home":
        assert 2 <= len(names) <= 4, f"{spec.key}: 2-4 'Try this' presets, found {len(names)}"
    for key in names:
        at.button(key=key).click().run()
        assert_healthy(at, f"{spec.key}: {key}")
        assert at.info, f"{spec.key}: {key} says what to watch for"


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.key) for s in ALL_PAGES])
def test_url_reproduces_view(spec):
    """Put every bound widget at a non-default value through the URL of a fresh session."""
    first = open_page(spec)
    query = {}
    for w in page_widgets(first):
        key = bound_key(w)
        value = url_value(w) if key else None
        if value is not None:
            query[key] = value
    at = open_page(spec, "en", query)
    assert_healthy(at, spec.key)
    for key, value in query.items():
        w = find(at, key)
        if w is None:  # hidden under another setting
            continue
        shown = w.value
        if hasattr(w, "options") and isinstance(value, str) and value in options_of(w):
            idx = w.indices[0] if hasattr(w, "indices") else w.index
            assert options_of(w)[idx] == value, f"{spec.key}: {key}"
        elif isinstance(value, str) and value in ("true", "false"):
            assert shown is (value == "true"), f"{spec.key}: {key}"
        else:
            assert float(shown) == pytest.approx(float(value)), (
                f"{spec.key}: {key} = {shown!r}, URL {value!r}"
            )


@pytest.mark.parametrize("lang", LANGS)
def test_short_url_spellings(lang):
    """`?lang=zh&lecture=1` as the issue spells them; the home page has no torch."""
    at = open_page(ALL_PAGES[0], lang, {"lecture": "1"})
    assert_healthy(at)
    assert at.session_state["lang"] == lang
    assert at.session_state["lecture"] is True


def test_a_cold_servers_first_deep_link_goes_through_the_router(monkeypatch):
    """ui.page.ensure_router. Page tests run as a warm server (tests.apptest_utils.like_a_warm_server);
    here the flag Streamlit sets for a pages/ folder is left as on a server's first run, and a
    deep link in Chinese must still come through the router: the page's Chinese title, the sidebar."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from tests.apptest_utils import APP, TIMEOUT, like_a_warm_server

    like_a_warm_server()
    monkeypatch.setattr(PagesManager, "__init__", PagesManager.__init__.cold)
    spec = ALL_PAGES[1]  # a topic page, not home
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["lang"] = "zh"
    at.switch_page(spec.file)
    at.run()
    assert not at.exception
    assert at.title[0].value == strings("zh")[f"{spec.key}.title"]
    assert len(at.sidebar) > 0  # the router's sidebar: language and lecture mode
