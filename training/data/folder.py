"""Any folder of images as a data set (``folder:PATH``).

If the folder has sub-folders containing images, each sub-folder is a class
(labels = sorted sub-folder names, images found recursively inside; loose
files at the top are then ignored). Otherwise the folder's own images are
used without labels. Images are resized (stretched) to a square, converted to
grayscale or RGB, and split 80/20 with a fixed seed. Unreadable files are
skipped and counted in ``Dataset.skipped``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from .dataset import Dataset, images_to_tensor, split_indices

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_IMAGES = 200_000
MAX_VALUES = 1_500_000_000  # N*C*H*W cap, about 6 GB of float32
_SPLIT_SEED = 0


def load_folder(path: str | Path, image_size: int = 28, channels: int = 1) -> Dataset:
    """Read every image under ``path`` into a Dataset named ``folder:<absolute path>``."""
    folder = Path(path).expanduser().resolve()
    if not folder.exists():
        raise UserError(f"Image folder {folder} does not exist.")
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; folder: needs a directory of images.")

    files, labels, class_names = _find_images(folder)
    if len(files) * channels * image_size * image_size > MAX_VALUES:
        raise UserError(f"{len(files):,} images at {image_size}x{image_size} would not fit in memory; use a smaller image size.")

    images, ok = _read_images(files, image_size, channels)
    skipped = int((~ok).sum())
    images = images[ok]
    labels = labels[ok] if labels is not None else None
    if len(images) == 0:
        raise UserError(f"No readable images (png, jpg, jpeg, bmp, gif, webp) found in {folder}.")
    if len(images) < 2:
        raise UserError(f"{folder} has only one readable image; a data set needs at least 2.")

    train, test = split_indices(len(images), 0.2, labels, seed=_SPLIT_SEED)
    return Dataset(
        name=f"folder:{folder}",
        x_train=images_to_tensor(images[train], 255.0),
        y_train=None if labels is None else torch.from_numpy(labels[train]),
        x_test=images_to_tensor(images[test], 255.0),
        y_test=None if labels is None else torch.from_numpy(labels[test]),
        image_shape=(channels, image_size, image_size),
        label_names=class_names,
        skipped=skipped,
    )


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()


def _find_images(folder: Path) -> tuple[list[Path], np.ndarray | None, list[str] | None]:
    """Image paths in a fixed order, with class indices and names for the sub-folder layout."""
    seen = 0

    def capped(paths):  # stop walking as soon as the folder is known to be too big
        nonlocal seen
        for p in paths:
            if _is_image(p):
                seen += 1
                if seen > MAX_IMAGES:
                    raise UserError(f"{folder} holds more than {MAX_IMAGES:,} images, the limit; use a smaller folder.")
                yield p

    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [(d.name, sorted(capped(d.rglob("*")))) for d in subfolders]
    classes = [(name, files) for name, files in classes if files]
    if not classes:
        seen = 0
        return sorted(capped(folder.iterdir())), None, None
    files = [f for _, class_files in classes for f in class_files]
    labels = np.concatenate([np.full(len(fs), i, dtype=np.int64) for i, (_, fs) in enumerate(classes)])
    return files, labels, [name for name, _ in classes]


def _read_images(files: list[Path], image_size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode into uint8 (N, C, S, S); the bool mask marks files that could be read."""
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    images = np.zeros((len(files), image_size, image_size, channels), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    for i, path in enumerate(files):  # decoding is inherently one file at a time
        try:
            with Image.open(path) as image:
                image = image.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR)
                images[i] = np.asarray(image).reshape(image_size, image_size, channels)
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
            continue
        ok[i] = True
    return images.transpose(0, 3, 1, 2), ok
