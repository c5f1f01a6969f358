"""One writer per run: an exclusive ``flock`` on ``RUN_DIR/.lock``, held by whoever writes the run.

A training process holds it from the moment it claims the run until it exits; the app holds it for
the instant it takes to queue, cancel or delete a run. The kernel drops the lock when its holder
dies, however it dies (SIGKILL, OOM, a power cut of a remote node over NFS), so a lock is never
stale: a run whose status says "running" but whose lock is free has lost its owner ("interrupted").

A lock is only as good as its file: a holder whose ``.lock`` was removed (``rm RUN/.lock``, ``rm -rf RUN``)
or replaced still holds a lock on a file nobody else can open, and another process could lock a new one. So
the holder remembers its file's inode and checks, at every heartbeat, that ``RUN_DIR/.lock`` is still that
file (``still_held``); a training whose lock is gone stops with ``lost_sentence`` and writes nothing more.

Readers test the lock without taking it for more than an instant (``owner_alive``). A writer that is
refused says why in the sentence its caller passes in (``training.runs.status.busy_message`` names the
process from the run's status); this module reads no other file. No torch here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from training.core.errors import UserError, sentence
from training.runs.layout import LOCK

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class RunBusy(UserError):
    """Another live process writes this run."""


class RunLock:
    """``with RunLock(run_dir):`` or ``lock.acquire()`` ... ``lock.release()``; not reentrant."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, busy_message: str | Callable[[], str] | None = None, patience: float = 0.5) -> "RunLock":
        """Take the lock or raise RunBusy with one sentence: ``busy_message``, or what it returns when called
        (only once the lock is refused), else ``busy_sentence``. Waits ``patience`` seconds at most, so that a
        reader's momentary test of the lock never makes a writer fail."""
        if self._fd is not None:
            return self
        deadline = time.monotonic() + patience
        while True:
            fd = _open_lock(self.run_dir, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in _BUSY:
                    raise UserError("Cannot lock {run_dir} ({strerror}); the file system must support file locks.",
                        run_dir=self.run_dir, strerror=err.strerror) from None
                if time.monotonic() >= deadline:
                    message = busy_message() if callable(busy_message) else busy_message
                    raise RunBusy(message or busy_sentence(self.run_dir)) from None
                time.sleep(0.02)
                continue
            if _same_file(self.run_dir, fd):
                break
            os.close(fd)  # the file was removed or replaced between our open and our lock: lock the new one
        self._fd = fd
        return self

    def still_held(self) -> bool:
        """Whether the run's lock file is still the one this lock holds (the same inode): False once someone
        removed it, or the whole run folder, or put another file in its place; from then on another process
        could lock the new file, and this one must stop writing the run."""
        return self._fd is not None and _same_file(self.run_dir, self._fd)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def owner_alive(run_dir: str | Path) -> bool:
    """Whether a live process holds the run's lock (a training, or the app in the middle of a change)."""
    try:
        fd = _open_lock(Path(run_dir), os.O_RDONLY)
    except OSError:
        return False  # no lock file (nobody ever claimed it, or it was removed), or not one
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError as err:
        return err.errno in _BUSY
    finally:
        os.close(fd)  # also drops the shared lock, if it was taken


def _open_lock(run_dir: Path, flags: int) -> int:
    """The lock file's descriptor: never through a link, never blocking (a FIFO put in its place)."""
    return os.open(run_dir / LOCK, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)


def _same_file(run_dir: Path, fd: int) -> bool:
    """Whether RUN_DIR/.lock is (still) the file open as FD: same device, same inode."""
    try:
        named = os.stat(run_dir / LOCK, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


class RunLost(UserError):
    """The lock file this training held was removed or replaced: it stops without writing the run again."""


def lost_sentence(run_dir: Path) -> RunLost:
    return RunLost(LOST, run_dir=run_dir, lock=LOCK)


LOST = sentence("{run_dir} is no longer this training's to write: its lock file {lock} was removed or replaced "
                "while it trained; it stops here without writing anything more.")


def busy_sentence(run_dir: Path, owner: tuple[int, str] | None = None) -> str:
    """'runs/x is being written by process 123 on host h right now; ...': OWNER is (pid, host) when known."""
    where = f" by process {owner[0]} on {owner[1]}" if owner is not None else ""
    return (f"{run_dir} is being written{where} right now; wait for it to end, or stop it first "
            f"(the Stop button, or: python -m training stop {run_dir}).")
