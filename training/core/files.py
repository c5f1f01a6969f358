"""Writing a file whole: the one atomic writer of the project.

Every write goes first to a hidden temporary file beside its target, named uniquely per write (``mkstemp``), so
two processes writing the same file never share a temporary file; it is then renamed over the target (readers
see the old file or the new one, never a part) or, to create a file that must not exist yet, hard-linked to it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
