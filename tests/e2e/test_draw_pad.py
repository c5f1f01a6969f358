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
CANVAS = ".st-key-draw canvas#canvas"  # the drawing (beside it, with a model, the live reconstruction)
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


SEVEN = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]
LIVE_LABEL = "Reconstruction while you draw (in your browser)"


def test_the_reconstruction_follows_the_pen_and_the_browser_prepares_and_encodes_as_python(chromium, pad_server):
    """With a model, live frames are drawn while the pen is down (before anything reaches Python), and the
    browser's x, mu and reconstruction for the drawing equal Python's prepare + encode + decode of the PNG it sent.

    Tolerances: the browser's preprocessing mirrors PIL's resampling step by step and reads the same 112x112
    pixels as the PNG, so x agrees to float rounding (1e-4 allows for a few float32 roundings; a different
    filter or a pixel of shift differs by 0.01 to 1; measured: 7e-9); JavaScript sums the dense layers in
    float64 and numpy in float32, so mu (of order 1, sums of 784 and 400 terms) agrees to about 1e-6 (measured
    2.4e-7): 1e-4 is allowed."""
    from training.data.image_file import read_image
    from training.data.preprocess import prepare
    from training.models.open import load_decoder, load_encoder

    demo = ROOT / "explorer" / "demos" / "mnist5k-z16"
    context = new_context(chromium)
    page = context.new_page()
    try:
        page.goto(f"{pad_server.url}/?lang=en&live=1")
        settle(page)
        page.wait_for_function("() => window.drawPad && drawPad.side > 0 && drawPad.liveModelId !== null")
        assert page.get_by_text(LIVE_LABEL).is_visible()
        assert page.evaluate("drawPad.liveFrames") == 0  # nothing drawn, nothing encoded

        points = _points(page, SEVEN)
        page.mouse.move(*points[0])
        page.mouse.down()
        for p in points[1:]:
            page.mouse.move(*p, steps=4)
        page.wait_for_function("() => drawPad.liveFrames >= 2 && drawPad.liveLast !== null")
        assert page.evaluate("drawPad.sent") == 0 and _shows(page, "empty")  # the pen is still down
        during = _grey(page.evaluate("drawPad.liveImage()"))
        assert during.std() > 0.1, during.std()  # a digit-like image, not a blank canvas
        page.mouse.up()
        _shows(page, "strokes=1 ")

        browser = page.evaluate("drawPad.preview()")
        png = base64.b64decode(page.evaluate("drawPad.png").split(",", 1)[1])
        x = prepare(read_image(png), "mnist5k", (1, 28, 28)).x
        np.testing.assert_allclose(np.array(browser["x"]).reshape(1, 28, 28), x, atol=1e-4)
        mu, logvar = load_encoder(demo).encode(x[None])
        np.testing.assert_allclose(browser["mu"], mu[0], atol=1e-4)
        np.testing.assert_allclose(browser["logvar"], logvar[0], atol=1e-4)
        recon = load_decoder(demo).decode_mean(mu)[0]
        np.testing.assert_allclose(np.array(browser["recon"]).reshape(1, 28, 28), recon, atol=1e-3)
        # the frame after release shows the drawing as sent
        page.wait_for_function("mu => drawPad.liveLast && drawPad.liveLast.mu.every((v, k) => Math.abs(v - mu[k]) < 1e-4)",
                               arg=[float(v) for v in mu[0]])
        assert 0 < page.evaluate("drawPad.lastNetMs") <= page.evaluate("drawPad.lastEncodeMs")

        # a remount gets the weights again (the new instance holds none) and follows the pen again
        page.get_by_text("Hide the canvas").click()
        _shows(page, "hidden")
        page.get_by_text("Hide the canvas").click()
        page.wait_for_function("() => window.drawPad && drawPad.liveModelId !== null && drawPad.liveFrames > 0")
        page.get_by_role("button", name="Clear", exact=True).click()
        _shows(page, "empty")
        page.wait_for_function("() => drawPad.liveLast === null")  # an empty canvas: no reconstruction
    finally:
        context.close()


