"""mu(x) of every image of a data split (E3): encoded in chunks with progress, its memory checked before it is
paid, and kept on disk per model, split and data set beside the map's projections (training/analysis/map_cache.py).

    memory  = N x C x H x W x 4   the split's images as encoded (a copy when binarised or when both splits are
                                   joined; counted whole either way)
            + N x Z x 4           mu, float32
            checked against $VAE_EXPLORER_MAX_DATA_MB (training/core/environment.py, default 2048 MB: the limit
            of building one data set, which these points are a copy of) before anything is joined or encoded.
            The encoder's own chunks stay within $VAE_EXPLORER_PASS_MB (training/core/costs.py: images_per_chunk).

A file's name is the SHA-256 of the weights' digest (so the model and its epoch), the split, the data set's
identity (its name, channels, side, seed, binarisation and size) and this module's ``VERSION``; it is a plain
``.npy`` of (N, Z) float32, read through the bounded reader (no more than the header and N x Z x 4 bytes) and
without pickle; anything else is a miss and is encoded again. Written whole (map_cache's writer), pruned with
the projections (the oldest beyond ``map_cache.MAX_FILES``); a folder that cannot be written only means no
caching. Folder: ``$VAE_EXPLORER_CACHE/maps``, default ``~/.cache/vae-explorer/maps``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from training.analysis import map_cache
from training.analysis.latent import encode_posterior
from training.core.costs import images_per_chunk
from training.core.environment import MAX_DATA_ENV, data_mb
from training.core.errors import UserError

VERSION = 1
SPLITS = ("test", "train")
FLOAT_BYTES = 4
MB = 1024**2


def need_bytes(n: int, z_dim: int, image_shape: tuple[int, int, int]) -> int:
    """The memory N points take: their images as encoded and their mu (the module's docstring)."""
    c, h, w = image_shape
    return n * (c * h * w + z_dim) * FLOAT_BYTES


def check_memory(n: int, z_dim: int, image_shape: tuple[int, int, int]) -> None:
    """Refuse with one sentence, giving the figure, N points whose images and mu pass the data limit."""
    need, limit = need_bytes(n, z_dim, image_shape), data_mb(MAX_DATA_ENV)
    if need > limit * MB:
        raise UserError("The map's {n:,} points would take about {need:,} MB of memory (their images and their "
                        "encodings μ), more than the {limit:,} MB this server allows ({env}); choose the test images, "
                        "or an operator can raise {env}.",
                        n=n, need=-(-need // MB), limit=limit, env=MAX_DATA_ENV)


def encode_split(model, x, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """mu(x) (E3) of every image of X (N, C, H, W), numpy (N, Z) float32, in chunks of bounded memory; after each
    chunk PROGRESS(done, total)."""
    n, batch = int(x.shape[0]), images_per_chunk(model.cfg)
    mu = np.empty((n, model.latent_dim), np.float32)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        mu[start:stop] = encode_posterior(model, x[start:stop], batch)[0]
        if progress is not None:
            progress(stop, n)
    return mu


def key(weights_digest: str, split: str, data_id: str) -> str:
    """The cache file's name of the encodings of SPLIT of the data set DATA_ID by the weights WEIGHTS_DIGEST."""
    text = f"v{VERSION}|{split}|{data_id}|{weights_digest}"
    return "mu-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def load(name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The stored mu of SHAPE (N, Z), or None (map_cache's reader: the header checked before the data)."""
    return map_cache.load(name, shape[0], width=shape[1])


def cached_encodings(weights_digest: str, split: str, data_id: str, shape: tuple[int, int],
                     compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """mu (N, Z) of SPLIT from disk, or from COMPUTE (then stored); and whether it came from disk."""
    name = key(weights_digest, split, data_id)
    mu = load(name, shape)
    if mu is not None:
        return mu, True
    mu = np.ascontiguousarray(compute(), dtype=np.float32)
    map_cache.save(name, mu)
    return mu, False
