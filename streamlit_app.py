"""Entry point: routes only. Pages live in pages/, the registry in ui/registry.py."""

import streamlit as st

from ui import layout, registry
from ui.i18n import t

st.set_page_config(
    page_title="Explorables",
    page_icon=":material/school:",
    layout="wide",
    initial_sidebar_state="collapsed" if layout.lecture_requested() else "auto",
)
layout.sidebar()


def _page(spec: registry.PageSpec, *, default: bool = False) -> st.Page:
    return st.Page(
        str(registry.ROOT / spec.file),
        title=t(f"{spec.key}.title"),
        icon=spec.icon,
        url_path=spec.url_path,
        default=default,
    )


pages = {"": [_page(registry.HOME, default=True)]}
for section, specs in registry.by_section().items():
    pages[t(f"sections.{section}")] = [_page(spec) for spec in specs]
st.navigation(pages).run()
