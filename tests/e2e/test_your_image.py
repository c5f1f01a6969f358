"""The Your image page in a real browser: a stroke drawn on the canvas is read on its release (no button), and the
reconstruction and the terms follow every new stroke; the page in Chinese has no English left."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import idle, new_context, screenshot, settle

pytestmark = pytest.mark.e2e
CANVAS = ".st-key-draw canvas#canvas"
RECON = ".st-key-reconstruction img"
NEG_ELBO = ("() => { const m = [...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
            ".find(m => m.innerText.includes('ELBO (E1)')); return m ? m.innerText : ''; }")


def _stroke(page, path) -> None:
    box = page.locator(CANVAS).bounding_box()
    points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in path]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def _recon_src(page) -> str:
    return page.evaluate(f"() => (document.querySelector('{RECON}') || {{}}).src || ''")


def test_a_drawn_stroke_is_read_on_release_and_each_new_stroke_changes_the_reconstruction_and_terms(chromium, server):
    context = new_context(chromium, viewport={"width": 1400, "height": 3000})  # the metrics drawn, not deferred
    page = context.new_page()
    try:
        page.goto(f"{server.url}/your_image?model=mnist5k-z16&lang=en")
        settle(page)
        page.locator(CANVAS).wait_for()
        assert page.locator(RECON).count() == 0  # an empty canvas: a hint, nothing read
        _stroke(page, [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)])  # a 1
        page.wait_for_function(f"() => !!document.querySelector('{RECON}') && /\\d+\\.\\d\\d/.test(({NEG_ELBO})())")
        idle(page)
        first_src, first_elbo = _recon_src(page), page.evaluate(NEG_ELBO)
        _stroke(page, [(0.25, 0.2), (0.75, 0.2), (0.75, 0.25)])  # its top bar: now a 7
        page.wait_for_function(f"() => (document.querySelector('{RECON}') || {{}}).src !== {first_src!r}")
        page.wait_for_function(f"() => ({NEG_ELBO})() !== {first_elbo!r} && /\\d+\\.\\d\\d/.test(({NEG_ELBO})())")
        idle(page)
        assert re.search(r"\d+\.\d\d", page.evaluate(NEG_ELBO))
        assert "input=" not in page.url  # a drawing is never put in the link
        screenshot(page, "your-image-drawn")
    finally:
        context.close()


def test_the_link_opens_a_test_image_in_chinese(chromium, server):
    context = new_context(chromium)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/your_image?model=mnist5k-z2&input=test:17&lang=zh")
        settle(page)
        page.locator(RECON).first.wait_for()
        idle(page)
        assert page.locator('[data-testid="stMain"] h1').first.inner_text() == "你的图像"
        page.locator(".st-key-your_image_explore button").first.click()
        idle(page)
        link = page.locator('[data-testid="stMain"] [data-testid="stPageLink-NavLink"]', has_text="隐变量滑块")
        screenshot(page, "your-image-test-17-zh")
        link.click()
        page.locator('[data-testid="stMain"] h1', has_text="隐变量滑块").wait_for()
        assert "/your_image" not in page.url
    finally:
        context.close()
