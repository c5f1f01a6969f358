"""Writing a file whole and reading one safely: the one atomic writer and the one checked reader of the project.

Every write goes first to a hidden temporary file beside its target, named uniquely per write (``mkstemp``), so
two processes writing the same file never share a temporary file; it is then renamed over the target (readers
see the old file or the new one, never a part) or, to create a file that must not exist yet, hard-linked to it.

Every file of a run or model folder is read through ``open_regular`` / ``read_bounded``: opened without blocking
and without following a link, checked to be a regular file on the open descriptor, its size checked before it is
read, and never more than its limit read.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from training.core.errors import UserError

UMASK = os.umask(0o022)  # read once: the mode a plain open() would give a new file
os.umask(UMASK)


def write_temporary(path: Path, data: bytes, durable: bool = True, mode: int | None = None) -> str:
    """DATA in a new hidden file beside PATH (its name unique to this write); that file's name. ``durable``
    fsyncs it; ``mode`` defaults to what the umask gives a new file (mkstemp would make it 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~UMASK if mode is None else mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    ``durable`` also fsyncs before the rename (checkpoints); a status file rewritten every second
    only needs the rename to be atomic.
    """
    tmp = write_temporary(path, data, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- reading a file of a run or model folder ------------------------------------------------------------------
def open_regular(path: str | Path, what: str, follow_links: bool = False) -> BinaryIO:
    """PATH opened for reading, refused with one sentence unless it is a regular file: a FIFO (which would block
    a reader forever), a device such as /dev/zero (which never ends), a folder or a socket. The open itself
    never blocks (``O_NONBLOCK``) and the check is made on the open descriptor (``fstat``), so the file cannot
    be swapped between the check and the read. A run or model folder's own files are opened without following
    a link (``follow_links=False``, the default: nothing in a run folder is a link, and one to elsewhere is
    someone's doing); files found by the operator's settings may be links. A missing file raises
    FileNotFoundError, for the caller to treat as absent; WHAT names the file in sentences ("a status file")."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_links:
            raise UserError("{path} is a link; {what} must be a regular file in its folder.",
                            path=path, what=what) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError("{path} is not a regular file; {what} must be one.", path=path, what=what)
        os.set_blocking(fd, True)  # a regular file: reads wait for the disk, as they should
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_appending(path: str | Path, what: str) -> BinaryIO:
    """PATH opened to append to (made if missing, unbuffered), refused with one sentence unless it is a regular
    file of its folder: a FIFO put in a log's place would block the writer, a link would write elsewhere. The
    open never blocks (``O_NONBLOCK``; a FIFO without a reader is refused by the kernel) and the check is made on
    the open descriptor."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENXIO):
            raise UserError("{path} is not a regular file; {what} must be one.", path=path, what=what) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError("{path} is not a regular file; {what} must be one.", path=path, what=what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "ab", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | Path, limit: int, what: str, follow_links: bool = False,
                 too_large: Callable[[int], UserError] | None = None) -> bytes:
    """The bytes of PATH, a regular file (``open_regular``), refused from its size before any is read (a sparse
    3 GB file costs nothing), and never more than ``limit`` read even if it grows meanwhile. ``too_large`` makes
    the refusal's sentence from the size, where the file's kind has a better one than the general sentence."""
    with open_regular(path, what, follow_links) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise too_large(size) if too_large is not None else UserError(
                "{path} is {size:,} bytes; {what} is at most {limit:,}.", path=path, size=size, what=what, limit=limit)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise too_large(len(data)) if too_large is not None else UserError(
            "{path} is over {limit:,} bytes; {what} is at most {limit:,}.", path=path, limit=limit, what=what)
    return data
