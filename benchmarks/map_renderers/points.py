"""(Streamlit puts this folder on sys.path: the apps import it as `points`.)
N random 2-D points in 10 colour classes (10 Gaussian blobs), the same for every renderer: MAP_N from the env."""

from __future__ import annotations

import os

import numpy as np

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def points(n: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(xy (N, 2) float32 in [-1, 1], c (N,) int8 class) for N = MAP_N (default 10,000)."""
    n = int(os.environ.get("MAP_N", "10000")) if n is None else n
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 10, n).astype(np.int8)
    centres = rng.uniform(-0.6, 0.6, (10, 2))
    xy = centres[c] + rng.normal(0, 0.12, (n, 2))
    return np.clip(xy, -1, 1).astype(np.float32), c
