"""Real-time sliders in headless Chromium: the browser decodes exactly, during the drag, and z comes back on release."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from tests.e2e.conftest import idle, next_frame, screenshot
from training.models.open import load_decoder
from explorer import DEMOS as BUNDLED_DEMOS
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)
DEMO = BUNDLED_DEMOS / "mnist5k-z16"
CANVAS = "() => latentPad.image()"
READY = "() => window.latentPad && latentPad.modelId && latentPad.frames > 0"


def open_scrub(page, server):
    """The Real-time sliders page with the component ready (components v2: no iframe, in the page itself)."""
    page.goto(f"{server.url}/scrub")
    page.wait_for_function(READY, timeout=TIMEOUT)
    idle(page)
    assert page.locator("iframe").count() == 0
    return page


def last_release(page) -> str:
    return page.locator(".st-key-scrub_value").inner_text()


def top_dims(frame) -> list[int]:
    return frame.evaluate("latentPad.dims")


def test_browser_decode_equals_numpy_and_torch(page, server):
    from training.models.open import load_run

    frame = open_scrub(page, server)
    decoder = load_decoder(DEMO)
    model = load_run(DEMO).model.eval()
    z = np.random.default_rng(0).normal(scale=1.5, size=(6, decoder.latent_dim)).astype(np.float32)
    z[0] = 0.0
    z[1] = 4.0
    got = np.array(frame.evaluate("zs => zs.map(z => Array.from(latentPad.decode(z)))", z.tolist()), np.float32)
    expected = decoder.decode_mean(z).reshape(len(z), -1)
    with torch.no_grad():
        expected_torch = model.decode_mean(torch.from_numpy(z)).numpy().reshape(len(z), -1)
    assert got.shape == expected.shape == (6, 784)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(got - expected_torch).max() < 1e-4
    assert got.min() >= 0 and got.max() <= 1


def test_dragging_a_slider_redraws_during_the_drag_and_sends_z_on_release(page, server):
    frame = open_scrub(page, server)
    dim = top_dims(frame)[0]  # the largest-KL dimension
    assert "none yet" in last_release(page)
    screenshot(page, "scrub")
    before, decodes0 = frame.evaluate(CANVAS), frame.evaluate("latentPad.decodes")
    start = frame.evaluate("latentPad.z")  # the landing point (explorer/state/latent_point.py)

    box = frame.locator(f"#z-{dim}").bounding_box()  # main-page coordinates
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2  # the middle of the track: 0
    page.mouse.move(x, y)
    page.mouse.down()
    seen = [before]
    for step in range(1, 9):
        count = frame.evaluate("latentPad.decodes")
        page.mouse.move(x + 5 * step, y)
        frame.wait_for_function("n => latentPad.decodes > n", arg=count, timeout=TIMEOUT)  # decoded, next frame
        next_frame(page)  # what is on the canvas now
        seen.append(frame.evaluate(CANVAS))
        # no server round trip while dragging: the Python side still has no value
        assert "none yet" in last_release(page)
    mid_z = frame.evaluate("latentPad.z")
    assert mid_z[dim] > 0
    assert len(set(seen)) >= 4, "the canvas should change several times during the drag"
    assert frame.evaluate("latentPad.decodes") > decodes0
    page.mouse.up()

    value = round(float(frame.locator(f"#z-{dim}").input_value()), 2)
    assert value > 0
    page.wait_for_function("() => !document.querySelector('.st-key-scrub_value').innerText.includes('none yet')",
                           timeout=TIMEOUT)
    caption = last_release(page)
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+", caption.split("z =")[1])]
    assert len(numbers) == 16 and numbers[dim] == pytest.approx(value)
    assert all(numbers[i] == pytest.approx(start[i], abs=1e-4) for i in range(16) if i != dim)  # only dim moved

    # the standard Latent sliders page (same session) shows the new value
    page.locator('[data-testid="stSidebarNav"] a', has_text="Latent sliders").click()
    slider = page.locator(f'.st-key-z_{dim} input[type="range"]')
    slider.wait_for(timeout=TIMEOUT)
    page.wait_for_function(f"v => +document.querySelector('.st-key-z_{dim} input[type=\"range\"]').value === v",
                           arg=value, timeout=TIMEOUT)
    assert float(slider.input_value()) == pytest.approx(value)


def test_dragging_the_pad_moves_its_two_dimensions(page, server):
    frame = open_scrub(page, server)
    pair = [int(frame.locator("#pad-x").input_value()), int(frame.locator("#pad-y").input_value())]
    assert pair == top_dims(frame)[:2]  # default: the two largest KL
    box = frame.locator("#pad").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = frame.evaluate(CANVAS)
    page.mouse.move(cx, cy)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(cx + 12 * step, cy - 8 * step)
    page.wait_for_function("old => latentPad.image() !== old", arg=before, timeout=TIMEOUT)  # redrawn while held
    z = frame.evaluate("latentPad.z")
    assert z[pair[0]] > 0 and z[pair[1]] > 0
    assert "none yet" in last_release(page)
    page.mouse.up()
    page.wait_for_function("() => !document.querySelector('.st-key-scrub_value').innerText.includes('none yet')",
                           timeout=TIMEOUT)
    assert "z = [" in last_release(page)


def test_weights_cross_the_websocket_once_and_again_after_a_remount(page, server):
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f) if f else 0)))
    frame = open_scrub(page, server)
    assert max(frames) > 1_000_000  # the first render carried the weights
    # the "has" handshake: Python has rendered the component without the weights, and that run is over
    page.wait_for_function("() => latentPad.lightRenders > 0", timeout=TIMEOUT)
    idle(page)
    frames.clear()
    box = frame.locator("#sliders input[type=range]").first
    box.focus()
    box.press("ArrowRight")  # keyboard moves fire input and change: a release
    page.wait_for_function("() => /z = \\[/.test(document.querySelector('.st-key-scrub_value').innerText)",
                           timeout=TIMEOUT)
    idle(page)  # the release's rerun is over: every frame it sent has arrived
    assert frames and max(frames) < 100_000, max(frames)  # a release no longer re-sends 1.7 MB
    # Leave and come back: the new instance lacks the weights, asks for them, and draws again.
    page.goto(f"{server.url}/samples")
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=TIMEOUT)
    frame = open_scrub(page, server)
    assert frame.evaluate("() => latentPad.frames") > 0


def slider_values(page) -> list[float]:
    return page.evaluate("() => [...Array(16).keys()].map(i => "
                         "+document.querySelector(`.st-key-z_${i} input[type=range]`).value)")


def test_the_latent_point_is_shared_both_ways_between_the_slider_pages(page, server):
    """Drag on Real-time sliders, release, open Latent sliders: every slider shows that z; moving one
    there changes that dimension only, and Real-time sliders then starts from it."""
    frame = open_scrub(page, server)
    first, second = top_dims(frame)[:2]
    for dim, moves in ((first, 6), (second, -4)):
        box = frame.locator(f"#z-{dim}").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        shown = last_release(page)
        page.mouse.move(x + 5 * moves, y, steps=4)
        page.mouse.up()
        page.wait_for_function("old => document.querySelector('.st-key-scrub_value').innerText !== old", arg=shown,
                               timeout=TIMEOUT)  # Python has this release
        idle(page)
    page.wait_for_function("() => !document.querySelector('.st-key-scrub_value').innerText.includes('none yet')",
                           timeout=TIMEOUT)
    released = np.array(frame.evaluate("latentPad.z"), dtype=np.float64)
    assert released[first] > 0 and released[second] < 0

    page.locator('[data-testid="stSidebarNav"] a', has_text="Latent sliders").click()
    page.locator('.st-key-z_15 input[type="range"]').wait_for(timeout=TIMEOUT)
    idle(page)
    np.testing.assert_allclose(slider_values(page), released, atol=1e-6)

    other = next(i for i in range(16) if i not in (first, second))
    image = page.locator(".st-key-decoded img").first.get_attribute("src")
    page.locator(f'.st-key-z_{other} input[type="range"]').focus()
    page.keyboard.press("ArrowRight")
    expected = released.copy()
    expected[other] += 0.05
    page.wait_for_function("old => { const i = document.querySelector('.st-key-decoded img'); "
                           "return i && i.src && !i.src.endsWith(old); }", arg=image.split("/")[-1],
                           timeout=TIMEOUT)  # the server decoded the new point
    np.testing.assert_allclose(slider_values(page), expected, atol=1e-6)

    # and back, in the same session: the real-time page starts from the point set there
    page.locator('[data-testid="stSidebarNav"] a', has_text="Real-time sliders").click()
    page.wait_for_function(READY, timeout=TIMEOUT)
    np.testing.assert_allclose(page.evaluate("latentPad.z"), expected, atol=1e-6)


def test_a_conv_decoder_runs_in_the_browser_exactly(page, server):
    """The transposed convolutions decoded in JavaScript equal numpy and PyTorch to 1e-4; a drag redraws."""
    from training.core.config import RunConfig
    from training.runs.checkpoint import write_views
    from training.vae.model import VAE

    run_dir = server.runs_root / "e2e-conv-pad"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = RunConfig(model={"arch": "conv", "hidden": (32, 64), "latent_dim": 16}, train={"dataset": "mnist5k"})
    torch.manual_seed(0)
    model = VAE(config.model).eval()
    write_views(run_dir, config, model, 0, [])
    page.goto(f"{server.url}/scrub")
    page.locator(".st-key-model_picker [role='combobox']").click()
    page.get_by_role("option", name=re.compile(r"^e2e-conv-pad")).click()
    page.wait_for_function("() => window.latentPad && latentPad.modelId && latentPad.modelId.includes('e2e-conv-pad')"
                           " && latentPad.frames > 0", timeout=TIMEOUT)
    z = np.random.default_rng(2).normal(scale=1.5, size=(5, 16)).astype(np.float32)
    got = np.array(page.evaluate("zs => zs.map(z => Array.from(latentPad.decode(z)))", z.tolist()), np.float32)
    with torch.no_grad():
        expected_torch = model.decode_mean(torch.from_numpy(z)).numpy().reshape(len(z), -1)
    expected = load_decoder(run_dir).decode_mean(z).reshape(len(z), -1)
    assert got.shape == (5, 784)
    assert np.abs(got - expected_torch).max() < 1e-4
    assert np.abs(got - expected).max() < 1e-4

    dim = top_dims(page)[0]
    before = page.evaluate(CANVAS)
    box = page.locator(f"#z-{dim}").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=4)
    page.wait_for_function("old => latentPad.image() !== old", arg=before, timeout=TIMEOUT)  # redrawn while held
    page.mouse.up()
    page.wait_for_function("() => /z = \\[/.test(document.querySelector('.st-key-scrub_value').innerText)",
                           timeout=TIMEOUT)
    screenshot(page, "scrub-conv")
