"""Decoding one image file: the one home of how an image's bytes become pixels.

``read_image(data)`` turns the bytes of an upload, a drawing or a file into float32 ``(H, W, C)`` in [0, 1]
(C = 1 for grey images, 3 for colour); ``read_image_file(path)`` does the same for a file on disk. A
``folder:`` data set (training/data/folder.py) converts every image it reads with ``to_array``, so a mode is
handled the same way wherever an image comes from:

- 16- and 32-bit grey (PIL modes I;16*, I) are scaled by their own depth (65,535 is white), never clipped at
  8 bits; F (floats) is taken as already in [0, 1];
- palette and CMYK images are converted to RGB by PIL; a palette whose colours (those used) are all grey, and
  the modes 1, L and LA, give one channel;
- transparency is composited onto a background that contrasts with what is drawn: white when the opaque
  pixels are dark on average (mean luminance below 0.5), black otherwise; so dark strokes on a transparent
  canvas read as dark ink on white, light ones as light ink on black, and neither is saturated;
- the EXIF orientation is applied (a phone's photo comes out the right way up);
- an animated GIF or WebP gives its first frame.

Every refusal is one UserError sentence: no bytes, more than MAX_BYTES, not an image, more than MAX_PIXELS
(read from the header before anything is decoded: a few hundred bytes of PNG can declare 50,000 x 50,000
pixels), a file cut short or corrupt.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np

from training.core.errors import Phrase, UserError, os_error
from training.core.files import read_bounded

MAX_BYTES = 20 * 2**20      # one image file
MAX_PIXELS = 4096 * 4096    # per image, from its header: far above what this project trains on (<= 256 x 256)
LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, PIL's RGB -> L

THE_IMAGE = Phrase("this file")  # how a sentence names bytes that have no file name


def read_image(data: bytes, name: str | Path = THE_IMAGE) -> np.ndarray:
    """The pixels of an image file's bytes, float32 ``(H, W, C)`` in [0, 1], C = 1 or 3; NAME (a file name, or
    "this file") names it in the sentence of a refusal."""
    from PIL import Image

    if not data:
        raise UserError("{name} is empty: it holds no bytes.", name=name)
    if len(data) > MAX_BYTES:
        raise too_large(name, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # PIL's own, far above MAX_PIXELS
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UserError("{name} declares more than {limit:,} pixels, the most an image may have; use a smaller "
                            "image.", name=name, limit=MAX_PIXELS) from None
        except (OSError, ValueError, SyntaxError, EOFError):
            raise UserError("{name} is not an image that can be read; use a PNG, JPEG, WebP, GIF or BMP file.",
                            name=name) from None
    with image:
        width, height = image.size  # from the header: nothing is decoded yet
        if width * height > MAX_PIXELS:
            raise UserError("{name} is {width:,} x {height:,} pixels, over the {limit:,} an image may have; use "
                            "a smaller image.", name=name, width=width, height=height, limit=MAX_PIXELS)
        try:
            return to_array(image)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error):
            raise UserError("{name} is damaged or cut short: its pixels cannot be decoded.", name=name) from None


def read_image_file(path: str | Path) -> np.ndarray:
    """``read_image`` of the file at PATH, read through ``read_bounded`` (a regular file, refused from its size
    before any byte is read)."""
    try:
        data = read_bounded(path, MAX_BYTES, Phrase("an image file"), follow_links=True,
                            too_large=lambda size: too_large(path, size))
    except OSError as err:
        raise os_error(err) from None
    return read_image(data, name=Path(path))


def too_large(name: str | Path, size: int) -> UserError:
    return UserError("{name} is {size:,} bytes, over the {limit:,} an image file may have.", name=name, size=size,
                     limit=MAX_BYTES)


# -- pixels from an opened image -------------------------------------------------------------------------------
def to_array(image) -> np.ndarray:
    """An opened PIL image (its header already checked) as float32 ``(H, W, C)`` in [0, 1]: first frame, EXIF
    orientation applied, its mode converted as the module's doc says. Decoding errors are PIL's own (OSError,
    ValueError, ...), for the caller to name."""
    from PIL import ImageOps

    image.seek(0)  # an animation's first frame
    image.load()   # decode now: a truncated file fails here
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _deep_grey(image)[:, :, None]
    if mode in ("1", "L") and "transparency" not in image.info:
        return (np.asarray(image.convert("L"), dtype=np.float32) / 255.0)[:, :, None]
    if _has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / np.float32(255.0)
        rgb = _composited(rgba[:, :, :3], rgba[:, :, 3])
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    one_channel = mode in ("1", "L", "LA", "La") or (mode in ("P", "PA") and _all_grey(rgb))
    return np.ascontiguousarray(rgb[:, :, :1] if one_channel else rgb)


def _deep_grey(image) -> np.ndarray:
    """A single-channel image of more than 8 bits as float32 in [0, 1], scaled by its own depth."""
    a = np.asarray(image)
    if image.mode.startswith("I;16"):
        return a.astype(np.float32) / 65535.0
    if image.mode == "I":  # PIL's 32-bit integers: 16-bit PNGs often open so
        top = 65535.0 if a.size == 0 or a.max() <= 65535 else float(2**31 - 1)
        return np.clip(a.astype(np.float32) / top, 0.0, 1.0)
    return np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0)  # "F": floats, taken as already in [0, 1]


def _has_alpha(image) -> bool:
    return image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info


def _all_grey(rgb: np.ndarray) -> bool:
    return bool(np.all(rgb[:, :, 0] == rgb[:, :, 1]) and np.all(rgb[:, :, 1] == rgb[:, :, 2]))


def _composited(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB over a background that contrasts with its opaque pixels: white under dark ink, black under light."""
    weight = float(alpha.sum())
    ink = float((rgb @ LUMINANCE * alpha).sum() / weight) if weight > 0 else 0.0  # opaque pixels' mean luminance
    background = 1.0 if ink < 0.5 else 0.0
    a = alpha[:, :, None]
    return (a * rgb + (1.0 - a) * background).astype(np.float32)
