"""The latent map at the size of a real test set (10,000 points, WebGL), in Chromium: a hovered dot shows
its image, search by index, filter by label, the nearest neighbours in z; and the epoch scrubber's Play.

The data is benchmarks/standin_mnist.py: MNIST's files with 10,000 real digits as the test set (this
machine cannot download MNIST), loaded by the app through the same code as the real thing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import standin_mnist
from benchmarks.harness import ROOT, Server
from tests.e2e.conftest import idle, new_context, next_frame, require_browser, screenshot
from tests.waiting import HANG_MS, HANG_S

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)
N = 10_000

POINTS = """() => { const g = document.querySelector('.st-key-latent_map_scatter .js-plotly-plot');
  if (!g || !g._fullData) return null;
  return {n: g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0), types: g._fullData.map(t => t.type),
          names: g._fullData.map(t => t.name), x: g._fullLayout.xaxis.title.text}; }"""

DOT_XY = """k => {  // the screen position of the K-th dot of the first trace
  const g = document.querySelector('.st-key-latent_map_scatter .js-plotly-plot');
  const t = g._fullData[0], xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, box = g.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(t.x[k]), box.top + ya._offset + ya.l2p(t.y[k])];
}"""


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A server whose one model is a z = 8 MLP trained 3 epochs on the stand-in MNIST (snapshots at 1, 2, 3)."""
    require_browser()
    work = tmp_path_factory.mktemp("bigmap")
    data = standin_mnist.write(work / "data")
    env = {"VAE_EXPLORER_DATA": str(data)}
    run = work / "runs" / "mnist10k"
    subprocess.run([sys.executable, "-m", "training", "fit", "--dataset", "mnist", "--latent-dim", "8", "--hidden", "64",
                    "--epochs", "3", "--threads", "1", "--quiet", "--out", str(run)],
                   cwd=ROOT, check=True, timeout=HANG_S, env={**os.environ, **env})
    server = Server(ROOT / "explorer" / "app.py", work / "runs", env=env)
    yield server, run, data
    server.stop()


@pytest.fixture
def big_page(chromium, big):
    context = new_context(chromium)
    yield context.new_page()
    context.close()


def images_and_mu(run, data):
    """The test images and their mu(x), as the app computes them."""
    from training.analysis.latent import encode_dataset
    from training.data import load_dataset
    from training.models.open import load_run

    dataset = load_dataset("mnist", root=data, download=False)
    return dataset, encode_dataset(load_run(run).model, dataset.x_test)


def wait_points(page, title: str, n: int | None = None) -> dict:
    cond = f"(() => {{ const p = ({POINTS})(); return p && p.x.startsWith({title!r}) " \
           f"&& {'p.n === ' + str(n) if n is not None else 'p.n > 0'}; }})()"
    page.wait_for_function(f"() => {cond}", timeout=TIMEOUT)
    return page.evaluate(POINTS)


def test_a_10000_point_map_shows_hovered_images_finds_filters_and_lists_neighbours(big_page, big):
    server, run, data = big
    page = big_page
    dataset, mu = images_and_mu(run, data)
    page.goto(f"{server.url}/latent_map?model=mnist10k&lang=en")
    drawn = wait_points(page, "PC", N)
    assert set(drawn["types"]) == {"scattergl"} and len(drawn["names"]) == 10  # WebGL, one trace per digit

    # Hover: the thumbnail is the hovered dot's own test image, pixel for pixel (a lossless atlas).
    page.wait_for_function("() => window.mapThumbs && window.mapThumbs.ready && window.mapThumbs.bound",
                           timeout=TIMEOUT)
    x, y = page.evaluate(DOT_XY, 0)
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=5)
    page.wait_for_function("() => window.mapThumbs.shown !== null", timeout=TIMEOUT)
    next_frame(page)  # the tile of the last hover is drawn (index and pixels are read together below)
    # One read of what is shown: which index and its pixels together (another hover could come in between).
    shot = page.evaluate("() => ({index: window.mapThumbs.shown, side: window.mapThumbs.size, "
                         "visible: window.mapThumbs.visible, pixels: Array.from(window.mapThumbs.pixels())})")
    index, side = shot["index"], shot["side"]
    assert shot["visible"] and page.locator(".thumb").first.is_visible()
    pixels = np.array(shot["pixels"], dtype=np.uint8).reshape(side, side, 4)
    scale = side // 28
    image = (dataset.x_test[index, 0].numpy() * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels[scale // 2::scale, scale // 2::scale, 0], image)
    screenshot(page, "latent-map-10k-hover")
    page.mouse.move(5, 5)
    page.wait_for_function("() => window.mapThumbs.shown === null", timeout=TIMEOUT)

    # Search by index: the found image is picked; its 8 nearest neighbours in z are listed in order.
    find = page.locator(".st-key-map_find input")
    find.fill("1234")
    find.press("Enter")
    page.get_by_text("test image 1234", exact=True).wait_for(timeout=TIMEOUT)
    from training.vae.latent_space import nearest

    expected = ", ".join(str(int(i)) for i in nearest(mu, 1234, 8))
    page.get_by_text(expected, exact=True).wait_for(timeout=TIMEOUT)
    assert "point=1234" in page.url

    # Filter by label: only the 3s stay, all of them.
    page.locator(".st-key-map_labels [role='combobox']").click()
    page.get_by_role("option", name="3 - three", exact=True).click()
    page.keyboard.press("Escape")
    threes = int((dataset.y_test.numpy() == 3).sum())
    drawn = wait_points(page, "PC", threes)
    assert drawn["names"] == ["3 - three"] and 500 < threes < 1500
    screenshot(page, "latent-map-10k-filtered")


def test_play_steps_through_the_kept_epochs(big_page, big):
    server, run, _data = big
    page = big_page
    page.goto(f"{server.url}/?model=mnist10k&lang=en")
    page.locator(".st-key-decoded img").first.wait_for(timeout=TIMEOUT)
    page.locator(".st-key-epoch_play").wait_for(timeout=TIMEOUT)
    page.locator(".st-key-epoch_play label").click()
    # Every frame the browser draws, note the epoch shown and the decoded image, until epochs 1 and 2 and three
    # different images have been on screen (however long each step takes on this machine).
    seen = page.wait_for_function("""() => {
        const w = window.__played = window.__played || {epochs: new Set(), images: new Set()};
        const thumb = document.querySelector(".st-key-epoch_shown_sliders [data-testid='stSliderThumbValue']");
        const img = document.querySelector(".st-key-decoded img");
        if (thumb) w.epochs.add(thumb.innerText.trim());
        if (img && img.src) w.images.add(img.src);
        return w.epochs.has("1") && w.epochs.has("2") && w.images.size >= 3 && [...w.epochs];
    }""", timeout=TIMEOUT).json_value()
    assert {"1", "2"} <= set(seen), seen  # epochs 1, 2 and the last decode z differently (three images)
    page.locator(".st-key-epoch_play label").click()  # pause: the epoch stays
    page.wait_for_function("() => !document.querySelector('.st-key-epoch_play input').checked", timeout=TIMEOUT)
    idle(page)
    paused = page.locator(".st-key-epoch_shown_sliders [data-testid='stSliderThumbValue']").first.inner_text()
    # Not a wait for work: a window of the player's own period, three times over, in which a paused player must
    # not step (a slower machine only makes the window easier to pass, never a false failure).
    page.wait_for_timeout(3 * 1000)
    idle(page)
    assert page.locator(".st-key-epoch_shown_sliders [data-testid='stSliderThumbValue']").first.inner_text() == paused
