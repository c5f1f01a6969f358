"""Real-time sliders moving along a direction (issue 27) in headless Chromium: the browser decodes z + t d while t
moves, pixel for pixel what numpy decodes, with no server round trip; on release t comes back to the server."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from explorer import DEMOS as BUNDLED_DEMOS
from tests.e2e.conftest import idle, next_frame, screenshot
from tests.waiting import HANG_MS
from training.models.open import load_decoder

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)
DEMO = BUNDLED_DEMOS / "mnist5k-z16"
READY = "() => window.latentPad && latentPad.modelId && latentPad.frames > 0 && latentPad.along"
# the canvas as the visitor sees it, one value per image pixel (the middle of each scaled cell; grey: red = green)
CANVAS_PIXELS = """c => {
  const [w, h] = [28, 28], s = c.width / w, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const out = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(d[4 * ((y * s + (s >> 1)) * c.width + x * s + (s >> 1))]);
  return out;
}"""


def independent_direction() -> np.ndarray:
    """mean mu(test sevens) - mean mu(test ones), computed here from the model and the data set."""
    from training.analysis import latent
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(DEMO)
    data = load_dataset("mnist5k")
    mu = np.asarray(latent.encode_dataset(run.model, test_images(run.config, data)), np.float64)
    y = np.asarray(data.y_test)[:len(mu)]
    return mu[y == 7].mean(axis=0) - mu[y == 1].mean(axis=0)


def link_t(page) -> str | None:
    return page.evaluate("() => new URLSearchParams(location.search).get('t')")


def test_moving_along_a_direction_decodes_z_plus_t_d_in_the_browser_and_sends_t_on_release(page, server):
    page.goto(f"{server.url}/scrub?model=mnist5k-z16&dir={quote('label:1>label:7')}&t=0")
    page.wait_for_function(READY, timeout=TIMEOUT)
    idle(page)
    along = page.evaluate("latentPad.along")
    assert along["name"] == "1 → 7" and along["t"] == 0
    d = independent_direction()
    np.testing.assert_allclose(along["vector"], d, atol=1e-4)  # the page's direction is mean mu(7) - mean mu(1)
    slider = page.locator("#along-t")
    assert slider.get_attribute("aria-label") == "Move along 1 → 7"
    assert (slider.get_attribute("min"), slider.get_attribute("max"), slider.get_attribute("step")) == ("-2", "2",
                                                                                                         "0.05")
    before = page.locator(".st-key-scrub_value").inner_text()
    assert "none yet" in before

    decoder = load_decoder(DEMO)
    z = np.asarray(page.evaluate("latentPad.z"), np.float32)
    canvas = page.locator("#decoded-canvas")
    for t in (1.5, -2.0, 0.75):  # moved as a drag moves it: input events only, no release
        frames = page.evaluate("latentPad.frames")
        slider.evaluate("(el, t) => { el.value = String(t); el.dispatchEvent(new Event('input', {bubbles: true})); }",
                        t)
        page.wait_for_function("n => latentPad.frames > n", arg=frames, timeout=TIMEOUT)  # a frame drawn since
        next_frame(page)
        assert page.evaluate("latentPad.t") == pytest.approx(t)
        shown = np.asarray(page.evaluate("latentPad.shown"), np.float32)
        np.testing.assert_allclose(shown, z + np.float32(t) * d, atol=1e-4)  # z_shown = z + t d
        got = np.asarray(canvas.evaluate(CANVAS_PIXELS), np.float64) / 255
        expected = decoder.decode_mean((z + np.float32(t) * d.astype(np.float32))[None]).reshape(-1)
        assert np.abs(got - expected).max() < 2 / 255, np.abs(got - expected).max()
        assert f"t = {t:.2f}" in page.locator("#along-readout").inner_text()
        assert page.locator(".st-key-scrub_value").inner_text() == before  # no round trip while moving
        assert link_t(page) is None
    screenshot(page, "scrub-direction")
    np.testing.assert_allclose(page.evaluate("latentPad.z"), z, atol=1e-6)  # t moves z_shown, not the sliders

    # a latent slider moved while t = 0.75: still z + t d that is decoded
    dim = page.evaluate("latentPad.dims")[0]
    frames = page.evaluate("latentPad.frames")
    page.locator(f"#z-{dim}").evaluate("el => { el.value = '-1.5'; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("n => latentPad.frames > n", arg=frames, timeout=TIMEOUT)
    z[dim] = -1.5
    np.testing.assert_allclose(page.evaluate("latentPad.shown"), z + np.float32(0.75) * d, atol=1e-4)
    got = np.asarray(canvas.evaluate(CANVAS_PIXELS), np.float64) / 255
    expected = decoder.decode_mean((z + np.float32(0.75) * d.astype(np.float32))[None]).reshape(-1)
    assert np.abs(got - expected).max() < 2 / 255

    slider.focus()
    slider.press("ArrowRight")  # a keyboard step fires input and change: the release
    page.wait_for_function("() => new URLSearchParams(location.search).get('t') === '0.8'", timeout=TIMEOUT)
    idle(page)
    assert "z = [" in page.locator(".st-key-scrub_value").inner_text()  # z (the sliders', without t d) came back
    assert page.evaluate("latentPad.t") == pytest.approx(0.8)

    # the session keeps t: another page and back, and the control starts where it was let go
    page.locator('[data-testid="stSidebarNav"] a', has_text="Samples").click()
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=TIMEOUT)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Real-time sliders").click()
    page.wait_for_function(READY, timeout=TIMEOUT)
    assert page.evaluate("latentPad.t") == pytest.approx(0.8)
    np.testing.assert_allclose(page.evaluate("latentPad.z"), z, atol=1e-6)
