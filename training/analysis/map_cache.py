"""Latent-map projections kept on disk: a t-SNE or UMAP is computed once per model and test set, then
read back in milliseconds by every visitor, page and server restart.

A file's name is the SHA-256 of what the projection depends on: the bytes of mu (so the model's
weights, its epoch and its test images), the method, the seed, the perplexity and this module's
``VERSION`` (raise it when the embedding's settings change). The file is a plain ``.npy`` of
(N, 2) float32, read without pickle after its header says that shape; anything else is a miss and is
computed again. Files are written whole (a temporary file, then a rename), and the oldest are removed
beyond ``MAX_FILES`` (80 KB each for 10,000 points). A folder that cannot be written only means no
caching.

Folder: ``$VAE_EXPLORER_CACHE/maps``, default ``~/.cache/vae-explorer/maps``.

Shipped embeddings: a model may carry its own, computed ahead (the bundled demos, ``make demos``:
explorer/demos/first_views.py), in ``<run folder>/maps/<key>.npy``, the same format. Their key is of the
weights' SHA-256 rather than of mu (mu computed on another machine may differ in its last bits), the number
of points, the method, the seed and the perplexity; they are read first (``cached(..., shipped=...)``) and
never written by the app (a bundled folder is read-only).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training.core.environment import CACHE_ENV, cache_root
from training.core.files import atomic_write, open_regular

ENV = CACHE_ENV  # read by training/core/environment.py
VERSION = 1
MAX_FILES = 256


def folder() -> Path:
    return cache_root() / "maps"


def key(mu: np.ndarray, method: str, seed: int, perplexity: float) -> str:
    mu = np.ascontiguousarray(mu, dtype=np.float32)
    h = hashlib.sha256(f"v{VERSION}|{method}|{seed}|{perplexity}|{mu.shape}".encode())
    h.update(mu.tobytes())
    return h.hexdigest()[:32]


def shipped_key(weights_digest: str, n: int, method: str, seed: int, perplexity: float) -> str:
    """The name of a shipped embedding of N points of the model whose weights have WEIGHTS_DIGEST."""
    text = f"v{VERSION}|{method}|{seed}|{perplexity}|{n}|{weights_digest}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def shipped_folder(run_dir: str | Path) -> Path:
    return Path(run_dir) / "maps"


def ship(run_dir: str | Path, weights_digest: str, method: str, seed: int, perplexity: float,
         coords: np.ndarray) -> Path:
    """Write COORDS (N, 2) as the shipped embedding of the model in RUN_DIR (``make demos`` only)."""
    name = shipped_key(weights_digest, len(coords), method, seed, perplexity)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(coords, dtype="<f4"), allow_pickle=False)
    path = shipped_folder(run_dir) / f"{name}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path


def shipped(run_dir: str | Path, weights_digest: str, n: int, method: str, seed: int,
            perplexity: float) -> np.ndarray | None:
    """The shipped (N, 2) embedding of the model in RUN_DIR, or None."""
    name = shipped_key(weights_digest, n, method, seed, perplexity)
    return load(name, n, shipped_folder(run_dir), touch=False)


def load(name: str, n: int, where: Path | None = None, touch: bool = True, width: int = 2) -> np.ndarray | None:
    """The stored (N, WIDTH) float32 array (2-D coordinates; an encoding's mu: WIDTH = Z), or None when there is
    none (or it is not what it should be: read from its header before its data)."""
    path = (folder() if where is None else where) / f"{name}.npy"
    try:
        with open_regular(path, "a map cache file", follow_links=True) as f:  # never blocks on a FIFO
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)  # the header only: checked before the data is read
            if shape != (n, width) or fortran or dtype != np.dtype("<f4"):
                return None
            coords = np.fromfile(f, dtype="<f4", count=n * width)
    except (OSError, ValueError):
        return None
    if coords.size != n * width or not np.isfinite(coords).all():
        return None
    if not touch:
        return coords.reshape(n, width)
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass  # a read-only cache still serves
    return coords.reshape(n, width)


def save(name: str, coords: np.ndarray) -> None:
    """Write whole or not at all; a folder that cannot be written is no error (only no cache)."""
    target = folder()
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(coords, dtype="<f4"), allow_pickle=False)
    try:
        target.mkdir(parents=True, exist_ok=True)
        atomic_write(target / f"{name}.npy", buffer.getvalue(), durable=False)
        _prune(target)
    except OSError:
        pass


def cached(mu: np.ndarray, method: str, seed: int, perplexity: float,
           compute: Callable[[], np.ndarray], shipped_with: tuple[str | Path, str] | None = None
           ) -> tuple[np.ndarray, bool]:
    """The coordinates from disk, or from COMPUTE (then stored); and whether they came from disk.
    SHIPPED_WITH (run folder, weights digest): look first for the embedding that model carries."""
    if shipped_with is not None:
        coords = shipped(shipped_with[0], shipped_with[1], len(mu), method, seed, perplexity)
        if coords is not None:
            return coords, True
    name = key(mu, method, seed, perplexity)
    coords = load(name, len(mu))
    if coords is not None:
        return coords, True
    coords = np.asarray(compute(), dtype=np.float32)
    save(name, coords)
    return coords, False


def _prune(target: Path) -> None:
    files = sorted(target.glob("*.npy"), key=lambda p: p.stat().st_mtime_ns)
    for old in files[:max(0, len(files) - MAX_FILES)]:
        old.unlink(missing_ok=True)
