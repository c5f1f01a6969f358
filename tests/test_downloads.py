"""Downloads: images as PNG at the chosen scale, pixel for pixel; charts through Plotly's own export."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.figures import images
from explorer.widgets import downloads
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


def test_a_png_repeats_every_pixel_scale_times_and_keeps_grey_or_colour():
    grey = np.linspace(0, 1, 8 * 6, dtype=np.float32).reshape(8, 6, 1)
    png = Image.open(io.BytesIO(images.png_bytes(grey, 4)))
    assert png.format == "PNG" and png.mode == "L" and png.size == (24, 32)
    pixels = np.asarray(png)
    np.testing.assert_array_equal(pixels[::4, ::4], images.to_uint8(grey)[..., 0])  # exact, crisp
    assert (pixels[:4, :4] == pixels[0, 0]).all()
    colour = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    png = Image.open(io.BytesIO(images.png_bytes(colour, 2)))
    assert png.mode == "RGB" and png.size == (14, 10)


def test_every_image_page_offers_its_pngs_and_charts_export_at_the_chosen_scale():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z2")
    at.session_state[downloads.SCALE_KEY] = 8
    at.run()
    expected = {"views/sliders.py": {"png_decoded_z", "png_traversal"}, "views/samples.py": {"png_samples"},
                "views/interpolate.py": {"png_strip_linear", "png_strip_spherical"},
                "views/latent_map.py": {"png_manifold"}}
    for page, keys in expected.items():
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        buttons = {b.key: b for b in at.get("download_button")}
        assert keys <= set(buttons), (page, set(buttons))
        assert all(buttons[k].proto.label == "PNG ×8" for k in keys)
    at.session_state[downloads.FORMAT_KEY] = "svg"
    at.switch_page("views/balance.py").run()
    configs = [c.proto.config for c in at.get("plotly_chart")]
    assert len(configs) == 3 and all('"format": "svg"' in c and '"scale": 8' in c for c in configs), configs
