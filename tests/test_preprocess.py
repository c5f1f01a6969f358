"""prepare(image, dataset, shape): an input made as each data set's images were (training/data/preprocess.py),
checked against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.core.errors import UserError
from training.data.preprocess import prepare, style_of

MNIST = (1, 28, 28)


def l_stroke(dark_on_light: bool = True) -> np.ndarray:
    """A 100 (high) x 60 (wide) grey image, (H, W, 1), with an L drawn without anti-aliasing:
    a stem of rows 10..89 x columns 20..27 and a foot of rows 82..89 x columns 20..51.
    Its bounding box is rows 10..89, columns 20..51: 80 x 32 pixels."""
    ink = np.zeros((100, 60), np.float32)
    ink[10:90, 20:28] = 1.0
    ink[82:90, 20:52] = 1.0
    grey = 1.0 - ink if dark_on_light else ink
    return grey[:, :, None]


def ink_rows_cols(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns holding ink (more than a tenth of the most) in a (H, W) result."""
    held = x > 0.1 * x.max()
    return np.flatnonzero(held.any(axis=1)), np.flatnonzero(held.any(axis=0))


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    """In pixel-centre coordinates (a pixel's centre is its index + 0.5), by np.average over a grid."""
    rows, cols = np.mgrid[0:x.shape[0], 0:x.shape[1]] + 0.5
    return float(np.average(rows, weights=x)), float(np.average(cols, weights=x)),


# The L worked out by hand. The box, 80 x 32, is scaled by 20 / 80 = 1/4 to 20 x 8: the stem becomes
# rows 0..19 x columns 0..1 (40 pixels), the foot rows 18..19 x columns 0..7 (12 more pixels beyond the stem).
# Centre of mass (pixel centres at index + 0.5), 52 pixels of ink 1:
#   row    = (40 * 10 + 12 * 19) / 52 = 628 / 52 = 12.077
#   column = (40 * 1  + 12 * 5 ) / 52 = 100 / 52 =  1.923
# To land on (14, 14): shift by 14 - 12.077 = 1.923 -> 2 rows and 14 - 1.923 = 12.077 -> 12 columns, so the
# box lies at rows 2..21, columns 12..19, and the centre of mass at (14.077, 13.923).
# Centred by its box instead, it would lie at rows 4..23, columns 10..17: centre of mass (16.08, 11.92).
HAND_BOX = (10, 20, 90, 52)
HAND_ROWS, HAND_COLS = (2, 21), (12, 19)
HAND_CENTRE = (2 + 628 / 52, 12 + 100 / 52)  # (14.077, 13.923)


