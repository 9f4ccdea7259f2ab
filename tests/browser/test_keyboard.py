"""Keyboard only (issue 20, WCAG 2.1 SC 2.1.1 keyboard, 2.4.7 focus visible).

A student who cannot use a mouse tabs from the top of the perceptron page to a
"Try this" button, presses Enter, and the preset is applied (its watch sentence
shown, its values in the controls and the URL); the lecture toggle is reached
and switched with Tab and Space. Every element that receives focus on the way
shows it: an outline or a box-shadow ring (computed style, not assumed).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.browser.test_screenshots import DONE, wait_until_idle

MAX_TABS = 250

# Is focus visible on the focused element, or on the visible control it stands for?
# (A slider's focus lands on its thumb; Streamlit's toggle focuses a hidden <input>
# and rings its track, the input's next sibling; a select box rings its container.)
_FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const ring = (e) => {
    if (!e) return false;
    const s = getComputedStyle(e);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow && s.boxShadow !== 'none';
    return outline || shadow;
  };
  const candidates = [el, el.nextElementSibling];
  for (let e = el.parentElement, i = 0; e && i < 4; e = e.parentElement, i++) candidates.push(e);
  return {
    tag: el.tagName, text: (el.innerText || el.getAttribute('aria-label') || '').slice(0, 60),
    key: (el.closest('[class*="st-key-"]') || {className: ''}).className.match(/st-key-[\\w-]+/)?.[0] || '',
    visible: candidates.some(ring),
  };
}"""


def _tab_until(page, predicate_js: str, unseen: list) -> int:
    """Press Tab until `predicate_js` holds for the focused element; collect focus stops without a ring."""
    for n in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        info = page.evaluate(_FOCUS_RING)
        if info is not None and not info["visible"]:
            unseen.append(info)
        if page.evaluate(predicate_js):
            return n
    raise AssertionError(f"not reached with {MAX_TABS} presses of Tab")


def test_try_this_by_keyboard(browser, server):
    base, _ = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base}/perceptron?lang=en")
        wait_until_idle(page)
        page.mouse.click(2, 2)  # start from the top of the document, nothing focused
        unseen: list = []
        tabs = _tab_until(page, "document.activeElement.closest('.st-key-try_perceptron_silence') !== null", unseen)
        assert page.evaluate("document.activeElement.tagName") == "BUTTON"
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=stAlert]", timeout=60_000)
        wait_until_idle(page)
        watch = page.locator("[data-testid=stAlert]").last.inner_text()
        assert "no point reaches the threshold" in watch, watch
        # the preset's values reached the controls and the link: b = -4, on through-origin data
        assert float(parse_qs(urlparse(page.url).query)["b"][0]) == -4.0, page.url
        assert "−4.0" in page.locator(".st-key-b").inner_text().replace("-", "−")  # the slider shows it
        assert not unseen, f"focus not visible on {unseen[:5]} (after {tabs} tabs)"

        # The lecture toggle, from the top of the page again, switched with Space.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.mouse.click(2, 2)
        _tab_until(page, "document.activeElement.closest('.st-key-lecture') !== null", unseen)
        page.keyboard.press("Space")
        page.wait_for_function("() => new URLSearchParams(location.search).get('lecture') === 'true'", timeout=60_000)
        page.wait_for_selector(DONE, timeout=60_000)
        assert not unseen, f"focus not visible on {unseen[:5]}"
    finally:
        context.close()
