"""Drive registered pages with streamlit.testing.v1.AppTest: shared by page and resilience tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.state.common import TESTING_KEY
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import (  # noqa: F401 (re-exported for tests)
    Button,
    ButtonGroup,
    Checkbox,
    DownloadButton,
    Multiselect,
    NumberInput,
    Radio,
    Selectbox,
    SelectSlider,
    Slider,
    TextArea,
    TextInput,
    Toggle,
    Widget,
)

from ui.registry import HOME, PAGES, PageSpec

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
ALL_PAGES: list[PageSpec] = [HOME, *PAGES]
TIMEOUT = 120  # seconds for one script run (a cold training run may take a few)

# Widgets that cannot be bound to the URL (they hold no state).
UNBINDABLE = (Button, DownloadButton)
SELECTION = (Selectbox, Radio, ButtonGroup, Multiselect, SelectSlider)


def like_a_warm_server() -> None:
    """Let a button press reach the page, as on a running server.

    AppTest resets PagesManager.uses_pages_directory before every run, so every run is
    a cold server's first one: ui.page.ensure_router reruns it through the router, and a
    button is True for one run only, so that rerun dropped every press (form Run buttons
    included; only the form's values got through). A server flips the flag once, on its
    first run; this does the same at the start of every AppTest run. Idempotent.
    """
    init = PagesManager.__init__
    if getattr(init, "warm", False):
        return

    def init_like_a_warm_server(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    init_like_a_warm_server.warm = True
    init_like_a_warm_server.cold = init  # for the test of ui.page.ensure_router itself
    PagesManager.__init__ = init_like_a_warm_server


def open_page(spec: PageSpec, lang: str = "en", query: dict[str, Any] | None = None) -> AppTest:
    """A fresh session that lands on `spec` with the given query string, run once."""
    like_a_warm_server()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["lang"] = lang
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if spec.key != HOME.key:
        at.switch_page(spec.file)
    return at.run()


def iter_widgets(node: Any) -> Iterator[Widget]:
    if isinstance(node, Widget):
        yield node
    for child in getattr(node, "children", {}).values():
        yield from iter_widgets(child)


def page_widgets(at: AppTest) -> list[Widget]:
    """Widgets in the page body (the sidebar's language and lecture switches excluded)."""
    return list(iter_widgets(at.main))


def submit_forms(at: AppTest) -> int:
    """Press every form's submit button in the page body, so values set inside forms take effect.

    AppTest keeps st.form semantics: a widget changed inside a form only reaches the script
    when the form is submitted. Returns how many forms were submitted.
    """
    buttons = [b for b in at.main.button if b.proto.is_form_submitter]
    for b in buttons:
        b.click()
    return len(buttons)


def bound_key(w: Widget) -> str | None:
    proto = w.proto
    if "query_param_key" not in proto.DESCRIPTOR.fields_by_name or not proto.HasField("query_param_key"):
        return None
    return proto.query_param_key


def find(at: AppTest, key: str) -> Widget | None:
    for w in page_widgets(at):
        if w.key == key:
            return w
    return None


def set_formatted(at: AppTest, w: Widget, value: Any) -> None:
    """Set a selection widget by its displayed option string(s).

    AppTest's selection widgets look values up through the page's format_func;
    the option strings are what the browser sends, so format them as themselves.
    """
    at.session_state[TESTING_KEY][w.id] = lambda option: option
    w.set_value(value)


def options_of(w: Widget) -> list[str]:
    return list(w.options)


def extremes(w: Widget) -> list[tuple[str, Any]]:
    """(name, value) pairs putting `w` at its min, max and default; [] for widgets without a range."""
    if isinstance(w, Slider | NumberInput):
        default = w.value
        values = [("min", w.min), ("max", w.max), ("default", default)]
        if isinstance(default, tuple | list):  # a range slider
            values = [("min", (w.min, w.min)), ("max", (w.max, w.max)), ("default", tuple(default))]
        return [(n, v) for n, v in values if v is not None]
    if isinstance(w, Checkbox | Toggle):
        return [("off", False), ("on", True), ("default", w.value)]
    if isinstance(w, SELECTION):
        opts = options_of(w)
        if not opts:
            return []
        if isinstance(w, Multiselect) or (isinstance(w, ButtonGroup) and not w._is_single_select):
            return [("none", []), ("all", opts), ("first", [opts[0]])]
        return [("first", opts[0]), ("last", opts[-1])]
    return []


def apply(at: AppTest, w: Widget, value: Any) -> None:
    if isinstance(w, SELECTION):
        set_formatted(at, w, value)
    else:
        w.set_value(value)


def url_value(w: Widget) -> str | list[str] | None:
    """A valid non-default value for `w`, spelled as it appears in a URL; None if there is none."""
    if isinstance(w, Slider):
        if isinstance(w.value, tuple | list):
            return None
        target = w.max if w.value != w.max else w.min
        return _num(target)
    if isinstance(w, NumberInput):
        target = w.max if w.max is not None and w.value != w.max else w.min
        return None if target is None or target == w.value else _num(target)
    if isinstance(w, Checkbox | Toggle):
        return "false" if w.value else "true"
    if isinstance(w, Selectbox | Radio) or (isinstance(w, ButtonGroup) and w._is_single_select):
        opts = options_of(w)
        current = w.index if not isinstance(w, ButtonGroup) else (w.indices[0] if w.indices else None)
        others = [o for i, o in enumerate(opts) if i != current]
        return others[-1] if others else None
    return None


def _num(v: Any) -> str:
    return str(int(v)) if float(v).is_integer() and not isinstance(v, float) else repr(float(v))


def assert_healthy(at: AppTest, context: str = "") -> None:
    assert not at.exception, f"{context}: exception {[e.value for e in at.exception]}"
    assert not at.error, f"{context}: error box {[e.value for e in at.error]}"


def is_text_widget(w: Widget) -> bool:
    return isinstance(w, TextInput | TextArea)
