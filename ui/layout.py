"""The sidebar (language, lecture mode) and lecture-mode styling, shared by every page."""

from __future__ import annotations

import json
import math

import streamlit as st
from streamlit.runtime.state import get_session_state

from ui.i18n import LANG_NAMES, LANGS, t

# Short URL spellings that the bound widgets do not parse themselves, and the
# spelling the widget uses: `?lang=zh` (the widget writes its label, 简体中文)
# and `?lecture=1` (a toggle writes true / false).
_URL_ALIASES = {  # key -> {short spelling: the widget's own URL spelling}
    "lang": {lang: LANG_NAMES[lang] for lang in LANGS},
    "lecture": {"1": "true", "0": "false"},
}

_LECTURE_CSS = """
<style>
/* Lecture mode: bigger type, less chrome, so a 1280x720 projector shows
   the controls and the main figure without scrolling. */
.stMainBlockContainer { padding-top: 3.6rem; padding-bottom: 1rem; max-width: 100%; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label p { font-size: 1.2rem; }
.stMainBlockContainer h1 { font-size: 2.1rem; padding-top: 0; padding-bottom: 0.2rem; }
.stMainBlockContainer h2, .stMainBlockContainer h3 { font-size: 1.5rem; }
[data-testid="stHeader"] { background: transparent; }
</style>
"""


# Every page: a visible keyboard focus ring (WCAG 2.1 SC 2.4.7) where Streamlit 1.67's
# styling shows none or only a border tint: the sidebar's page links, the chart toolbar,
# the scrollable main area, select boxes and number inputs (tests/browser/test_keyboard.py
# tabs through a page and checks every stop). The primary colour: 4.5:1 on white and sidebar.
_FOCUS_CSS = """
<style>
:is(a, button, summary, [tabindex]):focus-visible { outline: 2px solid #ad3f0a; outline-offset: 2px; }
main:focus-visible { outline-offset: -3px; }
:is([data-baseweb="select"], [data-testid="stNumberInputContainer"], [data-baseweb="input"],
    [data-baseweb="textarea"]):focus-within { outline: 2px solid #ad3f0a; outline-offset: 1px; }
/* A display formula wider than its column scrolled inside a box that the keyboard could not
   reach (axe: scrollable-region-focusable); it is shown whole instead. */
.katex-display { overflow: visible !important; }
</style>
"""


def _is_non_finite_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except (ValueError, OverflowError):
        return False


def _drop_non_finite_numbers() -> None:
    """Forget URL values that parse as an infinite number (`1e999`, 10,000 nines), or are empty.

    Streamlit 1.67 turns such a value for an integer number_input into
    int(inf) and raises; a shared link must never do that, so on a session's
    first run these values are dropped before any widget binds them. An empty
    value (`?cell=`) would leave a required segmented control with no choice;
    a text input whose empty value means something takes it back with
    `keep_empty_url_value`.
    """
    if "_url_checked" in st.session_state:
        return
    st.session_state["_url_checked"] = True
    emptied = []
    with get_session_state().query_params() as qp:
        for key, values in list(qp._initial_query_params.items()):
            if any(_is_non_finite_number(v) for v in values) or all(v == "" for v in values):
                del qp._initial_query_params[key]
                qp._query_params.pop(key, None)
                if all(v == "" for v in values):
                    emptied.append(key)
    st.session_state["_url_emptied"] = tuple(emptied)


def _rewrite_url_aliases() -> None:
    """On a session's first run, respell short values before the widgets bind them.

    Server side, the bound widget then seeds itself from the respelled value
    (Streamlit 1.67 seeds from the query string the page was loaded with, so
    that copy is respelled: private API, pinned version, covered by
    tests/pages). Browser side, the address bar is replaced by the widget's own
    spelling, so the value survives navigation and is in the link a student
    copies. Only spellings from _URL_ALIASES reach the script, never URL text.
    """
    respelled = {}
    for key, aliases in _URL_ALIASES.items():
        raw = st.query_params.get(key)
        if key not in st.session_state and raw in aliases:
            respelled[key] = aliases[raw]
            with get_session_state().query_params() as qp:
                qp._initial_query_params[key] = [aliases[raw]]
    if respelled:
        st.html(
            "<script>const u = new URL(window.location.href);"
            f"for (const [k, v] of Object.entries({json.dumps(respelled)})) u.searchParams.set(k, v);"
            "window.location.replace(u.toString());</script>",
            unsafe_allow_javascript=True,
        )


