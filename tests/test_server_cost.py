"""What keeps a widget change cheap on the server (README "Server cost"), pinned down."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from streamlit import dataframe_util

from ui.charts import arrow_bytes

ROOT = Path(__file__).resolve().parent.parent


def test_no_full_garbage_collection_after_every_run():
    """Streamlit's default gc.collect(2) after each run walks every object torch and pandas made."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_chart_data_as_arrow_equals_streamlits_own_conversion():
    """Same columns, types and values as Streamlit's DataFrame conversion (the reference), without
    the pandas schema metadata."""
    df = pd.DataFrame(
        {
            "x": np.arange(6),
            "y": [0.1, np.nan, 2.0, 3.0, -np.inf, 5.0],
            "series": ["a", "b", "a", None, "c", "a"],
            "kind": pd.Categorical(["u", "v", "u", "v", "u", "u"]),
            "ok": [True, False, True, True, False, True],
            "n": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        }
    )
    ours = arrow_bytes(df)
    assert isinstance(ours, bytes)
    mine = pa.ipc.open_stream(ours).read_all()
    theirs = pa.ipc.open_stream(dataframe_util.convert_anything_to_arrow_bytes(df)).read_all()
    assert mine.schema == theirs.schema.remove_metadata()
    assert mine.to_pydict() == theirs.select(mine.column_names).to_pydict()
    assert len(ours) < len(dataframe_util.convert_anything_to_arrow_bytes(df))


def test_other_chart_data_goes_to_streamlit_unchanged():
    table = pa.table({"x": [1.0]})
    assert arrow_bytes(table) is table
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])  # duplicate names: Streamlit decides
    assert arrow_bytes(twice) is twice
    mixed = pd.DataFrame({"m": [1, "a", 2.5]})  # mixed objects Arrow cannot type
    assert arrow_bytes(mixed) is mixed
