"""The disk cache of latent-map projections (training/analysis/map_cache.py): computed once per mu, then read;
whatever else is in its folder is a miss, never an error and never unpickled."""

from __future__ import annotations

import os

import numpy as np
import pytest

from training.analysis import map_cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(map_cache.ENV, str(tmp_path))
    return tmp_path / "maps"


def mu_of(seed: int, n: int = 50) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)


def test_computed_once_then_read_back_exactly(cache_dir):
    calls = []

    def compute():
        calls.append(1)
        return np.random.default_rng(len(calls)).standard_normal((50, 2))

    first, hit1 = map_cache.cached(mu_of(0), "umap", 0, 30.0, compute)
    second, hit2 = map_cache.cached(mu_of(0), "umap", 0, 30.0, compute)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (50, 2)
    assert len(list(cache_dir.glob("*.npy"))) == 1 and not list(cache_dir.glob("*.tmp"))


def test_the_key_is_everything_the_projection_depends_on():
    base = map_cache.key(mu_of(0), "tsne", 0, 30.0)
    assert base == map_cache.key(mu_of(0).astype(np.float64), "tsne", 0, 30.0)  # same values
    moved = mu_of(0)
    moved[3, 1] += 1e-3
    others = {map_cache.key(moved, "tsne", 0, 30.0), map_cache.key(mu_of(0), "umap", 0, 30.0),
              map_cache.key(mu_of(0), "tsne", 1, 30.0), map_cache.key(mu_of(0), "tsne", 0, 5.0),
              map_cache.key(mu_of(0, 49), "tsne", 0, 30.0)}
    assert base not in others and len(others) == 5


@pytest.mark.parametrize("content", [
    "pickle",        # an object array: would need pickle to load
    "wrong shape",   # (N, 3)
    "truncated",     # header says (N, 2), data cut short
    "nan",           # not finite
    "junk",          # not an .npy at all
])
def test_a_bad_cache_file_is_a_miss_and_is_replaced(cache_dir, content):
    mu = mu_of(1)
    name = map_cache.key(mu, "tsne", 0, 30.0)
    cache_dir.mkdir(parents=True)
    path = cache_dir / f"{name}.npy"
    if content == "pickle":
        np.save(path, np.array([{"a": 1}] * 50, dtype=object), allow_pickle=True)
    elif content == "wrong shape":
        np.save(path, np.zeros((50, 3), np.float32))
    elif content == "truncated":
        np.save(path, np.zeros((50, 2), np.float32))
        path.write_bytes(path.read_bytes()[:-40])
    elif content == "nan":
        np.save(path, np.full((50, 2), np.nan, np.float32))
    else:
        path.write_bytes(b"not a numpy file at all")
    assert map_cache.load(name, 50) is None
    coords, hit = map_cache.cached(mu, "tsne", 0, 30.0, lambda: np.ones((50, 2)))
    assert not hit and (coords == 1).all()
    assert (map_cache.load(name, 50) == 1).all()  # replaced by the good one


def test_a_folder_that_cannot_be_written_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(map_cache.ENV, str(blocker))
    coords, hit = map_cache.cached(mu_of(2), "umap", 0, 30.0, lambda: np.zeros((50, 2)))
    assert not hit and coords.shape == (50, 2)


def test_the_oldest_files_go_beyond_the_limit(cache_dir, monkeypatch):
    monkeypatch.setattr(map_cache, "MAX_FILES", 3)
    names = []
    for seed in range(5):
        mu = mu_of(seed)
        names.append(map_cache.key(mu, "umap", 0, 30.0))
        map_cache.cached(mu, "umap", 0, 30.0, lambda: np.zeros((50, 2)))
        path = cache_dir / f"{names[-1]}.npy"
        os.utime(path, ns=(seed * 10**9, seed * 10**9))  # distinct ages
    kept = sorted(p.stem for p in cache_dir.glob("*.npy"))
    assert len(kept) == 3 and names[-1] in kept and names[0] not in kept
