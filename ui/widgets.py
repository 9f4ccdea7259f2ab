"""Widgets that several pages share, each with its key bound to the URL."""

from __future__ import annotations

import streamlit as st

from ui.i18n import t


def seed(key: str = "seed", default: int = 0) -> int:
    """The random seed: same URL, same numbers."""
    return int(st.number_input(t("common.seed"), 0, 9_999, default, 1, key=key, bind="query-params"))


def labels(keys: dict[str, str]):
    """format_func for a selection widget: option -> translated text, looked up now.

    Streamlit may call format_func outside the script run (AppTest does); a dict
    bound when the widget is created always answers in the page's language.
    """
    texts = {option: t(key) for option, key in keys.items()}
    return lambda option: texts.get(option, str(option))
