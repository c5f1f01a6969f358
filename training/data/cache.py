"""Where downloaded data sets live on disk (``data_root``, read by training/core/environment.py), and the
in-process cache for built-in sets."""

from __future__ import annotations

import functools
from typing import Callable

from training.core.environment import DATA_ENV as ROOT_ENV_VAR, data_root

from .dataset import Dataset

__all__ = ["ROOT_ENV_VAR", "data_root", "memoized"]


def memoized(build: Callable[..., Dataset]) -> Callable[..., Dataset]:
    """Cache ``build`` by its (hashable) arguments; every call gets its own tensor copies."""
    cached = functools.lru_cache(maxsize=4)(build)

    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> Dataset:
        return cached(*args, **kwargs).clone()

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper
