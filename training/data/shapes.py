"""Procedurally generated dSprites-style shapes with known generative factors.

Each image is one white shape (square, ellipse or heart) on black. The five
factors are drawn uniformly at random: shape (0, 1, 2), scale in [0.5, 1],
rotation in [0, 2*pi) radians, and pos_x / pos_y in [0, 1] (left/top to
right/bottom, always keeping the whole shape inside the image).

Rendering is vectorised: the shapes' implicit functions are evaluated on a
supersampled pixel grid for a whole batch of images at once. A large set (from 50,000 images) is kept on disk
once rendered and read back after a restart (training/data/shapes_cache.py: 200,000 at 28 px in 2.2 s instead of
13.7 s on 2 busy cores).
"""

from __future__ import annotations

import numpy as np
import torch

from training.core.config import SHAPES_DEFAULT_SIZE, SHAPES_SIZE_RANGE

from . import shapes_cache
from .cache import memoized
from .dataset import Dataset

SHAPE_NAMES = ["square", "ellipse", "heart"]
FACTOR_NAMES = ["shape", "scale", "rotation", "pos_x", "pos_y"]
SCALE_RANGE = (0.5, 1.0)

_RADIUS = 0.6  # circumscribed radius of a scale-1 shape, in image units ([-1, 1] across)
_SUPERSAMPLE = 3  # sub-pixels per axis for anti-aliasing
_BATCH = 512  # images rendered per vectorised step (bounds memory)
_PROBE = 16  # images of a kept set rendered again to check it
N_TRAIN, N_TEST = 8000, 2000
DEFAULT_SIZE = SHAPES_DEFAULT_SIZE  # images when no size is asked for: N_TRAIN + N_TEST
SIZE_RANGE = SHAPES_SIZE_RANGE  # a size one can ask for: at most dSprites' own (3 x 6 x 40 x 32 x 32 factor values)
TEST_FRACTION = N_TEST / DEFAULT_SIZE  # one image in five is a test image, at every size


def split_sizes(size: int | None) -> tuple[int, int]:
    """(train, test) image counts of a shapes set of SIZE images (None: the default 8,000 / 2,000)."""
    if size is None:
        return N_TRAIN, N_TEST
    n_test = max(1, round(size * TEST_FRACTION))
    return size - n_test, n_test


@memoized
def load_shapes(image_size: int = 28, seed: int = 0, size: int | None = None) -> Dataset:
    """SIZE shapes (default 10,000) of side ``image_size``, four in five for training, deterministic by ``seed``.

    The images are rendered straight into their two float32 tensors, a batch at a time: the build's peak is
    the data itself plus one batch's temporaries (training/data/budget.py). A large set kept on disk is read
    into them instead, a batch at a time (training/data/shapes_cache.py)."""
    n_train, n_test = split_sizes(size)
    factors = torch.from_numpy(sample_factors(n_train + n_test, seed))
    x_train = torch.empty((n_train, 1, image_size, image_size), dtype=torch.float32)
    x_test = torch.empty((n_test, 1, image_size, image_size), dtype=torch.float32)
    parts = [x_train.numpy(), x_test.numpy()]
    kept = shapes_cache.path(n_train + n_test, image_size, seed) if shapes_cache.worth_keeping(size) else None
    if kept is None or not _read_kept(kept, parts, factors.numpy()):
        render_shapes(factors[:n_train].numpy(), image_size, out=parts[0])
        render_shapes(factors[n_train:].numpy(), image_size, out=parts[1])
        if kept is not None:
            shapes_cache.write_from(kept, parts, _SUPERSAMPLE**2)
    return Dataset(
        name="shapes",
        x_train=x_train,
        y_train=factors[:n_train].clone(),
        x_test=x_test,
        y_test=factors[n_train:].clone(),
        image_shape=(1, image_size, image_size),
        label_names=list(SHAPE_NAMES),
        factor_names=list(FACTOR_NAMES),
    )


def _read_kept(file, parts: list[np.ndarray], factors: np.ndarray) -> bool:
    """Fill PARTS from the rendered set kept on disk (training/data/shapes_cache.py); False on a miss. A few images
    are rendered again and compared, so a file of an older rendering is never served."""
    if not shapes_cache.read_into(file, parts, _SUPERSAMPLE**2):
        return False
    probe = slice(0, min(_PROBE, len(parts[0])))
    return np.array_equal(render_shapes(factors[probe], parts[0].shape[-1]), parts[0][probe])


