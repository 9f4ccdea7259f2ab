"""The floor: a trivial page (one slider, one chart). Other pages are measured against it."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

k = st.slider("k", 1, 10, 3, key="k", bind="query-params")
x = np.linspace(0, 1, 50)
df = pd.DataFrame({"x": x, "y": x**k})
st.altair_chart(
    alt.Chart(df).mark_line().encode(x=alt.X("x", type="quantitative"), y=alt.Y("y", type="quantitative")),
    width="stretch",
)
