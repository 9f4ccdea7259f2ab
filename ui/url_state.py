"""Presets versus URL-bound widgets whose identity changes (Streamlit 1.67).

A bound widget seeds itself from the query string the page was loaded with
whenever Streamlit sees it for the first time, and it sees a widget for the
first time again when the widget's parameters change (a slider whose maximum
follows the data) or when it was hidden in the run before. After a "Try this"
preset, that stale URL value beat the value the preset put in session state
(issue 22: grid-world presets far_sighted -> short_sighted -> strict ->
truncated left k at 8, not 10). Once a key holds a value in session state,
that value is the truth; the URL it was loaded with is not needed any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state import get_session_state


def prefer_session_values(keys: Iterable[str]) -> None:
    """Forget the load-time URL value of every key that session state already holds.

    Private API of the pinned Streamlit (as in ui.layout). Back/forward navigation
    is left alone: there the URL is meant to win.
    """
    ctx = get_script_run_ctx()
    if ctx is None or getattr(ctx, "is_history_navigation", False):
        return
    with get_session_state().query_params() as qp:
        initial = qp._initial_query_params
        for key in keys:
            if key in initial and key in st.session_state:
                del initial[key]


def prefer_preset_values(presets: Mapping[str, Mapping[str, Any]]) -> None:
    """`prefer_session_values` for every key a "Try this" preset sets: after a preset, its values beat
    the URL the page was loaded with (issue 22). Call it before the page's first widget."""
    prefer_session_values({key for values in presets.values() for key in values})