def drop_empty_url_selection(key: str) -> None:
    """A shared link with an empty selection (`?acts=`) falls back to the widget's default.

    Like the clean-ups above, this edits the query string the bound widget
    seeds from (private API of the pinned Streamlit 1.67), on the session's
    first run only. Call it before creating the widget.
    """
    if key in st.session_state:
        return
    with get_session_state().query_params() as qp:
        values = qp._initial_query_params.get(key)
        if values is not None and not any(v.strip() for v in values):
            del qp._initial_query_params[key]
            qp._query_params.pop(key, None)


def keep_empty_url_value(key: str) -> None:
    """A shared link's empty text (`?prompt=`) stays empty, for a text input where empty means
    something (the diffusion prompt: sample unconditionally) instead of the widget's default.

    Undoes, for this key only, the first run's dropping of empty URL values (private API of
    the pinned Streamlit 1.67, like the clean-ups above), once: a later visit to the page in
    the same session starts from the widget's default. Call it before creating the widget.
    """
    emptied = st.session_state.get("_url_emptied", ())
    if key in st.session_state or key not in emptied:
        return
    st.session_state["_url_emptied"] = tuple(k for k in emptied if k != key)
    with get_session_state().query_params() as qp:
        qp._initial_query_params[key] = [""]
        qp._query_params[key] = ""


def sidebar() -> None:
    """Language switch and lecture toggle, both bound to the URL (`?lang=zh&lecture=1`)."""
    _drop_non_finite_numbers()
    _rewrite_url_aliases()
    with st.sidebar:
        st.segmented_control(
            "Language · 语言",
            LANGS,
            format_func=LANG_NAMES.get,
            default="en",
            required=True,
            key="lang",
            bind="query-params",
        )
        st.toggle(
            t("common.lecture_mode"),
            key="lecture",
            bind="query-params",
            help=t("common.lecture_help"),
        )
        # Lecture mode: a large QR code of the exact current view, so the class joins at these settings.
        join = is_lecture() and st.button(
            t("common.join_qr"), key="join_qr", icon=":material/qr_code_2:", width="stretch"
        )
    if join:
        _show_join_code()
    st.html(_FOCUS_CSS + (_LECTURE_CSS if is_lecture() else ""))


def current_view_url() -> str:
    """The exact current view: the URL the browser shows, with the view's query string (ui/share.py)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.util import calc_hash

    from ui import registry, share

    # The page's URL path, for a URL rebuilt from headers: st.Page's script hash is
    # calc_hash(url_path) in Streamlit 1.67, and the sidebar runs before st.navigation.
    ctx = get_script_run_ctx()
    hashes = {calc_hash(spec.url_path): spec.url_path for spec in registry.PAGES}
    page_path = hashes.get(ctx.page_script_hash, "") if ctx is not None else ""
    # The short spellings (`lang=zh`, `lecture=1`) the app respells on load: a shorter URL, a coarser QR.
    short = {key: {v: k for k, v in aliases.items()} for key, aliases in _URL_ALIASES.items()}
    query = [
        (key, short.get(key, {}).get(value, value))
        for key in st.query_params
        for value in st.query_params.get_all(key)
    ]
    return share.view_url(st.context.url, st.context.headers.to_dict(), page_path, query)


def _show_join_code() -> None:
    """A large QR code of the current view, so a class joins at the lecturer's settings."""
    from ui import page, share

    url = current_view_url()

    @st.dialog(t("common.join_qr_title"), width="large")
    def join() -> None:
        st.markdown(t("common.join_qr_caption"))
        page.image(share.qr_png(url), alt=t("common.join_qr_alt", url=url), width=440, output_format="PNG")
        st.code(url, language=None, wrap_lines=True)
        if share.is_local_only(url):
            st.warning(t("common.join_qr_local"), icon=":material/warning:")

    join()


def lecture_requested() -> bool:
    """Lecture mode asked for in the URL (read before the sidebar exists, e.g. to fold it)."""
    return st.query_params.get("lecture") in ("1", "true")


def is_lecture() -> bool:
    return bool(st.session_state.get("lecture", False))
