"""Headless Chromium for the browser tests of the web tools (csViewer, csLabelTool).

The ``browser`` session fixture (tests/conftest.py) starts one Chromium for
the whole test session through Selenium and Debian's ``chromium`` and
``chromium-driver``; tests wrap it in a :class:`Page`::

    def test_something(browser, tmp_path):
        server = web.server.start_in_thread(make_router(root))
        page = Page(browser, web.server.url_of(server))
        page.wait("window.viewer && viewer.ready")
        assert page.pixel("#canvas", 100, 50)[:3] == (128, 64, 128)
        page.screenshot(tmp_path / "view.png")
        server.shutdown()

The tests are never skipped: when Chromium or its driver is missing the
fixture fails with the command that installs them.
"""
import os
import time

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = "install them with: apt-get install -y chromium chromium-driver (Debian/Ubuntu)"


def launch(width=1400, height=900):
    """A headless Chromium driven by Selenium; fails the test (never skips) when something is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        pytest.fail(f"browser tests need Chromium and ChromeDriver; missing {', '.join(missing)}; {INSTALL_HINT} "
                    "(or set CHROMIUM / CHROMEDRIVER to their paths)", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("browser tests need Selenium: pip install '.[test]'", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1",
                     "--hide-scrollbars", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(30)
    return driver


class Page:
    """A page of a web tool in the shared browser, with the helpers the tests need."""

    def __init__(self, driver, url):
        self.driver = driver
        driver.get(url)

    def js(self, script, *args):
        """Run ``script`` as a function body (``return ...``) with ``arguments``."""
        return self.driver.execute_script(script, *args)

    def wait(self, condition, timeout=20.0):
        """Wait until the JavaScript expression ``condition`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(f"return ({condition});")
            if value:
                return value
            if time.monotonic() > deadline:
                errors = self.js("return window.__errors || []")
                raise AssertionError(f"timed out after {timeout} s waiting for {condition}; page errors: {errors}")
            time.sleep(0.02)

    def pixel(self, selector, x, y):
        """The (r, g, b, a) of canvas ``selector`` at canvas pixel (x, y)."""
        return tuple(self.js("const context = document.querySelector(arguments[0]).getContext('2d');"
                             "return Array.from(context.getImageData(arguments[1], arguments[2], 1, 1).data);",
                             selector, x, y))

    def key(self, key):
        """Press a key on the page (``'ArrowRight'``, ``' '``, ``'+'``, ``'z'``)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        named = {"ArrowRight": Keys.ARROW_RIGHT, "ArrowLeft": Keys.ARROW_LEFT, "Escape": Keys.ESCAPE}
        ActionChains(self.driver).send_keys(named.get(key, key)).perform()

    def hover(self, selector, x, y):
        """Move the mouse to element-relative CSS pixel (x, y) of ``selector``."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        element = self.driver.find_element(By.CSS_SELECTOR, selector)
        rect = self.js("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", element)
        # Selenium offsets are from the element's centre
        ActionChains(self.driver).move_to_element_with_offset(element, int(x - rect[0] / 2),
                                                              int(y - rect[1] / 2)).perform()

    def click(self, selector):
        from selenium.webdriver.common.by import By
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def text(self, selector):
        return self.js("return document.querySelector(arguments[0]).textContent;", selector)

    def screenshot(self, path):
        """Save a PNG of the browser window."""
        self.driver.save_screenshot(os.fspath(path))
        return path


def controls_without_a_key(page):
    """The buttons, fields and dropdowns of the page whose tooltip names no key (``(key)`` at its end)."""
    return page.js("return Array.from(document.querySelectorAll('button, select, input'))"
                   ".filter(c => !/\\([^()]+\\)$/.test(c.title || '')).map(c => c.id || c.outerHTML)")


def focus_rings(page, count):
    """``(id or tooltip, outline style, outline width)`` of the next ``count`` controls reached with Tab (the page
    itself, reached when Tab wraps around, left out)."""
    from selenium.webdriver.common.keys import Keys
    rings = []
    for _ in range(3 * count):
        page.key(Keys.TAB)
        ring = page.js("const e = document.activeElement, s = getComputedStyle(e);"
                       "return e === document.body ? null : [e.id || e.title, s.outlineStyle, s.outlineWidth];")
        if ring:
            rings.append(tuple(ring))
        if len(rings) == count:
            break
    return rings