def test_mnist_style_against_the_hand_computed_l():
    prepared = prepare(l_stroke(), "mnist", MNIST)
    x = prepared.x[0]
    assert prepared.x.shape == MNIST and prepared.x.dtype == np.float32
    assert prepared.style == "mnist" and prepared.inverted and prepared.box == HAND_BOX
    assert 0.0 <= x.min() and x.max() <= 1.0
    rows, cols = ink_rows_cols(x)
    assert (rows[0], rows[-1]) == HAND_ROWS and (cols[0], cols[-1]) == HAND_COLS  # 20 x 8: longer side 20
    row, col = centre_of_mass(x)
    np.testing.assert_allclose((row, col), HAND_CENTRE, atol=1e-4)  # area averages: exact here
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_centring_is_by_mass_not_by_box():
    """The L's box centred would put its mass 2 pixels off in both directions (see the hand computation)."""
    x = prepare(l_stroke(), "mnist", MNIST).x[0]
    rows, cols = ink_rows_cols(x)
    box_centre = ((rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2)
    assert box_centre == (12.0, 16.0)  # not (14, 14): the box is not what is centred
    row, col = centre_of_mass(x)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_a_light_stroke_on_dark_is_not_inverted_and_reads_the_same():
    dark_on_light = prepare(l_stroke(True), "mnist", MNIST)
    light_on_dark = prepare(l_stroke(False), "mnist", MNIST)
    assert dark_on_light.inverted and not light_on_dark.inverted
    np.testing.assert_allclose(light_on_dark.x, dark_on_light.x, atol=1e-6)
    assert light_on_dark.x[0, 0, 0] == 0.0  # the background is black, as MNIST's


def test_grey_levels_are_kept_not_thresholded():
    image = l_stroke(False) * 0.6  # a pencil-grey stroke
    x = prepare(image, "kmnist", MNIST).x[0]
    assert 0.55 < x.max() < 0.65


def test_ink_pushed_out_by_its_centre_of_mass_is_kept_whole():
    """An upside-down T whose heavy foot pulls its centre of mass low: centring it would need the box to start
    2 rows above the frame; the shift is clamped so that the box starts at row 0 and nothing is cut."""
    ink = np.zeros((100, 100), np.float32)
    ink[10:90, 48:52] = 1.0   # stem: 80 rows x 4 columns
    ink[74:90, 10:90] = 1.0   # foot: 16 rows x 80 columns -> box 80 x 80, scaled by 1/4 to 20 x 20
    # Centre of mass of the 20 x 20 patch: stem rows 0..15 (16 pixels, mean row 8), foot rows 16..19 (80 pixels,
    # mean row 18): (16 * 8 + 80 * 18) / 96 = 16.33, so the top would go to round(14 - 16.33) = -2.
    x = prepare(ink[:, :, None], "mnist", MNIST).x[0]
    rows, cols = ink_rows_cols(x)
    assert (rows[0], rows[-1]) == (0, 19) and (cols[0], cols[-1]) == (4, 23)  # 20 rows: none cut off
    assert float(x.sum()) == pytest.approx(96.0, abs=1e-3)  # all of the ink is inside


@pytest.mark.parametrize(("dataset", "shape", "rows", "cols"), [
    ("digits", (1, 8, 8), (0, 7), (2, 4)),              # 80 x 32 -> 8 x 3 (3.2 rounded), centred: columns 2..4
    ("fashion-mnist", (1, 28, 28), (0, 27), (8, 18)),   # 80 x 32 -> 28 x 11 (11.2 rounded), columns 8..18
])
def test_digits_and_fashion_fill_the_frame_centred_by_the_box(dataset, shape, rows, cols):
    prepared = prepare(l_stroke(), dataset, shape)
    assert prepared.x.shape == shape and prepared.inverted and prepared.box == HAND_BOX
    found_rows, found_cols = ink_rows_cols(prepared.x[0])
    assert (found_rows[0], found_rows[-1]) == rows and (found_cols[0], found_cols[-1]) == cols


def test_shapes_style_inverts_and_resizes_the_whole_image():
    image = np.ones((64, 64, 1), np.float32)
    image[16:48, 8:24] = 0.0  # a dark rectangle on a light ground, not cropped: it stays where it was
    prepared = prepare(image, "shapes", (1, 32, 32))
    assert prepared.inverted and prepared.box is None and prepared.x.shape == (1, 32, 32)
    np.testing.assert_allclose(prepared.x[0, 8:24, 4:12], 1.0, atol=1e-6)
    assert float(prepared.x.sum()) == pytest.approx(16 * 8, abs=1e-3)


def test_cifar10_is_centre_cropped_to_a_square():
    image = np.zeros((40, 100, 3), np.float32)
    image[:, :, 2] = 1.0                  # blue at the sides
    image[:, 30:70] = (1.0, 0.0, 0.0)     # the middle 40 x 40 square red
    prepared = prepare(image, "cifar10", (3, 32, 32))
    assert prepared.style == "photo" and not prepared.inverted and prepared.box is None
    np.testing.assert_allclose(prepared.x[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(prepared.x[1:], 0.0, atol=1e-6)


def test_channels_follow_the_model():
    red = np.zeros((10, 10, 3), np.float32)
    red[:, :, 0] = 1.0
    as_grey = prepare(red, "folder:/somewhere", (1, 8, 8)).x
    np.testing.assert_allclose(as_grey, 0.299, atol=1e-6)  # luminance of red (ITU-R 601)
    grey = np.full((10, 10, 1), 0.25, np.float32)
    as_rgb = prepare(grey, None, (3, 8, 8))
    assert as_rgb.style == "plain" and as_rgb.x.shape == (3, 8, 8)
    np.testing.assert_allclose(as_rgb.x, 0.25, atol=1e-6)
    stretched = prepare(l_stroke(), None, (1, 28, 28))  # plain: stretched, not inverted, not cropped
    assert not stretched.inverted and stretched.x[0, 0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("dataset", ["mnist", "mnist5k", "kmnist", "digits", "fashion-mnist", "shapes"])
def test_a_blank_image_is_refused_in_one_sentence(dataset):
    shape = (1, 8, 8) if dataset == "digits" else MNIST
    for blank in (np.ones((50, 40, 1), np.float32), np.zeros((50, 40, 3), np.float32)):
        with pytest.raises(UserError) as caught:
            prepare(blank, dataset, shape)
        message = str(caught.value)
        assert message == "The image is blank: there is no stroke or shape in it to read."


def test_a_blank_image_is_fine_where_nothing_is_cropped():
    assert prepare(np.ones((5, 5, 1), np.float32), "folder:/x", MNIST).x.min() == pytest.approx(1.0)


def test_styles_by_data_set():
    assert [style_of(name) for name in ("mnist", "mnist5k", "kmnist", "digits", "fashion-mnist", "shapes",
                                        "cifar10", "folder:/data", None, "")] == [
        "mnist", "mnist", "mnist", "digits", "fashion", "shapes", "photo", "plain", "plain", "plain"]


def test_a_binarize_run_gets_its_input_binarised_once_as_its_test_images_are():
    from training.core.config import ModelConfig, RunConfig, TrainConfig
    from training.data.preprocess import prepare_for

    grey = np.zeros((40, 40, 1), np.float32)
    grey[8:32, 14:26] = 0.5  # a half-grey bar on black: each of its pixels a fair coin
    plain = RunConfig(model=ModelConfig(image_shape=MNIST), train=TrainConfig(dataset="mnist5k"))
    binarize = RunConfig(model=ModelConfig(image_shape=MNIST), train=TrainConfig(dataset="mnist5k", binarize=True))
    as_grey, as_bits = prepare_for(plain, grey), prepare_for(binarize, grey)
    assert not as_grey.binarized and as_bits.binarized
    np.testing.assert_array_equal(as_grey.x, prepare(grey, "mnist5k", MNIST).x)
    assert set(np.unique(as_bits.x)) <= {0.0, 1.0}
    ink = as_grey.x > 0
    assert abs(as_bits.x[ink].mean() - as_grey.x[ink].mean()) < 0.1  # drawn with the grey as the probability
    assert as_bits.x[~ink].max() == 0.0
    np.testing.assert_array_equal(as_bits.x, prepare_for(binarize, grey).x)  # once: the same draw every time


def test_a_photographed_sheet_grey_uneven_and_noisy_is_cropped_to_the_strokes_not_the_paper():
    rng = np.random.default_rng(0)
    h, w = 300, 450
    paper = np.linspace(0.72, 0.92, w, dtype=np.float32)[None, :].repeat(h, 0)  # a shadow across the sheet
    photo = np.clip(paper + rng.normal(0.0, 0.02, (h, w)).astype(np.float32), 0.0, 1.0)
    photo[100:220, 200:212] = 0.15  # a dark upright stroke, 120 x 12 pixels, and its foot
    photo[208:220, 200:250] = 0.15
    prepared = prepare(photo[:, :, None], "mnist5k", MNIST)
    top, left, bottom, right = prepared.box
    assert prepared.inverted and abs(top - 100) <= 2 and abs(bottom - 220) <= 2  # the strokes' box, not the sheet's
    assert abs(left - 200) <= 2 and abs(right - 250) <= 2
    field = prepared.x[0]
    rows, cols = np.nonzero(field > 0.05)
    assert rows.max() - rows.min() + 1 == 20  # the 120-pixel stroke fills the 20-pixel box
    assert field[:, :2].max() == 0.0 and field[:2].max() == 0.0  # the paper is black, as MNIST's background is


@pytest.mark.parametrize("light_paper", [True, False])
def test_strokes_that_touch_the_edge_are_ink_not_paper(light_paper):
    """A tall 1 drawn from edge to edge, a tightly cropped digit: the border holds ink, but the paper's level is
    read from the border's paper side only, so the strokes stay (they were refused as blank)."""
    ink = np.zeros((40, 40), np.float32)
    ink[:, 18:22] = 1.0       # a 1 from the top edge to the bottom edge
    ink[0:4, 10:30] = 1.0     # and a bar along the top edge: 24 of the 156 border pixels are ink
    image = (1.0 - ink if light_paper else ink)[:, :, None]
    prepared = prepare(image, "mnist5k", MNIST)
    assert prepared.inverted == light_paper and prepared.box == (0, 10, 40, 30)
    rows, cols = ink_rows_cols(prepared.x[0])
    assert rows[-1] - rows[0] + 1 == 20  # the 40-pixel-tall digit fills the 20-pixel box
    assert float(prepared.x.max()) == pytest.approx(1.0)


def test_random_binary_noise_is_read_not_called_blank():
    noise = (np.random.default_rng(1).random((28, 28)) < 0.5).astype(np.float32)
    assert float(prepare(noise[:, :, None], "mnist5k", MNIST).x.max()) > 0.5


def test_a_shapes_input_that_is_not_square_keeps_its_aspect_ratio():
    image = np.zeros((40, 80, 1), np.float32)
    image[10:30, 30:50] = 1.0  # a 20 x 20 square in the middle of a wide picture
    prepared = prepare(image, "shapes", (1, 32, 32))
    rows, cols = ink_rows_cols(prepared.x[0])
    assert rows[-1] - rows[0] == cols[-1] - cols[0] == 7  # still square: 20 of 80 pixels -> 8 of 32
    assert (rows[0] + rows[-1]) / 2 == pytest.approx(15.5) and (cols[0] + cols[-1]) / 2 == pytest.approx(15.5)


def test_a_coloured_shape_reads_as_a_white_one_on_black():
    image = np.zeros((64, 64, 3), np.float32)
    image[:, :, 2] = 1.0                       # blue ground
    image[16:48, 16:48] = (1.0, 0.0, 0.0)      # a red square
    prepared = prepare(image, "shapes", (1, 32, 32))
    assert not prepared.inverted and float(prepared.x.max()) == pytest.approx(1.0)
    np.testing.assert_allclose(prepared.x[0, 8:24, 8:24], 1.0, atol=1e-6)
    assert float(prepared.x[0, :8].max()) == 0.0  # the blue ground is black
