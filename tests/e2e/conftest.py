"""Browser fixtures: a real `streamlit run explorer/app.py` server and Debian's headless Chromium.

Without Chromium the browser tests skip with the reason; with VAE_EXPLORER_REQUIRE_BROWSER=1
(set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchmarks.harness import CHROMIUM_ARGS, ROOT, Server, chromium_path

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


@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    page.screenshot(path=str(path), full_page=True)
    return path


def choose(page, key: str, option: str) -> None:
    """Pick an option of the selectbox with the given key."""
    page.locator(f".st-key-{key} [role='combobox']").click()
    page.get_by_role("option", name=option, exact=True).click()


def fill_number(page, key: str, value: str) -> None:
    """Type VALUE into the number input with the given key and leave it (Tab), as a person would."""
    box = page.locator(f".st-key-{key} input")
    box.fill(value)
    box.press("Tab")


def settle(page, timeout: int = 60_000) -> None:
    """Wait until the app has finished running (no status widget) and the page's title is there."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=timeout)


def open_z2_at_zero(page, server, timeout: int = 60_000) -> None:
    """Latent sliders on the 2-D demo, reset to z = 0 (a model starts at a crisp prior sample instead)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{server.url}/?lang=en")
    settle(page, timeout)
    # The 2-D model shows z_0 and z_1 and no z_2 (the default 16-D one has z_1 too). A pick was seen lost once
    # in ~10 runs under load (not diagnosed; noted in the closing note): pick again until it shows.
    two_dims = ("() => document.querySelector('.st-key-z_1 input[type=range]') "
                "&& !document.querySelector('.st-key-z_2')")
    for _ in range(3):
        page.locator(".st-key-model_picker [role='combobox']").click()
        page.get_by_role("option", name=re.compile(r"^mnist5k-z2 ")).click()
        try:
            page.wait_for_function(two_dims, timeout=timeout // 3)
            break
        except PlaywrightTimeout:
            settle(page, timeout)
    page.wait_for_function(two_dims, timeout=1_000)
    settle(page, timeout)
    # A press that meets a rerun of the page (the model switch's own, the link's) can be dropped with the
    # button it hit: press again until the sliders show z = 0 (CI once waited 60 s on a single press).
    at_zero = "() => +document.querySelector('.st-key-z_1 input[type=range]').value === 0"
    for _ in range(4):
        page.get_by_role("button", name="Reset to zero").click()
        try:
            page.wait_for_function(at_zero, timeout=timeout // 4)
            break
        except PlaywrightTimeout:
            settle(page, timeout)
    page.wait_for_function(at_zero, timeout=1_000)
    settle(page, timeout)
