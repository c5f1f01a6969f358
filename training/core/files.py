"""Writing a file whole (the one atomic writer of the project) and reading one bounded (the one reader of a run's
or a model folder's files).

Every write goes first to a hidden temporary file beside its target, named uniquely per write (``mkstemp``), so
two processes writing the same file never share a temporary file; it is then renamed over the target (readers
see the old file or the new one, never a part) or, to create a file that must not exist yet, hard-linked to it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

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


def open_plain(path: str | Path, what: str) -> BinaryIO:
    """PATH opened for reading if it is a plain file; else one sentence naming WHAT it should be.

    Opened without following a link at its last step (a run's file linked to /dev/zero or to a file elsewhere
    is refused), without blocking (a FIFO put in a file's place is refused at once, never waited on), and
    checked to be a regular file on the open descriptor itself (no swap between the check and the read).
    A missing file raises FileNotFoundError, for callers to whom missing means "none yet".
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UserError("{path} is a link; {what} is read only from a plain file in its folder.",
                            path=path, what=what) from None
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileNotFoundError(err.errno, err.strerror, str(path)) from None
        raise UserError("{path} cannot be read ({why}).", path=path, why=err.strerror) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError("{path} is not a plain file (a folder, a pipe or a device); {what} is read only from one.",
                        path=path, what=what)
    os.set_blocking(fd, True)  # a regular file: reads never wait on another process
    return os.fdopen(fd, "rb")


def read_bounded(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of PATH (opened by ``open_plain``), refused from its size before any byte is read (a sparse
    3 GB file costs nothing) and never read past LIMIT even if it grows meanwhile."""
    with open_plain(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise UserError("{path} is {size:,} bytes; {what} is at most {limit:,}.",
                            path=path, size=size, what=what, limit=limit)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UserError("{path} is over {limit:,} bytes; {what} is at most {limit:,}.", path=path, limit=limit, what=what)
    return data
