"""End-to-end in headless Chromium: what a person sees and does in the explorer."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e
PAGES = ["", "latent_map", "balance", "interpolate", "samples", "train", "models", "theory"]
TIMEOUT = 30_000


def wait_for_app(page) -> None:
    """Until the script run has finished (no running indicator) and no skeleton is left."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT)


def decoded_src(page) -> str:
    img = page.locator(".st-key-decoded img").first
    img.wait_for(timeout=TIMEOUT)
    return img.get_attribute("src")


def wait_for_new_image(page, old: str) -> str:
    page.wait_for_function(
        "old => { const i = document.querySelector('.st-key-decoded img'); return i && i.src && !i.src.endsWith(old); }",
        arg=old.split("/")[-1], timeout=TIMEOUT)
    return decoded_src(page)


def test_opens_on_the_bundled_model_with_a_decoded_image(page, server):
    page.goto(server.url)
    src = decoded_src(page)
    assert src
    box = page.locator(".st-key-decoded img").first.bounding_box()
    assert box["width"] >= 200  # shown large
    assert page.locator(".st-key-z_0").count() == 1
    screenshot(page, "sliders")


def test_keyboard_moves_a_slider_and_changes_the_image(page, server):
    page.goto(server.url)
    before = decoded_src(page)
    slider = page.locator('.st-key-z_0 input[type="range"]')
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    after = wait_for_new_image(page, before)
    assert after != before
    assert float(slider.input_value()) > 0


def test_mouse_drag_moves_a_slider_and_changes_the_image(page, server):
    page.goto(server.url)
    before = decoded_src(page)
    thumb = page.locator('.st-key-z_1 [data-testid="stSliderThumbValue"]').locator("..")
    box = thumb.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 80, y, steps=8)
    page.mouse.up()
    after = wait_for_new_image(page, before)
    assert after != before
    assert float(page.locator('.st-key-z_1 input[type="range"]').input_value()) < 0


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_without_an_exception_box(page, server, path):
    page.goto(f"{server.url}/{path}")
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=TIMEOUT)
    wait_for_app(page)
    page.wait_for_timeout(1000)  # let fragments and charts finish drawing
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stMain"] h1').first.inner_text().strip()
    screenshot(page, f"page-{path or 'sliders'}")
