"""Every visible string comes from `locales/<lang>.toml` through `t(key)`.

Keys are dotted: `"perceptron.title"` is the `title` entry of the
`[perceptron]` table. A key missing in the current language raises `KeyError`,
so the page tests (which render every page in both languages) catch it.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

LANGS: tuple[str, ...] = ("en", "zh")
LANG_NAMES: dict[str, str] = {"en": "English", "zh": "简体中文"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


@cache
def strings(lang: str) -> dict[str, str]:
    """All strings of one language, flattened to dotted keys."""
    with open(LOCALE_DIR / f"{lang}.toml", "rb") as f:
        return _flatten(tomllib.load(f))


_last_lang = "en"


def current_lang() -> str:
    """The session's language; outside a script run, the language of the last run.

    Only AppTest calls `t` outside a run: it replays a selectbox's format_func
    from the test thread to encode the widget's state, and must get the
    labels the page drew. In a served app every call happens inside a run.
    """
    global _last_lang
    if get_script_run_ctx() is None:
        return _last_lang
    lang = st.session_state.get("lang")
    _last_lang = lang if lang in LANGS else "en"
    return _last_lang


def t(key: str, /, **fmt: object) -> str:
    """The string for `key` in the current language, `str.format`-ed with `fmt`."""
    text = strings(current_lang())[key]
    return text.format(**fmt) if fmt else text


def has(key: str) -> bool:
    return key in strings(current_lang())
