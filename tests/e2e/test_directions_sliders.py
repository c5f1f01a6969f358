"""Latent sliders moving along a direction in headless Chromium (issue 27): the move-along control reruns only the
sliders' fragment, so "Make it the sliders' z" must move the z_<i> sliders themselves to z + t d there."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from tests.e2e.conftest import screenshot, settle
from tests.e2e.test_realtime_direction import independent_direction
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
Z_DIM = 16


def slider_values(page) -> np.ndarray:
    return np.array([float(page.locator(f'.st-key-z_{i} [data-testid="stSliderThumbValue"]').inner_text())
                     for i in range(Z_DIM)])


def test_make_it_the_sliders_z_moves_the_sliders_to_z_plus_t_d(page, server):
    page.goto(f"{server.url}/?model=mnist5k-z16&dir={quote('label:1>label:7')}&t=1")
    settle(page)
    page.locator(".st-key-sliders_move_apply button").wait_for(timeout=HANG_MS)
    z = slider_values(page)
    d = independent_direction()
    page.locator(".st-key-sliders_move_apply button").click()
    expected = np.clip(np.round((z + d) / 0.05) * 0.05, -4, 4)
    first = int(np.argmax(np.abs(expected - z)))  # the slider that moves most: wait for it to show its new value
    page.wait_for_function(
        "([i, v]) => { const t = document.querySelector(`.st-key-z_${i} [data-testid='stSliderThumbValue']`); "
        "return t && Math.abs(parseFloat(t.innerText) - v) < 1e-6; }", arg=[first, float(expected[first])],
        timeout=HANG_MS)
    settle(page)
    np.testing.assert_allclose(slider_values(page), expected, atol=1e-6)
    thumb = page.locator('.st-key-sliders_move_t [data-testid="stSliderThumbValue"]').inner_text()
    assert float(thumb) == 0.0  # t back to 0: the image shows the new z itself
    assert "z moved along 1 → 7 by t = 1" in page.locator(".st-key-decoded").inner_text()
    screenshot(page, "directions-sliders-applied")
