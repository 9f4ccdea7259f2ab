"""The sidebar (language, lecture mode) and lecture-mode styling, shared by every page."""

from __future__ import annotations

import streamlit as st

from ui.i18n import LANG_NAMES, LANGS, t

# Short URL spellings the bound widgets do not parse themselves:
# `?lang=zh` (the widget's own spelling is its label, `简体中文`) and `?lecture=1`.
_URL_ALIASES = {
    "lang": {lang: lang for lang in LANGS},
    "lecture": {"1": True, "0": False},
}

_LECTURE_CSS = """
<style>
/* Lecture mode: bigger type, less chrome, so a 1280x720 projector shows
   the controls and the main figure without scrolling. */
.stMainBlockContainer { padding-top: 2.2rem; padding-bottom: 1rem; max-width: 100%; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label p { font-size: 1.2rem; }
.stMainBlockContainer h1 { font-size: 2.1rem; padding-top: 0; padding-bottom: 0.2rem; }
.stMainBlockContainer h2, .stMainBlockContainer h3 { font-size: 1.5rem; }
[data-testid="stHeader"] { height: 2rem; }
</style>
"""


def _seed_from_url_aliases() -> None:
    """Accept the short spellings on a first visit; the widget then shows them."""
    for key, aliases in _URL_ALIASES.items():
        raw = st.query_params.get(key)
        if key not in st.session_state and raw in aliases:
            st.session_state[key] = aliases[raw]


def sidebar() -> None:
    """Language switch and lecture toggle, both bound to the URL (`?lang=zh&lecture=1`)."""
    _seed_from_url_aliases()
    with st.sidebar:
        st.segmented_control(
            "Language · 语言",
            LANGS,
            format_func=LANG_NAMES.get,
            # A value seeded from a short URL alias stands in for the default.
            default=None if "lang" in st.session_state else "en",
            required=True,
            key="lang",
            bind="query-params",
        )
        st.toggle(t("common.lecture_mode"), key="lecture", bind="query-params", help=t("common.lecture_help"))
    if is_lecture():
        st.html(_LECTURE_CSS)


def is_lecture() -> bool:
    return bool(st.session_state.get("lecture", False))
