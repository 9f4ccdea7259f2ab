"""The page contract from DESIGN.md as functions, in page order:
header -> columns (controls | figure) -> prose -> try_this -> math -> download_csv.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui.i18n import t
from ui.layout import is_lecture
from ui.store import STORE, trim

if TYPE_CHECKING:  # the home page must not pay for importing pandas
    import pandas as pd

T = TypeVar("T")
_MISSING = object()


def ensure_router() -> None:
    """Rerun through streamlit_app.py if Streamlit started this page on its own.

    Streamlit 1.67 treats a `pages/` folder as a legacy multipage app until the
    entry point first calls st.navigation; a server whose first visitor opens a
    deep link (`/perceptron?lang=zh`, typical of a woken Cloud app) would run
    the page without the router: no sidebar, no language. Flipping the flag
    and rerunning hands the same URL to the router.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(page: str) -> None:
    """Title and the one-sentence lead: what you will see move."""
    ensure_router()
    st.title(t(f"{page}.title"))
    st.markdown(t(f"{page}.lead"))


def columns(ratio: float = 2.6) -> tuple[Any, Any]:
    """Controls on the left, the main figure on the right."""
    left, right = st.columns([1.0, ratio], gap="large")
    return left, right


def prose(text: str) -> None:
    """Explanatory markdown; folded away in lecture mode so the figures stay in view."""
    if is_lecture():
        with st.expander(t("common.read_more")):
            st.markdown(text)
    else:
        st.markdown(text)


def _apply_preset(page: str, name: str, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[f"_try_{page}"] = name


def try_this(
    page: str,
    presets: Mapping[str, Mapping[str, Any]],
    facts: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Buttons that set the controls to a telling configuration, then say what to watch for.

    `presets` maps a preset name to {widget key: value}; the texts are
    `<page>.try.<name>` (button) and `<page>.try.<name>_watch` (one sentence).
    `facts` maps a preset name to the values of its sentence's `{placeholders}`,
    computed by the page, so a number read aloud is the number on screen.
    """
    st.subheader(t("common.try_this"))
    cols = st.columns(len(presets))
    for col, (name, values) in zip(cols, presets.items(), strict=True):
        col.button(
            t(f"{page}.try.{name}"),
            key=f"try_{page}_{name}",
            on_click=_apply_preset,
            args=(page, name, dict(values)),
            width="stretch",
        )
    chosen = st.session_state.get(f"_try_{page}")
    if chosen in presets:
        st.info(t(f"{page}.try.{chosen}_watch", **dict((facts or {}).get(chosen, {}))), icon=":material/visibility:")


def image(image: Any, *, alt: str, **kwargs: Any) -> None:
    """`st.image` with its text alternative (translated: what the picture shows) for screen readers."""
    st.image(image, alt=alt, **kwargs)


def math(page: str, items: list[tuple[str, str]]) -> None:
    """The formulas the page computes, each followed by its source."""
    with st.expander(t("common.the_math"), icon=":material/function:"):
        for latex, source in items:
            st.latex(latex)
            st.caption(source)


def download_csv(df: pd.DataFrame, filename: str) -> None:
    """The figure's data as a CSV file, written only when the button is pressed."""
    st.download_button(
        t("common.download_csv"),
        lambda: df.to_csv(index=False).encode("utf-8"),  # deferred: not on every rerun
        file_name=filename,
        mime="text/csv",
        key=f"csv_{filename}",
        icon=":material/download:",
        on_click="ignore",
    )


def keep_last_good(
    store_key: str, compute: Callable[[], T], message: str | Callable[[Exception], str]
) -> T | None:
    """Run `compute`; on bad input (ValueError) warn in the page and return the last good result."""
    slot = f"_last_good_{store_key}"
    try:
        result = compute()
    except ValueError as exc:
        st.warning(message(exc) if callable(message) else message, icon=":material/warning:")
        return st.session_state.get(slot)
    st.session_state[slot] = result
    return result


# Heavy work (training, sampling) ---------------------------------------------------------------
Report = Callable[..., None]  # report(fraction in [0, 1], text=None): moves the progress bar


def with_progress(
    store: str, key: Hashable, work: Callable[[Report], T], *, text: str, max_entries: int = 24
) -> T:
    """`work(report)` once per key, behind a progress bar; later calls return the stored result.

    Not st.cache_data: the work draws on a progress bar the page owns, which a
    cached function may not touch (its elements would be replayed). Results go
    to the server's one bounded store (`ui.store.STORE`), shared by every
    session: at most `max_entries` of this kind (`store`), and every kind
    together within the store's byte budget; the least recently used go first.
    """
    found = STORE.get(store, key, _MISSING)
    if found is not _MISSING:
        return found
    bar = st.progress(0.0, text=text)
    shown = [-1.0]

    def report(fraction: float, label: str | None = None) -> None:
        now = time.perf_counter()
        if now - shown[0] >= 0.05 or fraction >= 1.0:  # at most ~20 redraws a second
            shown[0] = now
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=label or text)

    try:
        result = work(report)
    finally:
        bar.empty()
    STORE.put(store, key, result, max_entries=max_entries)
    trim()  # the work's temporaries (activations, gradients) go back to the system
    return result


def has_result(store: str, key: Hashable) -> bool:
    """Whether `with_progress` has this result stored (so showing it costs nothing)."""
    return (store, key) in STORE