def _drawn(seed: int) -> np.ndarray:
    """A 112x112 grey drawing in [0, 1] (1 = paper): 1 to 3 random strokes, or a short dash (its box is enlarged).
    Not a mirror-symmetric shape: its centre of mass could fall exactly on half a pixel, where float rounding
    (numpy's float32 sums, JavaScript's float64 ones) picks the whole-pixel shift (prepare.js says so)."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    image = Image.new("L", (112, 112), 255)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 4)):
        points = [tuple(rng.uniform(5, 107, 2)) for _ in range(rng.integers(2, 5))]
        draw.line(points, fill=0, width=8, joint="curve")
    if seed % 5 == 0:  # a short dash: smaller than the 20x20 box
        image = Image.new("L", (112, 112), 255)
        ImageDraw.Draw(image).line([(47, 50), (55, 50), (56, 55)], fill=0, width=6)
    grey = np.asarray(image, dtype=np.float32) / 255
    return 1 - grey if seed % 4 == 3 else grey  # sometimes light ink on dark (not inverted)


def test_the_browsers_preparation_is_pythons_for_every_style(chromium):
    """prepare.js on the same pixels equals training/data/preprocess.py's prepare, for each data set's style (PIL's
    resampling mirrored: box and bilinear, shrinking and enlarging), the inversion, the box, and a blank refusal."""
    from training.core.errors import UserError
    from training.data.preprocess import prepare, style_of

    styles = [("mnist5k", (1, 28, 28)), ("kmnist", (1, 20, 16)), ("digits", (1, 8, 8)),
              ("fashion-mnist", (1, 28, 28)), ("shapes", (1, 64, 64)), ("cifar10", (3, 32, 32)), (None, (1, 28, 28))]
    page = chromium.new_page()
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=(ROOT / "explorer" / "widgets" / "draw_pad" / "prepare.js").read_text()
                            + "\nwindow.prepareDrawing = prepareDrawing;")
        run = ("([v, style, shape]) => { const r = prepareDrawing({v: Float32Array.from(v), h: 112, w: 112}, style, "
               "shape); return r && {x: Array.from(r.x), inverted: r.inverted, box: r.box}; }")
        cases = [(seed, *styles[seed % len(styles)]) for seed in range(3 * len(styles))]
        cases.append((-1, "mnist5k", (1, 28, 28)))  # a blank drawing
        cases += [(-2, "mnist5k", (1, 28, 28)), (-2, "shapes", (1, 64, 64))]  # a stroke from edge to edge
        edge = np.ones((112, 112), np.float32)
        edge[:, 50:60], edge[:6, 31:68] = 0.0, 0.0  # a 1 from the top edge to the bottom, a bar on top (not symmetric)
        for seed, dataset, shape in cases:
            grey = np.ones((112, 112), np.float32) if seed == -1 else edge if seed == -2 else _drawn(seed)
            got = page.evaluate(run, [grey.ravel().tolist(), style_of(dataset), list(shape)])
            try:
                want = prepare(grey[:, :, None], dataset, shape)
            except UserError:
                assert got is None and seed == -1, seed  # only the blank drawing is refused
                continue
            assert got is not None, seed
            np.testing.assert_allclose(np.array(got["x"]).reshape(shape), want.x, atol=1e-5, err_msg=str(seed))
            assert got["inverted"] == want.inverted, seed
            assert (tuple(got["box"]) if got["box"] else None) == want.box, seed
    finally:
        page.close()


def test_the_browsers_networks_are_numpys_for_mlp_and_conv_models(chromium, tmp_path):
    """nets.js's encoder (dense, conv) and decoder (dense, deconv) on the weights Python sends equal the numpy
    arrays' (which equal torch's, tests/test_array_encoder.py), on a colour conv model and an MLP."""
    import torch

    from explorer.widgets.latent_pad import encode_decoder
    from training.core.config import RunConfig
    from training.models.open import load_decoder, load_encoder
    from training.runs.checkpoint import write_views
    from training.vae.model import VAE

    page = chromium.new_page()
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=(ROOT / "explorer" / "widgets" / "nets.js").read_text()
                            + "\nwindow.makeEncoder = makeEncoder; window.makeDecoder = makeDecoder;")
        run = ("([enc, dec, x]) => { const e = makeEncoder(enc), d = makeDecoder(dec);"
               " const mu = new Float32Array(e.zDim), logvar = new Float32Array(e.zDim); e.encodeInto(Float32Array.from(x), mu, logvar);"
               " return {mu: Array.from(mu), logvar: Array.from(logvar), recon: Array.from(d.decodeInto(mu, d.pixels()))}; }")
        for i, model in enumerate([{"image_shape": (3, 16, 8), "arch": "conv", "hidden": (4, 6)},
                                   {"image_shape": (1, 8, 8), "hidden": (24, 12), "likelihood": "gaussian-learned"}]):
            folder = tmp_path / str(i)
            folder.mkdir()
            config = RunConfig(model={"latent_dim": 3, **model}, train={"dataset": "digits"})
            torch.manual_seed(i)
            write_views(folder, config, VAE(config.model).eval(), 0, [])
            encoder, decoder = load_encoder(folder), load_decoder(folder)
            x = np.random.default_rng(i).uniform(size=(1, *model["image_shape"])).astype(np.float32)
            got = page.evaluate(run, [encode_decoder(encoder), encode_decoder(decoder), x.ravel().tolist()])
            mu, logvar = encoder.encode(x)
            np.testing.assert_allclose(got["mu"], mu[0], atol=1e-5)
            np.testing.assert_allclose(got["logvar"], logvar[0], atol=1e-5)
            np.testing.assert_allclose(np.array(got["recon"]).reshape(x.shape[1:]), decoder.decode_mean(mu)[0], atol=1e-5)
    finally:
        page.close()
