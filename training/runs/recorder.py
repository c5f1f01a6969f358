"""The training process's side of the run folder: its status, its step log, its heartbeat, its stop.

Only the process that holds the run's lock makes a ``RunRecorder``. State changes are written at
once; progress at most twice a second; a heartbeat thread rewrites the status every few seconds
while nothing else does (data loading, a long evaluation), so readers can say "last heard 2 s ago".

Before every write, and at every heartbeat and stop check, it makes sure the lock it was given is still the
run's lock file (``RunLock.still_held``). Once it is not (the file or the whole folder was removed), every
further call raises ``RunLost`` (one sentence) and nothing more is written: not the status, not the step log,
not the final state, and ``check_owner`` stops the trainer before its next checkpoint. No torch here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from training.core.errors import UserError
from training.runs.lock import RunLock, lost_sentence
from training.runs.status import HEARTBEAT_EVERY_S, RunStatus, clear_stop, stop_requested, write_status
from training.runs.step_log import StepLogWriter

PROGRESS_EVERY_S = 0.5
STOP_POLL_S = 0.1


class RunRecorder:
    def __init__(self, run_dir: str | Path, status: RunStatus, lock: RunLock | None = None):
        self.run_dir = Path(run_dir)
        self.lock = lock  # the run's lock this process holds (None: not checked, e.g. a test's recorder)
        self._lost = False
        self._lock = threading.Lock()
        self._status = status
        self._pending = None  # the trainer's latest Progress, not yet in _status
        self._written = 0.0
        self._stop_seen = False
        self._stop_checked = 0.0
        self.steps: StepLogWriter | None = None
        self._write(status)
        self._closed = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="vae-run-heartbeat", daemon=True)
        self._beat.start()

    @property
    def status(self) -> RunStatus:
        with self._lock:
            self._fold_pending()
            return self._status

    def set(self, **changes) -> RunStatus:
        """Change the status and write it now."""
        with self._lock:
            self._fold_pending()
            self._write(self._status.changed(**changes))
            return self._status

    def check_owner(self) -> None:
        """Raise RunLost (one sentence) if this process no longer holds the run's lock file; else nothing."""
        if self.lock is not None and (self._lost or not self.lock.still_held()):
            self._lost = True
            raise lost_sentence(self.run_dir)

    def start_steps(self, start_step: int) -> None:
        self.check_owner()
        self.steps = StepLogWriter(self.run_dir, start_step=start_step)

    def progress(self, p) -> None:
        """The Trainer's callback (a ``training.jobs.trainer.Progress``)."""
        if self._lost:  # the heartbeat found the lock gone: stop the training at once
            self.check_owner()
        if p.kind == "step" and self.steps is not None and p.recon is not None:
            self.steps.add(p.global_step, p.recon, p.kl, p.beta)
            if p.step == p.steps_per_epoch:  # before the epoch's checkpoint: a kill after it loses no logged step
                self._flush_steps()
        with self._lock:
            self._pending = p  # folded into the status when it is next written or read: not rebuilt every step
            if p.kind == "step" and time.monotonic() - self._written < PROGRESS_EVERY_S:
                return
            if self.steps is not None:
                self._flush_steps()
            self._write(self._status)

    def stop_requested(self) -> bool:
        """Whether someone asked this run to stop (checked on disk at most every 0.1 s)."""
        if not self._stop_seen and time.monotonic() - self._stop_checked >= STOP_POLL_S:
            self._stop_checked = time.monotonic()
            self.check_owner()
            self._stop_seen = stop_requested(self.run_dir)
        return self._stop_seen

    def close(self, **final) -> RunStatus:
        """Consume the stop request (so that it cannot stop a later resume), then write the final state:
        a reader that sees the run stopped never sees the request still pending. RunLost if the run is no longer
        this process's: then nothing is written."""
        self._closed.set()
        self.check_owner()
        if self.steps is not None:
            self._flush_steps()
        clear_stop(self.run_dir)
        with self._lock:
            self._fold_pending()
            self._write(self._status.changed(ended_at=time.time(), **final))
        return self._status

    # -- internals (lock held) -----------------------------------------------------------------
    def _fold_pending(self) -> None:
        """The latest Progress into the status (it is kept as it came between writes)."""
        p, self._pending = self._pending, None
        if p is not None:
            self._status = self._status.changed(epoch=p.epoch, epochs=p.epochs, step=p.step,
                                                steps_per_epoch=p.steps_per_epoch, global_step=p.global_step,
                                                train_seconds=p.elapsed)

    def _flush_steps(self) -> None:
        """Write the step log's pending rows; when that fails because the run was taken away (its folder or
        lock file removed), say that, not which of its files went missing."""
        try:
            self.steps.flush()
        except (UserError, OSError):
            self.check_owner()
            raise

    def _write(self, status: RunStatus) -> None:
        self.check_owner()
        self._status = status
        self._fold_pending()  # callers fold first where their changes must win; here only the heartbeat's
        self._status = self._status.changed(heartbeat=time.time())
        write_status(self.run_dir, self._status)
        self._written = time.monotonic()

    def _heartbeat(self) -> None:
        while not self._closed.wait(HEARTBEAT_EVERY_S):
            with self._lock:
                if not self._closed.is_set() and time.monotonic() - self._written >= HEARTBEAT_EVERY_S:
                    try:
                        self._write(self._status)
                    except OSError:  # a full disk must not kill the training; the next write retries
                        pass
                    except UserError:  # RunLost: the training's next step or check raises it
                        return
