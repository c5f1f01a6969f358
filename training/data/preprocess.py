"""One image prepared as a model's data was made: ``prepare(image, dataset, shape)``, used by the app and the CLI.

The image is ``read_image``'s float ``(H, W, C)`` in [0, 1]; the result is what the model sees, ``(C, H, W)``
of the model's shape. Each data set was made its own way, and an input is prepared the same way:

- "mnist" (mnist, mnist5k, kmnist). MNIST: "The original black and white (bilevel) images from NIST were size
  normalized to fit in a 20x20 pixel box while preserving their aspect ratio. The resulting images contain grey
  levels as a result of the anti-aliasing technique used by the normalization algorithm. The images were
  centered in a 28x28 image by computing the center of mass of the pixels, and translating the image so as to
  position this point at the center of the 28x28 field" (LeCun, Cortes and Burges, yann.lecun.com/exdb/mnist).
  KMNIST (Clanuwat et al. 2018) was made to the same recipe. Here: grayscale; the ink is 1 - grey when the
  background (the border pixels' median) is light, else grey; cropped to the ink's bounding box (the pixels
  above a tenth of the darkest ink's value; the values inside keep their anti-aliasing); scaled so that its
  longer side is 20 (the shorter by the same factor), anti-aliased (area averages); pasted into 28x28 with its centre of mass
  at the field's centre, shifted by whole pixels (rounded), and never cut off: a shift that would push ink
  out of the frame is clamped so the box stays inside.
  Coordinates: a pixel's centre sits at its index + 0.5, so the 28x28 field's centre is (14, 14); in index
  terms the centre of mass lands on 13.5, the middle between the two middle pixels.
- "digits" (scikit-learn's digits, the UCI optical digits, Alpaydin and Kaynak 1998): NIST's preprocessing
  normalised each digit into a 32x32 bitmap, then counted the ink in 4x4 blocks, giving 8x8 values 0..16.
  Here: the ink cropped to its box, scaled so that its longer side fills the frame (8), centred by the box.
- "fashion" (Fashion-MNIST, Xiao, Rasul and Vollgraf 2017): each product photo was trimmed of the edges close
  to the background colour, its longest edge resized to 28, its shortest extended to 28 with the image in the
  centre, and its intensities negated. Here: invert a light background, crop to the box, longest side 28,
  centred by the box.
- "shapes" (this project's dSprites-like shapes: one white shape on black, rendered supersampled): grayscale,
  invert a light background, the ink scaled so that its strongest is 1 (the shapes are white: a red circle on
  blue reads as a white one on black), the whole image extended with background to the model's aspect ratio (a
  circle stays round) and resized to the model's size (area averages).
- "photo" (cifar10, 32x32 colour photos): RGB, centre-cropped to a square, resized (area averages).
- "plain" (folder:PATH and models that name no data set): stretched to the model's size with its channels,
  as training/data/folder.py reads each image; nothing inverted.

Channels follow the model: grey to RGB by repeating, RGB to grey by luminance (ITU-R 601, as PIL's "L").
A digit, fashion or shapes input without any ink (a blank image) is refused with one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from training.core.errors import UserError
from .image_file import LUMINANCE

STYLES = {"mnist": "mnist", "mnist5k": "mnist", "kmnist": "mnist", "digits": "digits", "fashion-mnist": "fashion",
          "shapes": "shapes", "cifar10": "photo"}
MNIST_BOX, MNIST_FIELD = 20, 28  # the digit's box and the field it is centred in
INK_SHARE = 0.1      # a pixel belongs to the ink's bounding box when its ink is above this share of the most ink
BLANK = 0.05         # an image whose most ink is below this has none: nothing to prepare
PAPER_QUANTILE = 0.99  # the paper's own ink: this quantile of the border's (a photo's grey, uneven, noisy sheet)


@dataclass(frozen=True)
class Prepared:
    x: np.ndarray                                 # float32 (C, H, W) in [0, 1]: what the model sees
    inverted: bool                                # a light background was turned dark
    box: tuple[int, int, int, int] | None         # (top, left, bottom, right) of the ink in the original, ends excluded
    style: str                                    # mnist, digits, fashion, shapes, photo or plain
    binarized: bool = False                       # drawn once as 0/1 pixels, as a --binarize run's images were


def style_of(dataset: str | None) -> str:
    """How an input for a model of DATASET is prepared (see the module's doc)."""
    return STYLES.get(dataset or "", "plain")


def prepare(image: np.ndarray, dataset: str | None, shape: tuple[int, int, int]) -> Prepared:
    """IMAGE (H, W, C) in [0, 1] prepared for a model of DATASET whose images are SHAPE (C, H, W)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    style = style_of(dataset)
    channels, height, width = shape
    if style == "photo":
        return Prepared(stretch(centre_square(image), shape, None), False, None, style)
    if style == "plain":
        return Prepared(stretch(image, shape), False, None, style)
    ink, inverted = ink_of(grey(image))
    if ink.max() < BLANK:
        raise UserError("The image is blank: there is no stroke or shape in it to read.")
    if style == "shapes":
        ink = ink / ink.max()  # the shapes are drawn white: a coloured or grey shape's strongest ink made 1
        return Prepared(stretch(padded_to(ink, (height, width))[:, :, None], shape, None), inverted, None, style)
    box = ink_box(ink)
    top, left, bottom, right = box
    crop = ink[top:bottom, left:right]
    if style == "mnist":
        inner = (round(height * MNIST_BOX / MNIST_FIELD), round(width * MNIST_BOX / MNIST_FIELD))
        patch = resized(crop, fitted(crop.shape, inner))
        field = paste(patch, (height, width), mass_offset(patch, (height, width)))
    else:  # digits and fashion: the box fills the frame along its longer side, centred by the box
        patch = resized(crop, fitted(crop.shape, (height, width)))
        field = paste(patch, (height, width), box_offset(patch.shape, (height, width)))
    return Prepared(with_channels(field[:, :, None], channels).transpose(2, 0, 1).copy(), inverted, box, style)


def prepare_for(config, image: np.ndarray) -> Prepared:
    """IMAGE prepared for the model a run's CONFIG (training.core.config.RunConfig) describes: its data set's style,
    its image shape, and for a ``--binarize`` run each pixel drawn once as 0 or 1 with its grey as the probability,
    seeded by the run's seed, as its test images are (training/vae/evaluate.py ``test_images``). The one function
    the Your image page and ``python -m training encode`` call."""
    prepared = prepare(image, config.train.dataset, tuple(int(v) for v in config.model.image_shape))
    if not config.train.binarize:
        return prepared
    draw = np.random.default_rng(config.train.seed).random(prepared.x.shape)
    return replace(prepared, x=(draw < prepared.x).astype(np.float32), binarized=True)


# -- the steps ---------------------------------------------------------------------------------------------------
def grey(image: np.ndarray) -> np.ndarray:
    """(H, W) luminance of an (H, W, C) image."""
    return image[:, :, 0] if image.shape[2] == 1 else image[:, :, :3] @ LUMINANCE


def ink_of(grey_image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The ink, bright on dark as the data sets have it, and whether the image was inverted for it: a light
    background (the border pixels' median above 0.5) means dark strokes. The paper's own level (at PAPER_QUANTILE
    of the border's paper side, its pixels below the middle between the border's median ink and full ink: a
    photographed sheet is grey, uneven and noisy, and strokes may touch the edge) is taken off and the rest stretched back
    to [0, 1], so that only the strokes hold ink, as in the data sets, whose background is 0. A drawing's clean
    paper has level 0: nothing changes."""
    border = np.concatenate([grey_image[0], grey_image[-1], grey_image[:, 0], grey_image[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    ink = 1.0 - grey_image if inverted else grey_image
    border_ink = 1.0 - border if inverted else border
    # Only the border's paper side counts: strokes that touch the edge (a tall 1, a tightly cropped digit) are
    # above the middle between the border's median and full ink, and are not the paper's level.
    paper_side = border_ink[border_ink <= (float(np.median(border_ink)) + 1.0) / 2]
    paper = float(np.quantile(paper_side, PAPER_QUANTILE))
    if paper <= 0.0:
        return ink, inverted
    if paper >= 1.0:
        return np.zeros_like(ink), inverted
    return np.clip((ink - np.float32(paper)) / np.float32(1.0 - paper), 0.0, 1.0).astype(np.float32), inverted


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), ends excluded, of the pixels holding more than INK_SHARE of the most ink."""
    held = ink > INK_SHARE * ink.max()
    rows, cols = np.flatnonzero(held.any(axis=1)), np.flatnonzero(held.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def fitted(size: tuple[int, int], limit: tuple[int, int]) -> tuple[int, int]:
    """SIZE (h, w) scaled by one factor so that it just fits LIMIT: the longer side fills it, the other is
    scaled alike (at least 1 pixel)."""
    factor = min(limit[0] / size[0], limit[1] / size[1])
    return max(1, min(limit[0], round(size[0] * factor))), max(1, min(limit[1], round(size[1] * factor)))


def resized(plane: np.ndarray, size: tuple[int, int], resample: str | None = None) -> np.ndarray:
    """A float (h, w) plane resized to SIZE (h, w) by PIL on a float image, clipped to [0, 1]. Unless RESAMPLE
    names PIL's filter: shrinking averages each output pixel's area (BOX: anti-aliased, no ringing, the ink's
    mass kept, as the digits' 4x4 block counts), enlarging is bilinear."""
    from PIL import Image

    if plane.shape == tuple(size):
        return plane.astype(np.float32)
    if resample is None:
        resample = "BOX" if size[0] <= plane.shape[0] and size[1] <= plane.shape[1] else "BILINEAR"
    out = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F").resize(
        (size[1], size[0]), getattr(Image.Resampling, resample))
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def mass_offset(patch: np.ndarray, frame: tuple[int, int]) -> tuple[int, int]:
    """Where PATCH's top-left corner goes so that its centre of mass lands on FRAME's centre: with pixel
    centres at index + 0.5 the centre of mass is sum(p * (i + 0.5)) / sum(p) and the frame's centre is
    (height / 2, width / 2); the shift is rounded to whole pixels (halves up), then clamped so that the
    patch stays whole inside the frame."""
    total = float(patch.sum())
    rows, cols = np.arange(patch.shape[0]) + 0.5, np.arange(patch.shape[1]) + 0.5
    centre_row = float(patch.sum(axis=1) @ rows) / total
    centre_col = float(patch.sum(axis=0) @ cols) / total
    top = int(np.floor(frame[0] / 2 - centre_row + 0.5))
    left = int(np.floor(frame[1] / 2 - centre_col + 0.5))
    return _clamped(top, patch.shape[0], frame[0]), _clamped(left, patch.shape[1], frame[1])


def box_offset(size: tuple[int, int], frame: tuple[int, int]) -> tuple[int, int]:
    """Where a box of SIZE goes so that it sits in the middle of FRAME (an odd pixel left over goes below and
    to the right)."""
    return (frame[0] - size[0]) // 2, (frame[1] - size[1]) // 2


def _clamped(start: int, length: int, frame: int) -> int:
    return min(max(start, 0), frame - length)


def paste(patch: np.ndarray, frame: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    """A black FRAME (h, w) with PATCH's top-left corner at AT."""
    field = np.zeros(frame, dtype=np.float32)
    field[at[0]:at[0] + patch.shape[0], at[1]:at[1] + patch.shape[1]] = patch
    return field


def padded_to(plane: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """PLANE (h, w) extended with background (0) on both sides to FRAME's aspect ratio, itself in the middle: a
    circle stays a circle when the result is resized to FRAME."""
    h, w = plane.shape
    height = max(h, round(w * frame[0] / frame[1]))
    width = max(w, round(h * frame[1] / frame[0]))
    if (height, width) == (h, w):
        return plane
    return paste(plane, (height, width), ((height - h) // 2, (width - w) // 2))


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest square in the middle of an (H, W, C) image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def with_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) to (H, W, CHANNELS): grey repeated into RGB, RGB to grey by luminance."""
    if image.shape[2] == channels:
        return image
    if channels == 1:
        return grey(image)[:, :, None]
    return np.repeat(image[:, :, :1], channels, axis=2)


def stretch(image: np.ndarray, shape: tuple[int, int, int], resample: str | None = "BILINEAR") -> np.ndarray:
    """(H, W, C) stretched to SHAPE (C, H, W) with its channels; bilinear (PIL's, anti-aliased when shrinking)
    unless told (None: ``resized``'s own choice), as training/data/folder.py reads every image of a folder."""
    channels, height, width = shape
    image = with_channels(image, channels)
    planes = [resized(image[:, :, c], (height, width), resample) for c in range(channels)]
    return np.stack(planes).astype(np.float32)
