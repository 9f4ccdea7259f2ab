"""Every registered page in a real browser: English, Chinese and lecture mode.

Asserts no error element and, in lecture mode at 1280x720, that the main
figure is in view without scrolling; saves a full-page screenshot of each
under artifacts/screenshots/ to look at.
"""

from __future__ import annotations

import pytest

from tests.apptest_utils import ALL_PAGES
from tests.browser import axe
from tests.browser.conftest import ROOT, SCREENSHOTS

ARTIFACTS = ROOT / "artifacts"

VIEWS = {  # name -> (query string, viewport)
    "en": ("lang=en", (1440, 900)),
    "zh": ("lang=zh", (1440, 900)),
    "lecture": ("lang=en&lecture=1", (1280, 720)),
    "lecture-zh": ("lang=zh&lecture=1", (1280, 720)),
}
DONE = "[data-testid=stApp][data-test-script-state=notRunning]"
AXE_VIEWS = ("en", "zh", "lecture")  # axe-core runs on these visits too (issue 20)


def page_url(base: str, spec) -> str:
    return base + ("/" if spec.key == "home" else f"/{spec.url_path}")


def wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    # Short spellings (?lang=zh, ?lecture=1) are rewritten by a reload of the page
    # (ui.layout); under load the first run can look finished before that reload.
    page.wait_for_function(
        """() => { const q = new URLSearchParams(location.search);
                   return !['en', 'zh'].includes(q.get('lang')) && q.get('lecture') !== '1'; }""",
        timeout=timeout_ms,
    )
    page.wait_for_selector("h1", timeout=timeout_ms)
    page.wait_for_selector(DONE, timeout=timeout_ms)
    # every chart has drawn its canvas / svg (under load they paint late)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]
                 .every(el => el.querySelector('canvas, svg'))""",
        timeout=timeout_ms,
    )
    # ... and no element is still a grey loading placeholder (seen in viewport shots under load)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stSkeleton], [data-testid=stAppSkeleton]')",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(300)
    page.wait_for_selector(DONE, timeout=timeout_ms)


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("spec", [pytest.param(s, id=s.key) for s in ALL_PAGES])
def test_page_in_browser(browser, server, spec, view, subtests, request):
    base, _ = server
    query, (width, height) = VIEWS[view]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(f"{page_url(base, spec)}?{query}")
        wait_until_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0, "an exception box is shown"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if view.startswith("lecture"):  # what a 1280x720 projector shows, before any scrolling
            page.screenshot(path=str(SCREENSHOTS / f"{spec.key}-{view}-viewport.png"))
        # Streamlit scrolls inside its main section, so grow the viewport to the content for a full page.
        full = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        page.set_viewport_size({"width": width, "height": max(height, int(full) + 120)})
        page.wait_for_timeout(400)
        page.screenshot(path=str(SCREENSHOTS / f"{spec.key}-{view}.png"), full_page=True)
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        if view.startswith("lecture") and spec.key != "home":
            chart = page.locator("[data-testid=stVegaLiteChart], [data-testid=stImage]").first
            box = chart.bounding_box()
            assert box is not None, "the main figure is rendered"
            assert box["y"] + box["height"] <= height + 1, (
                f"main figure ends at {box['y'] + box['height']:.0f} px"
            )
        if view in AXE_VIEWS:  # the same visit, checked by axe-core at 1280x900 (a subtest of its own)
            with subtests.test(msg="axe"):
                page.set_viewport_size(axe.VIEWPORT)
                page.wait_for_timeout(300)
                page.wait_for_selector(DONE)
                report = axe.run(page, spec.key, view)
                request.node.user_properties.append(("axe", report.counts()))
                report.save(ARTIFACTS / "axe" / f"{spec.key}-{view}.json")
                assert not report.blocking and not report.stale, report.explain()
    finally:
        context.close()


def test_language_survives_navigation(browser, server):
    """Opening a topic from the home page keeps the chosen language."""
    base, _ = server
    from tests.apptest_utils import PAGES

    if not PAGES:
        pytest.skip("no topic registered")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base}/?lang=zh")
        wait_until_idle(page)
        page.locator("[data-testid=stPageLink] a").first.click()
        wait_until_idle(page)
        h1 = page.locator("h1").first.inner_text()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in h1), f"title after navigation: {h1!r}"
    finally:
        context.close()


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.key) for s in ALL_PAGES if s.key != "home"])
def test_csv_download_in_browser(browser, server, spec):
    """The CSV button delivers a table (written only on the click, so it is checked where it runs)."""
    import io

    import pandas as pd

    base, _ = server
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{page_url(base, spec)}?lang=en")
        wait_until_idle(page)
        with page.expect_download(timeout=60_000) as info:
            page.locator("[data-testid=stDownloadButton] button").first.click()
        path = info.value.path()
        table = pd.read_csv(io.BytesIO(open(path, "rb").read()))
        assert info.value.suggested_filename.endswith(".csv")
        assert len(table.columns) >= 2 and len(table) >= 1, f"CSV of {spec.key}: {table.shape}"
        if spec.key == "perceptron":  # the default view: 60 points, each with its label and the unit's output
            assert list(table.columns) == ["x1", "x2", "label", "unit_output"] and len(table) == 60
    finally:
        context.close()


def test_run_trains_a_shared_links_setting_in_browser(browser, server):
    """A link to a setting no server shipped or trained: the page asks for Run, and Run alone trains it."""
    base, _ = server
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base}/online_action?lang=en&hist=12&dec=2&noise=2.4")
        wait_until_idle(page)
        assert "press Run" in page.locator("[data-testid=stAlert]").first.inner_text()
        page.get_by_role("button", name="Run (train)").click()
        page.wait_for_selector("text=Trained just now", timeout=90_000)
        wait_until_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0, "an exception box is shown"
        assert "hist=12" in page.url and "noise=2.4" in page.url  # the link still says what is shown
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        full = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        page.set_viewport_size({"width": 1440, "height": max(900, int(full) + 120)})
        page.wait_for_timeout(400)
        page.screenshot(path=str(SCREENSHOTS / "online_action-trained.png"), full_page=True)
    finally:
        context.close()
