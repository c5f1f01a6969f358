"""What one slider change sends (issue 28, item 1): the decoded image as the model's own pixels in one lossless
PNG inside the message, the traversal as ONE image beside its labels. The latency itself is measured in a
browser by benchmarks/latency.py."""

import base64
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.figures import images, traversal
from tests.waiting import HANG_S
from training.models.open import load_decoder

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
PREFIX = "data:image/png;base64,"


def png_of(uri: str) -> np.ndarray:
    assert uri.startswith(PREFIX)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(PREFIX):]))))


def test_the_traversal_is_one_lossless_image_beside_its_labels():
    tiles = np.random.default_rng(0).random((3, 4, 5, 5, 1))
    html = traversal.grid_html(tiles, ["z_2 · KL 1.50", "z_0 · KL 0.90", "z_1 · KL 0.00"], [False, False, True],
                               "z_k set to", 40)
    (src,) = re.findall(r'src="([^"]*)"', html)  # one picture for the whole grid
    grid = png_of(src)
    assert grid.shape == (3 * 6, 4 * 6)  # a grey pixel below and after each 5 x 5 tile
    assert re.search(r'rowspan="3"', html) and re.search(r'colspan="4"', html)  # beside the labels, under the values
    assert np.array_equal(grid[0:5, 12:17], images.to_uint8(tiles[0, 2, :, :, 0]))  # row 0, column 2, exact
    assert np.array_equal(grid[6:11, 18:23], images.to_uint8(tiles[1, 3, :, :, 0]))
    grey = images.to_uint8(np.float32(images.DEFAULT_PAD_VALUE))
    assert (grid[5, :] == grey).all() and (grid[:, 5] == grey).all()
    faded = grid[12:17, 0:5].astype(float)  # the unused dimension's row: less contrast, around the grey
    assert np.ptp(faded) < 0.5 * 255 and abs(faded.mean() - grey) < abs(tiles[2, 0].mean() * 255 - grey) + 1


def test_the_decoded_image_is_the_models_own_pixels_in_one_lossless_png():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z16")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (img,) = [n for n in at.get_by_key("decoded") if getattr(n, "type", None) == "image"]
    shown = png_of(img.value[0])
    z = np.array([at.slider(key=f"z_{i}").value for i in range(16)], np.float32)
    expected = images.to_uint8(load_decoder(DEMOS / "mnist5k-z16").decode_mean(z[None])[0, 0])
    assert shown.shape == (28, 28) and np.array_equal(shown, expected)  # lossless, not JPEG, and not upscaled
    assert len(base64.b64decode(img.value[0][len(PREFIX):])) < 1000  # a few hundred bytes per change
    grids = [h.proto.body for h in at.get("html") if 'class="traversal"' in h.proto.body]
    assert len(grids) == 1 and len(re.findall(r"<img ", grids[0])) == 1
