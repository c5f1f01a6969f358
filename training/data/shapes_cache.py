"""Rendered shapes kept on disk, so that a server's restart reads a large shapes set instead of rendering it again.

Every pixel of a rendered shape is ``hits / LEVELS`` in float32, ``hits`` an integer 0..LEVELS (the shape's
sub-pixels of its 3x3 supersampled grid: training/data/shapes.py). The file keeps ``hits`` as uint8, one byte a
pixel, train images then test images in one plain ``.npy`` of shape (N, 1, S, S); reading multiplies them back
the way the render does, so the tensors are bit for bit the render's. The factors are not stored: they are
sampled again from the seed (milliseconds).

A file is named by the set's size, image size and seed and this module's ``VERSION`` (raise it when the rendering
changes; the reader also re-renders a few images and compares them). It is read without pickle after its header
says uint8 of the shape asked for and its size on disk matches; anything else (a truncated file, a value above
LEVELS) is a miss: the set is rendered again and the file written over. It is read and written a batch at a time
into and from the set's own float32 tensors, so the build's memory peak stays the render's
(training/data/budget.py). Only sets of at least ``MIN_IMAGES`` images are kept; a file is written whole (a
temporary file, then a rename), the oldest are removed beyond ``MAX_BYTES`` together, and nothing is written when
the folder cannot be written or its disk would keep less than ``MIN_FREE_BYTES`` free (no caching, no error).

Folder: ``$VAE_EXPLORER_CACHE/shapes``, default ``~/.cache/vae-explorer/shapes``.

Measured on 2 cores shared with other work (load 7 to 12), median of 3 fresh processes: ``load_shapes(28, 0,
200000)`` takes 13.7 s rendering (15.4 s the first time, rendering and writing) and 2.2 s reading its 157 MB file
(of which read_into 0.7 s; the rest is the float32 tensors' first touch and the in-process cache's copy); single
runs under heavier load reached 40 s and 13 s. The peak is 1,210 MB above the imports either way.
"""

from __future__ import annotations

import os
import shutil
from io import BytesIO
from pathlib import Path

import numpy as np

from training.core.environment import cache_root
from training.core.files import open_regular, write_temporary

VERSION = 1
MIN_IMAGES = 50_000  # smaller sets render in under 3 s: not worth the disk
MAX_BYTES = 2 * 1024**3  # all the files together; the least recently used go first
MIN_FREE_BYTES = 512 * 1024**2  # left free on the disk after a write, or nothing is written
_CHUNK = 4096  # images converted at a time (3 MB of uint8 at 28 px)


def folder() -> Path:
    return cache_root() / "shapes"


def path(size: int, image_size: int, seed: int) -> Path:
    return folder() / f"shapes-v{VERSION}-{size}-{image_size}px-seed{seed}.npy"


def worth_keeping(size: int | None) -> bool:
    return size is not None and size >= MIN_IMAGES


def read_into(file: Path, parts: list[np.ndarray], levels: int) -> bool:
    """Fill the float32 arrays PARTS (each (n, 1, S, S), in the file's order) from FILE; False when FILE is
    missing or not what it should be (PARTS may then be partly written: the caller renders them again)."""
    n = sum(len(p) for p in parts)
    shape = (n, *parts[0].shape[1:])
    pixels = int(np.prod(shape[1:]))
    scale = np.float32(1.0 / levels)
    try:
        with open_regular(file, "a shapes cache file", follow_links=True) as f:  # never blocks on a FIFO
            if np.lib.format.read_magic(f) != (1, 0):
                return False
            header_shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            if header_shape != shape or fortran or dtype != np.dtype("u1"):
                return False
            if os.fstat(f.fileno()).st_size != f.tell() + n * pixels:
                return False
            for part in parts:
                for start in range(0, len(part), _CHUNK):
                    out = part[start:start + _CHUNK]
                    hits = np.fromfile(f, dtype=np.uint8, count=out.size)
                    if hits.size != out.size or hits.max(initial=0) > levels:
                        return False
                    np.multiply(hits.reshape(out.shape), scale, out=out)  # as the render: hits * float32(1/k^2)
    except (OSError, ValueError):
        return False
    try:
        os.utime(file)  # recently used: pruned last
    except OSError:
        pass  # a read-only cache still serves
    return True


def write_from(file: Path, parts: list[np.ndarray], levels: int) -> bool:
    """Keep the float32 arrays PARTS (pixels hits / LEVELS) in FILE as uint8 hits; whether it was written.
    Skipped when the folder cannot be written, the disk is short, the file alone passes MAX_BYTES, or a pixel
    is not exactly hits / LEVELS."""
    n = sum(len(p) for p in parts)
    shape = (n, *parts[0].shape[1:])
    header = _header(shape)
    nbytes = len(header) + n * int(np.prod(shape[1:]))
    if nbytes > MAX_BYTES:
        return False
    scale = np.float32(1.0 / levels)
    tmp = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        _prune(file.parent, keep=MAX_BYTES - nbytes, skip=file)
        if shutil.disk_usage(file.parent).free < nbytes + MIN_FREE_BYTES:
            return False
        tmp = write_temporary(file, header, durable=False)
        with open(tmp, "ab") as f:
            for part in parts:
                for start in range(0, len(part), _CHUNK):
                    x = part[start:start + _CHUNK]
                    hits = np.rint(x * np.float32(levels)).astype(np.uint8)
                    if not np.array_equal(hits * scale, x):
                        return False  # not a render of hits / LEVELS: nothing to keep
                    f.write(hits.tobytes())
        os.replace(tmp, file)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _header(shape: tuple[int, ...]) -> bytes:
    buffer = BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _prune(target: Path, keep: int, skip: Path) -> None:
    """Remove the least recently used files (not SKIP) until the others take at most KEEP bytes."""
    files = []
    for p in target.glob("shapes-*.npy"):
        try:
            if p != skip:
                stat = p.stat()
                files.append((stat.st_mtime_ns, stat.st_size, p))
        except OSError:
            continue
    files.sort()
    total = sum(size for _, size, _ in files)
    for _, size, old in files:
        if total <= keep:
            break
        old.unlink(missing_ok=True)
        total -= size
