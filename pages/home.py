"""Home: a card per registered topic, grouped by section. Never imports torch."""

import streamlit as st

from ui import page, registry
from ui.i18n import t

page.ensure_router()
st.title(t("home.title"))
st.markdown(t("home.lead"))

for section, specs in registry.by_section().items():
    st.subheader(t(f"sections.{section}"))
    cols = st.columns(3)
    for i, spec in enumerate(specs):
        with cols[i % 3].container(border=True, height="stretch"):
            st.markdown(f"**{t(f'{spec.key}.title')}**")
            st.caption(t(f"{spec.key}.hook"))
            st.page_link(spec.file, label=t("home.open"), icon=spec.icon)
