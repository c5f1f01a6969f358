"""Any folder of images as a data set (``folder:PATH``).

If the folder has sub-folders containing images, each sub-folder is a class
(labels = sorted sub-folder names, images found recursively inside; loose
files at the top are then ignored). Otherwise the folder's own images are
used without labels. Images are resized (stretched) to a square, converted to
grayscale or RGB, and split 80/20 with a fixed seed. Each image's mode is
converted by training/data/image_file.py (``to_array``: 16-bit and 32-bit images
scaled by their own depth, 65,535 white, not clipped to 8 bits; palette, CMYK,
transparency and EXIF orientation handled there), then stretched as
training/data/preprocess.py's ``stretch`` says.

Files that are not used are counted in ``Dataset.skipped`` with a few named,
each with why: unreadable, larger than MAX_PIXELS (checked from the file's
header before it is decoded), or a symlink leading out of the folder (class
folders and files alike: a link to / is never walked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from training.core.config import FOLDER_PREFIX
from training.core.errors import UserError
from .dataset import Dataset, images_to_tensor, split_indices
from .image_file import MAX_PIXELS, to_array
from .preprocess import stretch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_IMAGES = 200_000
MAX_VALUES = 1_500_000_000  # N*C*H*W cap, about 6 GB of float32
EXAMPLES = 5                # skipped files named in the note
_SPLIT_SEED = 0


def load_folder(path: str | Path, image_size: int = 28, channels: int = 1) -> Dataset:
    """Read every image under ``path`` into a Dataset named ``folder:<absolute path>``."""
    folder = Path(path).expanduser().resolve()
    if not folder.exists():
        raise UserError("Image folder {folder} does not exist.",
            folder=folder)
    if not folder.is_dir():
        raise UserError("{folder} is not a folder; folder: needs a directory of images.",
            folder=folder)

    files, labels, class_names, outside = _find_images(folder)
    if len(files) * channels * image_size * image_size > MAX_VALUES:
        raise UserError("{files:,} images at {image_size}x{image_size} would not fit in memory; use a smaller "
            "image size.",
            files=len(files), image_size=image_size)

    images, ok, why = _read_images(files, image_size, channels)
    skipped = [f"{_shown(p, folder)} ({reason})" for p, reason in outside]
    skipped += [f"{_shown(files[i], folder)} ({why[i]})" for i in np.flatnonzero(~ok)]
    images = images[ok]
    labels = labels[ok] if labels is not None else None
    if len(images) == 0:
        raise UserError("No readable images (png, jpg, jpeg, bmp, gif, webp) found in {folder}.",
            folder=folder)
    if len(images) < 2:
        raise UserError("{folder} has only one readable image; a data set needs at least 2.",
            folder=folder)

    train, test = split_indices(len(images), 0.2, labels, seed=_SPLIT_SEED)
    return Dataset(
        name=f"{FOLDER_PREFIX}{folder}",
        x_train=images_to_tensor(images[train], 255.0),
        y_train=None if labels is None else torch.from_numpy(labels[train]),
        x_test=images_to_tensor(images[test], 255.0),
        y_test=None if labels is None else torch.from_numpy(labels[test]),
        image_shape=(channels, image_size, image_size),
        label_names=class_names,
        skipped=len(skipped),
        skipped_examples=tuple(skipped[:EXAMPLES]),
    )


def _shown(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _inside(path: Path, folder: Path) -> bool:
    """PATH, its symlinks followed, lies within FOLDER (already resolved)."""
    try:
        path.resolve().relative_to(folder)
        return True
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a broken or looping link
        return False


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()


def _find_images(folder: Path) -> tuple[list[Path], np.ndarray | None, list[str] | None, list[tuple[Path, str]]]:
    """Image paths in a fixed order, with class indices and names for the sub-folder layout, and the
    entries left out because their links lead outside FOLDER (never walked, never read)."""
    seen = 0
    outside: list[tuple[Path, str]] = []

    def capped(paths):  # stop walking as soon as the folder is known to be too big
        nonlocal seen
        for p in paths:
            if _is_image(p):
                if p.is_symlink() and not _inside(p, folder):
                    outside.append((p, "a link leading out of the folder"))
                    continue
                seen += 1
                if seen > MAX_IMAGES:
                    raise UserError("{folder} holds more than {max_images:,} images, the limit; use a smaller folder.",
                        folder=folder, max_images=MAX_IMAGES)
                yield p

    subfolders = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_dir():
            continue
        if p.is_symlink() and not _inside(p, folder):
            outside.append((p, "a folder link leading out of the folder"))
            continue
        subfolders.append(p)
    classes = [(d.name, sorted(capped(d.rglob("*")))) for d in subfolders]
    classes = [(name, files) for name, files in classes if files]
    if not classes:
        seen = 0
        return sorted(capped(folder.iterdir())), None, None, outside
    files = [f for _, class_files in classes for f in class_files]
    labels = np.concatenate([np.full(len(fs), i, dtype=np.int64) for i, (_, fs) in enumerate(classes)])
    return files, labels, [name for name, _ in classes], outside


def _read_images(files: list[Path], image_size: int, channels: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode into uint8 (N, C, S, S); the bool mask marks files that could be used, and ``why`` says
    why each other one was not."""
    from PIL import Image

    images = np.zeros((len(files), image_size, image_size, channels), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    why = [""] * len(files)
    for i, path in enumerate(files):  # decoding is inherently one file at a time
        try:
            with Image.open(path) as image:
                width, height = image.size  # from the header: nothing decoded yet
                if width * height > MAX_PIXELS:
                    why[i] = f"{width} x {height} pixels, over the {MAX_PIXELS:,} allowed"
                    continue
                pixels = stretch(to_array(image), (channels, image_size, image_size))  # modes: image_file.py
                images[i] = np.rint(pixels.transpose(1, 2, 0) * 255.0).astype(np.uint8)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, Image.DecompressionBombError) as err:
            why[i] = f"not readable as an image: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
            continue
        ok[i] = True
    return images.transpose(0, 3, 1, 2), ok, why
