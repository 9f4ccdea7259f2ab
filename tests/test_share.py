"""Joining a lecture (ui/share.py, the lecture-mode QR button in ui/layout.py).

The URL of the current view must be the one a student can open: built from
the browser's address when the browser sent it, else from the headers a proxy
forwarded (the hall's HAProxy, Cloud), with the view's query string. The QR
code is checked as a PNG of the size segno's symbol for that URL implies; no
QR decoder is installed here, so the test compares with segno's own matrix.
"""

from __future__ import annotations

import io
import struct

import pytest
import segno

from tests.apptest_utils import open_page
from ui import share
from ui.i18n import LANGS, strings
from ui.registry import PAGES

PERCEPTRON = next(p for p in PAGES if p.key == "perceptron")


def test_localhost_browser_url_with_query():
    url = share.view_url(
        "http://localhost:8501/perceptron",
        {"Host": "localhost:8501"},
        "perceptron",
        [("n", "120"), ("w1", "2.0")],
    )
    assert url == "http://localhost:8501/perceptron?n=120&w1=2.0"
    assert share.is_local_only(url)


def test_browser_url_wins_over_headers():
    """Behind the hall, the browser's address is the public one; the worker's own Host is loopback."""
    url = share.view_url(
        "https://hall.example.edu/gridworld", {"Host": "127.0.0.1:40001"}, "gridworld", [("discount", "0.9")]
    )
    assert url == "https://hall.example.edu/gridworld?discount=0.9"
    assert not share.is_local_only(url)


def test_behind_a_proxy_without_browser_url():
    headers = {
        "host": "127.0.0.1:40001",
        "x-forwarded-host": "lecture.example.edu, 10.0.0.5",  # first hop is the client's side
        "x-forwarded-proto": "https",
        "x-forwarded-prefix": "/explorables/",
    }
    url = share.view_url(None, headers, "perceptron", [("lang", "zh")])
    assert url == "https://lecture.example.edu/explorables/perceptron?lang=zh"


def test_host_header_only_and_home_page():
    assert share.view_url(None, {"Host": "192.168.1.20:8501"}, "", []) == "http://192.168.1.20:8501/"
    assert not share.is_local_only("http://192.168.1.20:8501/")
    assert share.is_local_only("http://127.0.0.1:8501/")
    assert share.is_local_only("http://[::1]:8501/")


def test_cloud_inner_path_is_dropped():
    url = share.view_url("https://explorables.streamlit.app/~/+/perceptron", {}, "perceptron", [("b", "1.5")])
    assert url == "https://explorables.streamlit.app/perceptron?b=1.5"


def test_query_values_are_escaped_and_repeated_keys_kept():
    url = share.view_url(
        "http://h:1/p", {}, "p", [("lang", "简体中文"), ("acts", "ReLU"), ("acts", "tanh"), ("note", "a b&c")]
    )
    assert url == "http://h:1/p?lang=%E7%AE%80%E4%BD%93%E4%B8%AD%E6%96%87&acts=ReLU&acts=tanh&note=a%20b%26c"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_qr_png_matches_segno_symbol():
    url = "http://lecture.example.edu:8501/perceptron?n=120&w1=2.0&lecture=true"
    png = share.qr_png(url, scale=10)
    symbol = segno.make(url, error="m", micro=False)
    modules = symbol.symbol_size(scale=1, border=4)
    assert _png_size(png) == (modules[0] * 10, modules[1] * 10)
    # the same bytes as segno's own rendering of that URL: the picture encodes exactly this URL
    buf = io.BytesIO()
    symbol.save(buf, kind="png", scale=10, border=4)
    assert png == buf.getvalue()
    assert share.qr_png(url + "&b=1") != png


@pytest.mark.parametrize("lang", LANGS)
def test_lecture_mode_shows_qr_of_current_view(lang):
    at = open_page(PERCEPTRON, lang, {"lecture": "true", "n": "120"})
    assert not at.exception
    button = next(b for b in at.sidebar.button if b.key == "join_qr")
    assert button.label == strings(lang)["common.join_qr"]
    button.click()
    at.run()
    assert not at.exception
    codes = [c.value for c in at.code]
    # a default (English) is not in the URL, as Streamlit leaves it out of the address bar
    # and the app's short spellings (lang=zh, lecture=1), which it respells on load
    url = "http://localhost:8501/perceptron?" + ("lang=zh&" if lang == "zh" else "") + "lecture=1&n=120"
    assert codes == [url], "AppTest sends no browser URL or headers: the fallback names localhost"
    images = [el for el in _walk(at._tree) if getattr(el, "type", None) == "image"]
    assert len(images) == 1
    (img,) = images[0].proto.imgs
    assert img.alt == strings(lang)["common.join_qr_alt"].format(url=url)
    assert img.url.endswith(".png"), "a QR code is sent lossless"
    # localhost cannot be opened from a phone: the lecturer is told so, in the page's language
    assert [w.value for w in at.warning] == [strings(lang)["common.join_qr_local"]]


def test_no_qr_button_outside_lecture_mode():
    at = open_page(PERCEPTRON, "en")
    assert not [b for b in at.sidebar.button if b.key == "join_qr"]


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)
