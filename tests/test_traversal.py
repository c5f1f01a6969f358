"""The traversal grid's pure parts and the landing point's choice (no browser, no torch)."""

import re

import numpy as np

from explorer import DEMOS
from explorer.figures import traversal
from training.models.open import load_decoder
from training.vae.latent_space import clearest_prior_sample, prior_samples


def test_tiles_put_each_dimension_on_a_row_and_each_value_in_a_column():
    decoded = []

    def decode(z):  # (N, Z) -> (N, 1, 2, 3): every pixel says z's coordinates
        decoded.append(z.copy())
        return np.broadcast_to(z[:, :1, None, None], (len(z), 1, 2, 3)) + 0 * z[:, 1:2, None, None]

    tiles = traversal.tiles(decode, [0.5, -1.0, 2.0], [2, 0], 5)
    assert tiles.shape == (2, 5, 2, 3, 1)
    z = decoded[0].reshape(2, 5, 3)
    assert np.allclose(z[0, :, 2], np.linspace(-3, 3, 5)) and np.allclose(z[0, :, :2], [0.5, -1.0])
    assert np.allclose(z[1, :, 0], np.linspace(-3, 3, 5)) and np.allclose(z[1, :, 1:], [-1.0, 2.0])
    assert np.allclose(tiles[1, :, 0, 0, 0], np.linspace(-3, 3, 5))  # row 1 moves z_0


def test_grid_html_labels_rows_and_columns_and_fetches_nothing():
    tiles = np.random.default_rng(0).random((3, 4, 5, 5, 1))
    html = traversal.grid_html(tiles, ["z_2 · KL 1.50", "z_0 · <b>", "z_1 · KL 0.00"], [False, False, True],
                               "z_k set to", 40)
    assert re.findall(r'scope="row">([^<]*)<', html) == ["z_2 · KL 1.50", "z_0 · &lt;b&gt;", "z_1 · KL 0.00"]
    assert re.findall(r'<th class="v"[^>]*>([^<]*)<', html) == ["\u22123", "\u22121", "+1", "+3"]
    assert html.count('<tr class="off">') == 1  # the unused dimension is dimmed
    assert re.findall(r'src="([^"]*)"', html) and all(s.startswith("data:image/png;base64,")
                                                      for s in re.findall(r'src="([^"]*)"', html))
    assert traversal.grid_image(tiles).shape == (3 * 6 + 1, 4 * 6 + 1, 1)


def test_the_landing_point_is_a_crisp_prior_sample_not_the_grey_mean():
    decoder = load_decoder(DEMOS / "mnist5k-z16")
    z, index = clearest_prior_sample(decoder.decode_mean, 16, 256, 0)
    assert np.array_equal(z, prior_samples(256, 16, 0)[index])
    assert np.array_equal(clearest_prior_sample(decoder.decode_mean, 16, 256, 0)[0], z)  # seeded: always the same

    def entropy(img):
        p = np.clip(img, 1e-6, 1 - 1e-6)
        return float(-(p * np.log(p) + (1 - p) * np.log1p(-p)).mean())

    chosen, mean = decoder.decode_mean(z[None])[0], decoder.decode_mean(np.zeros((1, 16), np.float32))[0]
    assert entropy(chosen) < 0.8 * entropy(mean)  # surer pixels than z = 0's grey blur
    assert chosen.max() > 0.95 and chosen.mean() > 0.05  # a bright, inked figure, not an empty frame
