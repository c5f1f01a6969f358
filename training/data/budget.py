"""What building a data set costs in memory, known from its name and image size (and the number of shapes) before
anything is built.

    data bytes  = images x C x H x W x 4                          (float32, train and test together)
    build peak  = 2 x data bytes + the source's own bytes         (the source, the float copy, the caller's
                                                                   copy of the cached set)
    for ``shapes`` (rendered straight into its float tensors, no source):
    build peak  = data bytes x (2 if kept in the data cache, else 1)   (the caller's copy of a kept set)
                + 7 x 512 x (3 x H)^2 x 4                          (the render's temporaries: a batch of 512
                                                                   images on a 3x supersampled grid)

``shapes`` has 10,000 images unless a size is asked for (``dataset_size``, at most 737,280, dSprites' own);
at 28 px the full 737,280 are 2,205 MB of data (more than the data cache keeps, so one copy) and about
2,302 MB at the peak: past the default limit, refused unless the operator raises it. Measured (peak RSS,
2 shared cores): 200,000 at 28 px, 1,210 MB above the imports against 1,293 (kept, 17 s) and 649 MB above a
warmed-up process against 695 (not kept, $VAE_EXPLORER_DATA_CACHE_MB=0, 13 s); 737,280 at 28 px, 2,271 MB above
a warmed-up process against 2,302 (71 s).

Measured for ``shapes`` (peak RSS above the imports): 211 MB at 32 px and 786 MB at 64 px, where the
formula says 210 MB and 817 MB; at 128 px it says 3,266 MB (the 3.8 GB of the issue is that plus the
imports). A build whose peak would pass $VAE_EXPLORER_MAX_DATA_MB (training/core/environment.py,
default 2048 MB: every bundled data set at its native size, and ``shapes`` up to about 100 px) is
refused with one sentence before it starts. ``folder:PATH`` sets are bounded by their own image count
(training/data/folder.py). No torch here.
"""

from __future__ import annotations

from training.core.config import FOLDER_PREFIX
from training.core.environment import DATA_CACHE_ENV, MAX_DATA_ENV, data_mb
from training.core.errors import UserError

FLOAT_BYTES = 4
MB = 1024**2
SHAPES_IMAGES = 10_000          # training/data/shapes.py: DEFAULT_SIZE
SHAPES_RENDER = (7, 512, 3)     # temporaries alive at once, the render's batch, its supersampling
SOURCE_BYTES_PER_VALUE = {"shapes": 0, "mnist5k": 1, "digits": 8}  # uint8 files, float64 from scikit-learn
IMAGES = {"mnist5k": (5_000, (1, 28, 28)), "digits": (1_797, (1, 8, 8)), "mnist": (70_000, (1, 28, 28)),
          "fashion-mnist": (70_000, (1, 28, 28)), "kmnist": (70_000, (1, 28, 28)), "cifar10": (60_000, (3, 32, 32))}


def data_bytes(images: int, shape: tuple[int, int, int]) -> int:
    c, h, w = shape
    return images * c * h * w * FLOAT_BYTES


def build_bytes(name: str, image_size: int | None = None, dataset_size: int | None = None) -> int | None:
    """The estimated peak of building data set NAME (at ``image_size`` and ``dataset_size`` images for shapes);
    None when it cannot be told from the name (``folder:PATH``, unknown names: refused or bounded elsewhere)."""
    if not isinstance(name, str) or name.startswith(FOLDER_PREFIX):
        return None
    name = name.strip().lower()
    if name == "shapes":
        size = image_size or 28
        data = data_bytes(dataset_size or SHAPES_IMAGES, (1, size, size))
        kept = data <= data_mb(DATA_CACHE_ENV) * MB  # a kept set is copied for its caller (training/data/cache.py)
        copies, batch, supersample = SHAPES_RENDER
        render = copies * batch * (supersample * size) ** 2 * FLOAT_BYTES
        return (2 if kept else 1) * data + render
    if name not in IMAGES:
        return None
    images, shape = IMAGES[name]
    values = data_bytes(images, shape) // FLOAT_BYTES
    return 2 * values * FLOAT_BYTES + values * SOURCE_BYTES_PER_VALUE.get(name, 1)


def check_dataset_memory(name: str, image_size: int | None = None, dataset_size: int | None = None) -> None:
    """Refuse, with one sentence, a data set whose build would take more memory than the operator allows."""
    need = build_bytes(name, image_size, dataset_size)
    limit = data_mb(MAX_DATA_ENV)
    if need is None or need <= limit * MB:
        return
    need_mb = -(-need // MB)
    if name.strip().lower() == "shapes" and dataset_size is not None:
        raise UserError("Building the shapes data set of {images:,} images at {size}x{size} pixels would take about "
                        "{need:,} MB of memory, more than the {limit:,} MB this server allows ({env}); choose fewer "
                        "images or a smaller image size.",
                        images=dataset_size, size=image_size or 28, need=need_mb, limit=limit, env=MAX_DATA_ENV)
    if name.strip().lower() == "shapes":
        raise UserError("Building the shapes data set at {size}x{size} pixels would take about {need:,} MB of memory, "
                        "more than the {limit:,} MB this server allows ({env}); choose a smaller image size.",
                        size=image_size or 28, need=need_mb, limit=limit, env=MAX_DATA_ENV)
    raise UserError("Building the {name} data set would take about {need:,} MB of memory, more than the {limit:,} MB "
                    "this server allows ({env}).",
                    name=name.strip().lower(), need=need_mb, limit=limit, env=MAX_DATA_ENV)
