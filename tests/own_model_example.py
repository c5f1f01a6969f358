"""An example of "your own model" for training/models/adapter.py (used by tests/test_adapter.py): plain numpy, no
torch module, not this library's architecture: z -> a linear map of 8x8 images, sigmoid."""

from __future__ import annotations

import numpy as np


class LinearVAE:
    image_shape = (1, 8, 8)
    dataset = "digits"

    def __init__(self, z_dim: int = 3, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.w_enc = rng.normal(0, 0.3, (64, 2 * z_dim)).astype(np.float32)
        self.w_dec = rng.normal(0, 1.0, (z_dim, 64)).astype(np.float32)

    def encode(self, x):
        h = np.asarray(x, np.float32).reshape(len(x), 64) @ self.w_enc
        return np.split(h, 2, axis=1)

    def decode(self, z):
        logits = np.asarray(z, np.float32) @ self.w_dec
        return (1 / (1 + np.exp(-logits))).reshape(-1, 1, 8, 8)


def make() -> LinearVAE:
    return LinearVAE()


def broken():
    return object()
