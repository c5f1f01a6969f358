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
    page.goto(f"{server.url}/?lang=en")
    settle(page, timeout)
    page.locator(".st-key-model_picker [role='combobox']").click()
    page.get_by_role("option", name=re.compile(r"^mnist5k-z2 ")).click()
    page.locator(".st-key-z_1 input[type=range]").wait_for(timeout=timeout)
    settle(page, timeout)
    page.get_by_role("button", name="Reset to zero").click()
    page.wait_for_function("() => +document.querySelector('.st-key-z_1 input[type=range]').value === 0",
                           timeout=timeout)
    settle(page, timeout)
