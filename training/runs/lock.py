"""One writer per run: an exclusive ``flock`` on ``RUN_DIR/.lock``, held by whoever writes the run.

A training process holds it from the moment it claims the run until it exits; the app holds it for
the instant it takes to queue, cancel or delete a run. The kernel drops the lock when its holder
dies, however it dies (SIGKILL, OOM, a power cut of a remote node over NFS), so a lock is never
stale: a run whose status says "running" but whose lock is free has lost its owner ("interrupted").

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

from training.core.errors import UserError
from training.runs.layout import LOCK

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class RunBusy(UserError):
    """Another live process writes this run."""


class RunLost(UserError):
    """The run's lock file was removed or replaced under its writer, which stops writing."""


def lost_sentence(run_dir: Path) -> RunLost:
    return RunLost("The lock file of {run_dir} was removed or replaced while this training wrote it; it stopped "
                   "writing, so that no second process writes the same run (its last checkpoint is kept).",
                   run_dir=run_dir)


class RunLock:
    """``with RunLock(run_dir):`` or ``lock.acquire()`` ... ``lock.release()``; not reentrant."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, busy_message: str | Callable[[], str] | None = None, patience: float = 0.5) -> "RunLock":
        """Take the lock or raise RunBusy with one sentence: ``busy_message``, or what it returns when called
        (only once the lock is refused), else ``busy_sentence``. Waits ``patience`` seconds at most, so that a
        reader's momentary test of the lock never makes a writer fail."""
        if self._fd is not None:
            return self
        fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in _BUSY or time.monotonic() >= deadline:
                    os.close(fd)
                    if err.errno in _BUSY:
                        message = busy_message() if callable(busy_message) else busy_message
                        raise RunBusy(message or busy_sentence(self.run_dir)) from None
                    raise UserError("Cannot lock {run_dir} ({strerror}); the file system must support file locks.",
                        run_dir=self.run_dir, strerror=err.strerror) from None
                time.sleep(0.02)
        self._fd = fd
        info = os.fstat(fd)
        self._identity = (info.st_dev, info.st_ino)
        return self

    def still_held(self) -> bool:
        """Whether the file this lock holds is still the run's lock file: ``rm RUN/.lock`` or ``rm -rf RUN``
        while it trains would let a second process lock a new file and write the same run."""
        if self._fd is None:
            return False
        try:
            info = os.stat(self.run_dir / LOCK, follow_symlinks=False)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

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
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return False  # no lock file: nobody ever claimed it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError as err:
        return err.errno in _BUSY
    finally:
        os.close(fd)  # also drops the shared lock, if it was taken


def busy_sentence(run_dir: Path, owner: tuple[int, str] | None = None) -> str:
    """'runs/x is being written by process 123 on host h right now; ...': OWNER is (pid, host) when known."""
    where = f" by process {owner[0]} on {owner[1]}" if owner is not None else ""
    return (f"{run_dir} is being written{where} right now; wait for it to end, or stop it first "
            f"(the Stop button, or: python -m training stop {run_dir}).")
