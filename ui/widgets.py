"""Widgets that several pages share, each with its key bound to the URL."""

from __future__ import annotations

import streamlit as st

from ui.i18n import t


def seed(key: str = "seed", default: int = 0) -> int:
    """The random seed: same URL, same numbers."""
    return int(st.number_input(t("common.seed"), 0, 9_999, default, 1, key=key, bind="query-params"))


def keep_within(key: str, hi: int) -> None:
    """Pull a remembered slider value back under a maximum that moved with the data.

    A scrubber's range (iteration k, an output unit) depends on the current
    run; a value left from an earlier run, a preset or a URL may lie above the
    new maximum, and Streamlit would raise rather than clamp. Call before the slider.

    A slider's identity includes its maximum, so when the maximum moves Streamlit
    registers a new widget. Its value then comes from the URL if valid there,
    else from whatever the key last held as session state, which can be a
    stale value from runs ago, above the new maximum (the fuzz found k=4 coming
    back when the maximum moved to 3). So when the maximum moved, the reader's
    current value is written to the key, clamped.
    """
    value = st.session_state.get(key)
    last_hi = f"_keep_within.{key}"
    moved = st.session_state.get(last_hi, hi) != hi
    st.session_state[last_hi] = hi
    if isinstance(value, int | float) and not isinstance(value, bool) and (value > hi or moved):
        st.session_state[key] = min(value, hi)


def labels(keys: dict[str, str]):
    """format_func for a selection widget: option -> translated text, looked up now.

    Streamlit may call format_func outside the script run (AppTest does); a dict
    bound when the widget is created always answers in the page's language.
    """
    texts = {option: t(key) for option, key in keys.items()}
    return lambda option: texts.get(option, str(option))
