"""A run's writes off the training thread: one write job at a time on its own thread, errors raised back.

The trainer copies what an epoch writes (weights, optimizer state, history) and hands the writing (the
checkpoint, its views, the snapshot; atomic, fsynced: training/core/files.py stays the one writer) to
``BackgroundWriter.submit``, which returns at once; the next epoch trains meanwhile. At most one job is in
flight: a submit first waits for the one before, so a disk slower than an epoch holds the training back as
before, and copies never pile up. An error of a job (a full disk, the run taken away) is raised on the
training thread at the next ``submit`` or ``wait``. No torch here.
"""

from __future__ import annotations

import threading
from typing import Callable


class BackgroundWriter:
    def __init__(self, name: str = "vae-run-writer"):
        self.name = name
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Run JOB on the writer thread, after the job before it has finished (whose error is raised here)."""
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(job,), name=self.name, daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Return once every submitted job has finished; raise the first error one of them raised."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def wait_quietly(self) -> None:
        """``wait``, its error dropped: for a training that is failing already, whose own error is the one to tell."""
        try:
            self.wait()
        except BaseException:  # noqa: BLE001 - the failure in flight is the one reported
            pass

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as err:  # noqa: BLE001 - handed to the training thread
            self._error = err
