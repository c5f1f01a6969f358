"""A large shapes set is kept on disk once rendered (training/data/shapes_cache.py): the next load reads it, bit for
bit the render; a damaged or foreign file is ignored and written over; a folder that cannot be written only means
no caching; the file is a plain uint8 .npy, never a pickle."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from training.data import shapes, shapes_cache

SIZE, PX = 60, 8  # a small set, above the lowered threshold
RENDER = shapes.render_shapes  # the real one, whatever a test puts in its place


@pytest.fixture(autouse=True)
def small_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shapes_cache, "MIN_IMAGES", 50)
    monkeypatch.setattr(shapes_cache, "_CHUNK", 7)  # several chunks, one of them partial
    shapes.load_shapes.cache_clear()
    yield
    shapes.load_shapes.cache_clear()


def _load():
    shapes.load_shapes.cache_clear()  # the in-process cache would hide the disk
    return shapes.load_shapes(PX, 3, SIZE)


def _fresh_render() -> tuple[np.ndarray, np.ndarray]:
    n_train, _ = shapes.split_sizes(SIZE)
    images = RENDER(shapes.sample_factors(SIZE, 3), PX)
    return images[:n_train], images[n_train:]


def _no_render(monkeypatch):
    """Rendering a whole split fails from here on (the probe of a few images may still render)."""
    def refuse(factors, image_size=28, out=None):
        if len(factors) > shapes._PROBE:
            raise AssertionError("rendered instead of read")
        return RENDER(factors, image_size, out)

    monkeypatch.setattr(shapes, "render_shapes", refuse)


def _same_bits(data) -> None:
    train, test = _fresh_render()
    assert data.x_train.dtype == torch.float32 and data.x_train.numpy().tobytes() == train.tobytes()
    assert data.x_test.numpy().tobytes() == test.tobytes()


def test_the_second_load_reads_the_file_bit_for_bit(monkeypatch):
    first = _load()
    file = shapes_cache.path(SIZE, PX, 3)
    assert file.is_file() and file.stat().st_size < SIZE * PX * PX + 200  # one byte a pixel
    _no_render(monkeypatch)
    second = _load()
    _same_bits(second)
    assert torch.equal(second.y_train, first.y_train) and torch.equal(second.y_test, first.y_test)


def test_the_file_is_a_plain_uint8_npy_not_a_pickle():
    _load()
    stored = np.load(shapes_cache.path(SIZE, PX, 3))  # allow_pickle is False by default: a pickle would raise
    assert stored.dtype == np.uint8 and stored.shape == (SIZE, 1, PX, PX) and stored.max() <= 9
    train, test = _fresh_render()
    assert np.array_equal(stored * np.float32(1 / 9), np.concatenate([train, test]))


def test_a_small_set_is_not_kept():
    shapes.load_shapes.cache_clear()
    shapes.load_shapes(PX, 3, 40)
    assert not shapes_cache.folder().exists() or not list(shapes_cache.folder().iterdir())


@pytest.mark.parametrize("damage", ["truncated", "wrong shape", "out of range", "garbage", "older rendering"])
def test_a_damaged_file_is_ignored_and_replaced(damage):
    _load()
    file = shapes_cache.path(SIZE, PX, 3)
    good = file.read_bytes()
    if damage == "truncated":
        file.write_bytes(good[:-10])
    elif damage == "wrong shape":
        np.save(file, np.zeros((SIZE, 1, PX, PX + 1), np.uint8))
    elif damage == "out of range":
        np.save(file, np.full((SIZE, 1, PX, PX), 10, np.uint8))
    elif damage == "garbage":
        file.write_bytes(b"\x93NUMPY not an array at all" * 100)
    else:  # a file of the right form whose images are not this rendering's
        np.save(file, np.zeros((SIZE, 1, PX, PX), np.uint8))
    _same_bits(_load())
    assert file.read_bytes() == good  # written again


def test_an_unwritable_folder_still_loads(monkeypatch, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(blocked))
    _same_bits(_load())
    assert blocked.read_text().startswith("a file")


def test_a_short_disk_skips_the_write(monkeypatch):
    monkeypatch.setattr(shapes_cache, "MIN_FREE_BYTES", 1 << 62)
    _same_bits(_load())
    folder = shapes_cache.folder()
    assert not folder.exists() or not [p for p in folder.iterdir()]  # no file, no temporary left


def test_the_oldest_files_go_beyond_the_bound(monkeypatch):
    nbytes = 128 + SIZE * PX * PX  # a file: its header, a byte a pixel
    monkeypatch.setattr(shapes_cache, "MAX_BYTES", 2 * nbytes + 100)  # room for two
    for seed in (1, 2, 3):
        shapes.load_shapes.cache_clear()
        shapes.load_shapes(PX, seed, SIZE)
        file = shapes_cache.path(SIZE, PX, seed)
        os.utime(file, ns=(seed * 10**9, seed * 10**9))  # in order of use, whatever the clock's grain
    kept = sorted(p.name for p in shapes_cache.folder().iterdir())
    assert kept == sorted(shapes_cache.path(SIZE, PX, s).name for s in (2, 3))
