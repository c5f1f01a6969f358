"""Where downloaded data sets live on disk (``data_root``, read by training/core/environment.py), and the
in-process cache for built-in sets: the most recently used ones, as many as fit $VAE_EXPLORER_DATA_CACHE_MB
together (the bytes of their tensors; a set larger than that is built for each call and never kept)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Callable

from training.core.environment import DATA_CACHE_ENV, DATA_ENV as ROOT_ENV_VAR, data_mb, data_root

from .dataset import Dataset

__all__ = ["ROOT_ENV_VAR", "data_root", "memoized", "dataset_nbytes"]

MB = 1024**2


def dataset_nbytes(data: Dataset) -> int:
    return sum(t.numel() * t.element_size() for t in (data.x_train, data.y_train, data.x_test, data.y_test)
               if t is not None)


class _Kept:
    """Built data sets by their builder's arguments, least recently used first, within a byte budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sets: OrderedDict[tuple, tuple[Dataset, int]] = OrderedDict()

    def get(self, key: tuple) -> Dataset | None:
        with self.lock:
            if key not in self.sets:
                return None
            self.sets.move_to_end(key)
            return self.sets[key][0]

    def put(self, key: tuple, data: Dataset, budget: int) -> bool:
        """Keep DATA, dropping the least recently used sets until it fits; False if it alone does not."""
        size = dataset_nbytes(data)
        with self.lock:
            self.sets.pop(key, None)
            if size > budget:
                return False
            while self.sets and sum(n for _, n in self.sets.values()) + size > budget:
                self.sets.popitem(last=False)
            self.sets[key] = (data, size)
            return True

    def nbytes(self) -> int:
        with self.lock:
            return sum(n for _, n in self.sets.values())

    def clear(self) -> None:
        with self.lock:
            self.sets.clear()


def memoized(build: Callable[..., Dataset]) -> Callable[..., Dataset]:
    """Cache ``build`` by its (hashable) arguments within the byte budget; every call gets its own tensor copies."""
    kept = _Kept()

    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> Dataset:
        key = (args, tuple(sorted(kwargs.items())))
        data = kept.get(key)
        if data is None:
            data = build(*args, **kwargs)
            if not kept.put(key, data, data_mb(DATA_CACHE_ENV) * MB):
                return data  # not kept: the caller's alone
        return data.clone()

    wrapper.cache_clear = kept.clear  # type: ignore[attr-defined]
    wrapper.cache_nbytes = kept.nbytes  # type: ignore[attr-defined]
    return wrapper
