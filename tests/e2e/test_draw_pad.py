"""The draw_pad canvas in a real browser (a tiny harness app, tests/e2e/draw_pad_app.py): strokes drawn with a mouse,
a finger and a pen reach Python on release as a PNG with ink; Undo, Clear and a clear from Python; the drawing
survives a remount of the component."""

from __future__ import annotations

import base64
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from benchmarks.harness import ROOT, Server
from tests.e2e.conftest import SCREENSHOTS, new_context, require_browser, settle

APP = ROOT / "tests" / "e2e" / "draw_pad_app.py"
pytestmark = pytest.mark.e2e
CANVAS = ".st-key-draw canvas"
SHOWN = "() => (document.querySelector('.st-key-drawn') || {}).innerText || ''"


@pytest.fixture(scope="module")
def pad_server(tmp_path_factory):
    require_browser()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)  # `streamlit run` adds only tests/e2e
    server = Server(APP, tmp_path_factory.mktemp("runs"), env={"PYTHONPATH": path})
    yield server
    server.stop()


def _open(browser, server, **options):
    context = new_context(browser, **options)
    page = context.new_page()
    page.goto(f"{server.url}/?lang=en")
    settle(page)
    page.locator(CANVAS).wait_for()
    page.wait_for_function("() => window.drawPad && drawPad.side > 0")
    return context, page


def _shows(page, pattern: str) -> str:
    """Until the harness's text matches PATTERN (a regular expression); that text."""
    page.wait_for_function(f"() => /{pattern}/.test(({SHOWN})())")
    return page.evaluate(SHOWN)


def _ink(text: str) -> float:
    return float(re.search(r"ink=([0-9.]+)", text).group(1))


def _points(page, path):
    """PATH (fractions of the canvas) in page coordinates."""
    box = page.locator(CANVAS).bounding_box()
    return [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in path]


def _mouse_stroke(page, path):
    points = _points(page, path)
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()


def _grey(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("L"), dtype=np.float64) / 255.0


LINE = [(0.2, 0.5), (0.4, 0.5), (0.6, 0.5), (0.8, 0.5)]
DOWN = [(0.5, 0.15), (0.5, 0.4), (0.5, 0.6), (0.5, 0.85)]


def test_a_mouse_draws_strokes_that_reach_python_and_undo_clear_and_a_remount(chromium, pad_server):
    context, page = _open(chromium, pad_server)
    try:
        assert _shows(page, "empty")
        assert page.get_by_role("button", name="Undo").is_disabled()

        _mouse_stroke(page, LINE)
        one = _shows(page, "strokes=1 ")
        assert "size=112x112" in one
        # a horizontal line of 0.6 of the side, 1/14 of the side thick, round caps: its share of the PNG
        assert 0.6 / 14 * 0.7 < _ink(one) < 0.6 / 14 * 1.6, one
        png = _grey(page.evaluate("drawPad.png"))
        thickness = (png[:, 56] < 0.5).sum()  # ink rows across the line's middle
        assert abs(thickness - 112 / 14) <= 2, thickness
        assert page.get_by_role("button", name="Undo").is_enabled()

        _mouse_stroke(page, DOWN)
        two = _shows(page, "strokes=2 ")
        assert _ink(two) > _ink(one)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "draw_pad.png"), full_page=True)

        page.get_by_role("button", name="Undo").click()
        assert _ink(_shows(page, "strokes=1 ")) == pytest.approx(_ink(one), abs=1e-3)

        # a remount (the component leaves the page and comes back) redraws the kept stroke
        page.get_by_text("Hide the canvas").click()
        _shows(page, "hidden")
        page.get_by_text("Hide the canvas").click()
        page.wait_for_function("() => window.drawPad && drawPad.strokes.length === 1")
        assert _shows(page, "strokes=1 ")
        assert 1 - _grey(page.evaluate("drawPad.image()")).mean() > 0.02  # the canvas shows it again

        page.get_by_role("button", name="Clear", exact=True).click()
        _shows(page, "empty")
        assert page.evaluate("drawPad.strokes.length") == 0

        _mouse_stroke(page, DOWN)
        _shows(page, "strokes=1 ")
        page.get_by_role("button", name="Clear from Python").click()
        _shows(page, "empty")
        page.wait_for_function("() => drawPad.strokes.length === 0")  # the canvas emptied itself
        assert 1 - _grey(page.evaluate("drawPad.image()")).mean() < 1e-3
    finally:
        context.close()


def test_a_finger_and_a_pen_draw_too_on_a_high_dpi_screen(chromium, pad_server):
    context, page = _open(chromium, pad_server, has_touch=True, device_scale_factor=2)
    try:
        assert page.evaluate("drawPad.side") == 2 * round(page.locator(CANVAS).bounding_box()["width"] - 2)  # crisp
        cdp = context.new_cdp_session(page)
        points = _points(page, LINE)
        x, y = points[0]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        finger = _shows(page, "strokes=1 ")
        assert _ink(finger) > 0.6 / 14 * 0.7, finger  # a line, not a dot: the finger drew rather than scrolled
        assert page.evaluate("window.scrollY") == 0

        for i, (x, y) in enumerate(_points(page, DOWN)):
            kind = "mousePressed" if i == 0 else "mouseMoved"
            cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1,
                                                  "clickCount": 1, "pointerType": "pen"})
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x, "y": y, "button": "left",
                                              "clickCount": 1, "pointerType": "pen"})
        assert _ink(_shows(page, "strokes=2 ")) > _ink(finger)
    finally:
        context.close()
