"""ui helpers: chart templates (built once per language / lecture mode, data by name) and heavy work behind a progress bar."""

import io
import json

import pyarrow as pa
import streamlit as st
from streamlit.testing.v1 import AppTest

BUILDS: list[str] = []  # every time the test template is built, in this process


def _app() -> None:
    import pandas as pd
    import streamlit as st

    from tests.test_ui_helpers import BUILDS as builds
    from ui import charts

    @charts.template
    def curve_template(x_title: str):
        builds.append(x_title)
        return charts.line("curve", "x", "y", x_title=x_title, y_title="y")

    n = st.slider("n", 1, 9, 3, key="n")
    curve = pd.DataFrame({"x": range(n), "y": [v * v for v in range(n)]})
    charts.show(curve_template("x axis"), data={"curve": curve})
    # An Altair chart with its frame inside goes the same way: the frame becomes a named dataset.
    charts.show(charts.scatter(curve, "x", "y", x_title="x", y_title="y"))


def _charts(at: AppTest) -> list:
    return [el.proto for el in at.get("vega_lite_chart")]


def _rows(dataset) -> int:
    return pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all().num_rows


def test_template_is_built_once_and_data_change_every_rerun():
    BUILDS.clear()
    st.cache_data.clear()
    at = AppTest.from_function(_app, default_timeout=30).run()
    for n in (5, 7, 2):
        at.slider(key="n").set_value(n).run()
        assert not at.exception
        first, second = _charts(at)
        spec = json.loads(first.spec)
        # The spec refers to the data by name; the rows travel beside it as Arrow, n of them.
        assert spec["data"] == {"name": "curve"} and "values" not in json.dumps(spec)
        assert [d.name for d in first.datasets] == ["curve"]
        assert _rows(first.datasets[0]) == n
        assert [_rows(d) for d in second.datasets] == [n]
    assert BUILDS == ["x axis"]  # four runs, one build


def test_template_rebuilds_for_lecture_mode_with_bigger_fonts():
    BUILDS.clear()
    st.cache_data.clear()
    at = AppTest.from_function(_app, default_timeout=30).run()
    small = json.loads(_charts(at)[0].spec)["config"]["axis"]["labelFontSize"]
    at.session_state["lecture"] = True
    at.run()
    big = json.loads(_charts(at)[0].spec)["config"]["axis"]["labelFontSize"]
    assert big > small
    assert BUILDS == ["x axis", "x axis"]  # one build per mode
    at.session_state["lecture"] = False
    at.run()
    assert BUILDS == ["x axis", "x axis"]  # the first build, from the cache


WORK: list[int] = []  # keys computed by the heavy-work test


def _heavy_app() -> None:
    import streamlit as st

    from tests.test_ui_helpers import WORK
    from ui import page

    def work(report, k):
        for i in range(5):
            report((i + 1) / 5)
        WORK.append(k)
        return k * k

    k = st.slider("k", 1, 9, 1, key="k")
    st.markdown(
        str(
            page.with_progress(
                "test_squares", k, lambda report: work(report, k), text="working", max_entries=2
            )
        )
    )
    st.markdown(str(page.has_result("test_squares", 1)))


def test_with_progress_computes_once_per_key_and_keeps_the_newest():
    WORK.clear()
    at = AppTest.from_function(_heavy_app, default_timeout=30).run()
    for k in (2, 1, 3, 3):
        at.slider(key="k").set_value(k).run()
        assert not at.exception
        assert at.markdown[0].value == str(k * k)
    # 1 (first run) and 2 computed, 1 from the store, 3 computed, 3 from the store
    assert WORK == [1, 2, 3]
    assert at.markdown[1].value == "True"  # 1 was used after 2, so 2 went when 3 came
    at.slider(key="k").set_value(2).run()
    assert WORK == [1, 2, 3, 2]  # evicted, so computed again
    assert not at.get("progress"), "the bar is gone once the work is done"


def _scrubber_app() -> None:
    import streamlit as st

    from ui import widgets

    hi = st.number_input("hi", 1, 10, 5, key="hi", bind="query-params")  # stands for the length of a run

    @st.fragment
    def scrubber() -> None:  # as on the pages: scrubbing reruns only the figure
        widgets.keep_within("k", hi)
        # Not bound to the URL here: AppTest sends the query string of the first run, a browser
        # the current one, and a valid URL value seeds a new widget (tests/pages fuzz the bound one).
        st.slider("k", 0, hi, min(hi, 3), key="k")

    scrubber()


def test_keep_within_keeps_the_readers_choice_when_the_maximum_moves():
    """A slider's identity includes its maximum. One change per rerun, as in a browser, and then the
    fuzz's gridworld finding: k=0 chosen in the same rerun that moves the maximum from 5 to 3
    (Streamlit alone brings back the old k=4, above 3, and raises)."""
    at = AppTest.from_function(_scrubber_app, default_timeout=30).run()

    def step(key: str, value: int, expect_k: int) -> None:
        (at.slider if key == "k" else at.number_input)(key=key).set_value(value).run()
        assert not at.exception, at.exception
        assert at.slider(key="k").value == expect_k, (key, value)

    step("hi", 4, 3)
    step("k", 4, 4)
    for hi in (9, 5, 5):  # the maximum moves, k stays
        step("hi", hi, 4)
    step("hi", 3, 3)  # a value above a shrinking maximum is pulled down to it
    step("k", 1, 1)
    step("hi", 2, 1)  # ... and one below it stays where the reader put it
    step("hi", 8, 1)
    step("k", 6, 6)
    step("hi", 5, 5)
    # two changes in one rerun (AppTest can, a browser cannot): the reader's new k wins
    at.slider(key="k").set_value(0)
    at.number_input(key="hi").set_value(3).run()
    assert not at.exception, at.exception
    assert at.slider(key="k").value == 0
