"""Where downloaded data sets live on disk, and the in-process cache for built-in sets."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

from .dataset import Dataset

ROOT_ENV_VAR = "VAE_EXPLORER_DATA"


def data_root(root: str | Path | None = None) -> Path:
    """The cache folder: ``root`` if given, else $VAE_EXPLORER_DATA, else ~/.cache/vae-explorer/data."""
    if root is None:
        root = os.environ.get(ROOT_ENV_VAR) or Path.home() / ".cache" / "vae-explorer" / "data"
    return Path(root).expanduser().resolve()


def memoized(build: Callable[..., Dataset]) -> Callable[..., Dataset]:
    """Cache ``build`` by its (hashable) arguments; every call gets its own tensor copies."""
    cached = functools.lru_cache(maxsize=4)(build)

    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> Dataset:
        return cached(*args, **kwargs).clone()

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper
