"""Browser fixtures: a real `streamlit run explorer/app.py` server and Debian's headless Chromium.

Without Chromium the browser tests skip with the reason; with VAE_EXPLORER_REQUIRE_BROWSER=1
(set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from benchmarks.harness import CHROMIUM_ARGS, ROOT, Server, chromium_path
from tests.waiting import HANG_MS

SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def require_browser() -> str:
    path = chromium_path()
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        reason = "Chromium (apt-get install -y chromium) or the playwright package is missing"
        if os.environ.get("VAE_EXPLORER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def chromium():
    path = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    require_browser()
    server = Server(ROOT / "explorer" / "app.py", tmp_path_factory.mktemp("runs"))
    yield server
    server.stop()


def new_context(browser, **options):
    """A browser context (a visitor) whose every wait is for an event: Playwright's default ceiling becomes the
    hang guard of tests/waiting.py, so no wait below gives the page a budget of seconds."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 1000}, **options})
    context.set_default_timeout(HANG_MS)
    context.set_default_navigation_timeout(HANG_MS)
    return context


@pytest.fixture
def page(chromium, server):
    context = new_context(chromium)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


_SERIAL = itertools.count(1)


def fresh_name(base: str) -> str:
    """A run name no earlier test of this session used: the session's server and runs folder are shared, and
    `make test-repeat` runs each test several times over them."""
    return f"{base}-{os.getpid()}-{next(_SERIAL)}"


def choose(page, key: str, option: str) -> None:
    """Pick an option of the selectbox with the given key."""
    page.locator(f".st-key-{key} [role='combobox']").click()
    page.get_by_role("option", name=option, exact=True).click()


def fill_number(page, key: str, value: str) -> None:
    """Type VALUE into the number input with the given key and leave it (Tab), as a person would."""
    box = page.locator(f".st-key-{key} input")
    box.fill(value)
    box.press("Tab")


IDLE = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return !!app && app.dataset.testScriptState === 'notRunning'"
        " && app.dataset.testConnectionState === 'CONNECTED'"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]'); }")


def idle(page) -> None:
    """Until Streamlit says its script run is over ("notRunning", connected): the event Streamlit's own browser
    tests wait for, never an amount of time."""
    page.wait_for_function(IDLE)


def settle(page) -> None:
    """Wait until the app has finished running and the page's title is there."""
    idle(page)
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    idle(page)


def next_frame(page_or_frame) -> None:
    """Until the browser has drawn two more animation frames (what a person would see next)."""
    page_or_frame.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def uploaded(page, key: str, name: str) -> None:
    """Until the file uploader KEY lists NAME as uploaded and the rerun it caused is over.

    While a file uploads its chip offers "Cancel upload of NAME"; once it is on the server, "Remove NAME".
    """
    page.locator(f".st-key-{key} [data-testid='stFileChip'] button[aria-label='Remove {name}']").first.wait_for()
    idle(page)


def open_z2_at_zero(page, server) -> None:
    """Latent sliders on the 2-D demo, reset to z = 0 (a model starts at a crisp prior sample instead)."""
    page.goto(f"{server.url}/?lang=en&model=mnist5k-z2")  # the link picks the model: no click to lose
    settle(page)
    page.wait_for_function("() => document.querySelector('.st-key-z_1 input[type=range]') "
                           "&& !document.querySelector('.st-key-z_2')")  # the 2-D model: z_0, z_1 and no z_2
    at_zero = "() => +document.querySelector('.st-key-z_1 input[type=range]').value === 0"
    # A press that meets a rerun of the page can be dropped with the button it hit; after each press the run it
    # caused is over (an event), and the sliders show z = 0 or the press was lost and is made again.
    for _ in range(5):
        page.get_by_role("button", name="Reset to zero").click()
        idle(page)
        if page.evaluate(at_zero):
            break
    page.wait_for_function(at_zero)
    settle(page)


_COUNT_RUNS = """() => {
  if (window.__scriptRuns) return window.__scriptRuns.n;
  const app = document.querySelector('[data-testid="stApp"]');
  const runs = window.__scriptRuns = {n: 0, last: app.dataset.testScriptState};
  new MutationObserver(() => {
    const now = app.dataset.testScriptState;
    if (now === 'notRunning' && runs.last !== 'notRunning') runs.n++;  // a run (the page's or a fragment's) ended
    runs.last = now;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  return 0;
}"""


def after_reruns(page, n: int) -> None:
    """Until N more script runs (the page's or a fragment's, such as a card list refreshing itself) have ended:
    for checks that something survives the page's own refreshes, counted in refreshes, not in seconds."""
    start = page.evaluate(_COUNT_RUNS)
    page.wait_for_function("k => window.__scriptRuns.n >= k", arg=start + n)


def press(page, button, appears: str, tries: int = 3) -> None:
    """Click BUTTON (a locator) until the element of CSS selector APPEARS is on the page.

    A click that meets a fragment's own refresh (the Models cards redraw themselves every second while a
    training runs) is now and then dropped before any callback sees it: 1 press in 20 over 5 repeated runs of
    the suite. A person clicks again, and so does this, at most TRIES times; each try is waited for in script
    runs (three refreshes), not in seconds, and the last one with the hang guard alone."""
    for _ in range(tries - 1):
        start = page.evaluate(_COUNT_RUNS)
        button.click()
        page.wait_for_function("([k, sel]) => document.querySelector(sel) || window.__scriptRuns.n >= k",
                               arg=[start + 3, appears])
        if page.locator(appears).count():
            return
    button.click()
    page.locator(appears).first.wait_for()