def sample_factors(n: int, seed: int) -> np.ndarray:
    """Draw ``n`` factor rows (shape, scale, rotation, pos_x, pos_y) as float32."""
    rng = np.random.default_rng(seed)
    factors = np.empty((n, 5), dtype=np.float32)
    factors[:, 0] = rng.integers(0, len(SHAPE_NAMES), size=n)
    factors[:, 1] = rng.uniform(*SCALE_RANGE, size=n)
    factors[:, 2] = rng.uniform(0.0, 2.0 * np.pi, size=n)
    factors[:, 3] = rng.uniform(0.0, 1.0, size=n)
    factors[:, 4] = rng.uniform(0.0, 1.0, size=n)
    return factors


def render_shapes(factors: np.ndarray, image_size: int = 28, out: np.ndarray | None = None) -> np.ndarray:
    """Render factor rows into float32 images of shape (N, 1, S, S) with values in [0, 1] (into OUT when given)."""
    factors = np.asarray(factors, dtype=np.float32).reshape(-1, 5)
    shape = (len(factors), 1, image_size, image_size)
    if out is not None and (out.shape != shape or out.dtype != np.float32):
        raise ValueError(f"out must be float32 of shape {shape}, not {out.dtype} {out.shape}")
    images = np.empty(shape, dtype=np.float32) if out is None else out
    grid = _subpixel_grid(image_size)
    k = _SUPERSAMPLE
    for index, inside_test in enumerate(_SHAPE_TESTS):
        (rows,) = np.nonzero(factors[:, 0] == index)
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            u, v = _shape_frame(factors[batch], grid)
            inside = inside_test(u, v).view(np.uint8)
            inside = inside.reshape(len(batch), image_size, k, image_size, k)
            # Sum the k*k sub-pixel planes (strided adds are much faster than .sum here).
            hits = sum(inside[:, :, i, :, j] for i in range(k) for j in range(k))
            images[batch, 0] = hits * np.float32(1.0 / (k * k))
    return images


def generate_shapes(n: int, image_size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, factors)`` for ``n`` random shapes, deterministic by ``seed``."""
    factors = sample_factors(n, seed)
    return render_shapes(factors, image_size), factors


def _subpixel_grid(image_size: int) -> np.ndarray:
    """Sub-pixel centre coordinates along one axis, spanning [-1, 1]."""
    n = image_size * _SUPERSAMPLE
    return ((np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0).astype(np.float32)


def _shape_frame(factors: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates (B, G, G) in each shape's own frame, circumscribed radius 1."""
    scale, rotation, pos_x, pos_y = (factors[:, i, None, None] for i in range(1, 5))
    radius = _RADIUS * scale
    centre_x = (2.0 * pos_x - 1.0) * (1.0 - radius)
    centre_y = (2.0 * pos_y - 1.0) * (1.0 - radius)
    dx = (grid[None, None, :] - centre_x) / radius  # columns
    dy = (grid[None, :, None] - centre_y) / radius  # rows (y grows downwards)
    cos, sin = np.cos(rotation), np.sin(rotation)
    # Rotate by -rotation; v points up so the heart is upright at rotation 0.
    return cos * dx + sin * dy, sin * dx - cos * dy


def _in_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Square with circumscribed radius 1 (half side 1/sqrt(2))."""
    return np.maximum(np.abs(u), np.abs(v)) <= np.float32(1.0 / np.sqrt(2.0))


def _in_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Ellipse with semi-axes 1 and 0.5, so rotation is visible."""
    return u * u + 4.0 * v * v <= 1.0


def _in_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Classic implicit heart (x^2 + y^2 - 1)^3 <= x^2 y^3, fitted into the unit circle.

    Its smallest enclosing circle has radius 1.25 around (0, 0.25).
    """
    x, y = u * 1.25, v * 1.25 + 0.25
    xx = x * x
    r = xx + y * y - 1.0
    return r * r * r <= xx * y * y * y


_SHAPE_TESTS = (_in_square, _in_ellipse, _in_heart)
