"""The "Try this" presets that issue 22 corrected, pressed in a real browser, English and Chinese.

Each visit presses one preset's button, waits for the page to settle, checks that no error
box is shown and that the preset's watch sentence is on screen, and saves a full-page
screenshot under artifacts/screenshots/presets/ to read the sentence beside its figure.
"""

from __future__ import annotations

import pytest

from tests.apptest_utils import ALL_PAGES
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_screenshots import page_url, wait_until_idle
from tests.claims.helpers import preset_names
from ui.i18n import strings

# (page, preset): the ten corrected claims and the seed-fragile ones (issue 22)
CHANGED = [
    ("activations", "small_init"),
    ("monte_carlo", "greedy_blind"),
    ("receptive_field", "exceeds_image"),
    ("online_action", "onset"),
    ("online_action", "clean"),
    ("online_action", "short"),
    ("diffusion", "guidance"),
    ("diffusion", "eta"),
    ("grpo", "length_tax"),
    ("discrete_metric", "rare"),
    ("perceptron", "thin_margin"),
    ("gridworld", "truncated"),
]
PAGES = {s.key: s for s in ALL_PAGES}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("key", "preset"), [pytest.param(k, p, id=f"{k}-{p}") for k, p in CHANGED])
def test_preset_in_browser(browser, server, key, preset, lang):
    spec = PAGES.get(key)
    if spec is None:
        pytest.skip(f"{key} is not registered")
    base, _ = server
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{page_url(base, spec)}?lang={lang}")
        wait_until_idle(page)
        if preset not in preset_names(spec.file):  # read from the page's source, not from a page still loading
            pytest.skip(f"{key} has no preset {preset!r} now")
        button = page.locator(f".st-key-try_{key}_{preset} button")
        button.wait_for(state="visible", timeout=60_000)
        button.click()
        wait_until_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0, "an exception box is shown"
        watch = page.locator("[data-testid=stAlertContentInfo]").last.inner_text()
        start = strings(lang)[f"{key}.try.{preset}_watch"].split("{")[0].replace("**", "")[:12].strip()
        assert start and start in watch, f"watch sentence not shown: {watch[:120]!r}"
        out = SCREENSHOTS / "presets"
        out.mkdir(parents=True, exist_ok=True)
        full = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        page.set_viewport_size({"width": 1440, "height": max(900, int(full) + 120)})
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / f"{key}-{preset}-{lang}.png"), full_page=True)
    finally:
        context.close()
