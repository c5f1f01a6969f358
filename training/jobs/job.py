"""One training's life in its own process: claim the run, wait in the queue, train, record the end.

The fit use case (training/jobs/fit.py) runs this, for ``python -m training fit``, the app's local
processes and its Ray workers alike. Every state it passes through is written to the run folder by this
process alone, under the run's lock:

    claim the lock (refused with one sentence if a live process holds it)
    queued   (with --max-running: wait for a free slot of the runs folder, first come first served)
    running  (load the data set, build or resume the Trainer, train; progress twice a second)
    finished | stopped (a stop request, SIGTERM or Ctrl-C; the last epoch's checkpoint stays)
             | failed (the one-sentence reason; the last epoch's checkpoint stays)
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from training.core.config import RunConfig
from training.core.errors import UserError, as_user_error, out_not_empty, reason, reason_of
from training.runs.layout import CHECKPOINT, LOCK
from training.runs.lock import RunLock, RunLost
from training.runs.queue import wait_for_slot
from training.runs.recorder import RunRecorder
from training.runs.status import (CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STOPPED, Owner, RunStatus,
                                  read_status, take_run)


@dataclass
class Plan:
    """What to train and how; built by the fit use case (training/jobs/fit.py)."""

    run_dir: Path
    config: RunConfig
    load_data: Callable[[], object]       # -> Dataset; called once the queue lets the run start
    resume: bool = False                  # continue the folder's checkpoint (or start it, if it has none)
    created: bool = False                 # this process made the folder: remove it if nothing was trained
    device: str = "auto"
    max_running: int | None = None        # wait in the runs folder's queue for one of this many slots
    queued_at: float | None = None        # start only the request the app queued at this time
    threads: int | None = None            # torch threads
    callback: Callable | None = None      # also receives the Trainer's Progress (the command line's printer)


def claim(run_dir: Path, resume: bool) -> tuple[RunLock, bool]:
    """Lock RUN_DIR for this process: (the lock, whether this process created the folder).

    A new run's folder must be absent or empty (the lock file aside) once locked, so two processes
    started into the same new --out cannot both train it.
    """
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = take_run(run_dir)  # refused while a live process writes it, even one whose lock file was removed
    if not resume and any(p.name != LOCK for p in run_dir.iterdir()):
        lock.release()
        raise out_not_empty(run_dir)
    return lock, created


def run(plan: Plan, lock: RunLock) -> str:
    """Train per ``plan`` holding ``lock``; the final recorded state. UserErrors are recorded, then raised."""
    previous = read_status(plan.run_dir)
    if plan.queued_at is not None and (previous is None or previous.state != QUEUED
                                       or previous.queued_at != plan.queued_at):
        return previous.state if previous is not None else STOPPED  # cancelled or taken over meanwhile
    queued = plan.queued_at is not None  # the app's request: its status says who asked, and on which device
    status = RunStatus(
        state=QUEUED if plan.max_running else RUNNING,
        launcher=previous.launcher if queued else "cli",
        requested_by=previous.requested_by if queued else None,
        requested_from=previous.requested_from if queued else None,
        queued_at=plan.queued_at or time.time(), started_at=None if plan.max_running else time.time(),
        owner=Owner.me(), epochs=plan.config.train.epochs,
        device=previous.device if queued else None,
        # a resumed run's clock goes on from the time its earlier sessions trained
        earlier_seconds=(previous.trained_seconds(previous.heartbeat) or 0.0) if plan.resume and previous else 0.0,
    )
    recorder = RunRecorder(plan.run_dir, status, lock)
    stop = threading.Event()
    restore = _on_sigterm(stop.set)
    try:
        # a device asked for in the app's form wins over the launcher's --device (which the runs it starts next keep)
        return _run(plan, recorder, lambda: stop.is_set() or recorder.stop_requested(), status.device or plan.device)
    except KeyboardInterrupt:
        recorder.close(state=STOPPED, **reason("Interrupted; the checkpoint of epoch {epoch} is kept.",
                                               epoch=recorder.status.epoch))
        raise
    except Exception as err:
        sentence = as_user_error(err)  # disk full, out of memory, ...: one sentence, recorded and raised
        if sentence is None:  # a bug, not the user's doing: recorded, then shown with its traceback
            _fail(plan, recorder, reason("Training failed unexpectedly ({kind}: {err}).", kind=type(err).__name__,
                                         err=err))
            raise
        _fail(plan, recorder, reason_of(sentence))
        raise sentence from None
    finally:
        restore()


def _run(plan: Plan, recorder: RunRecorder, should_stop: Callable[[], bool], device: str) -> str:
    if plan.max_running:
        promoted = wait_for_slot(plan.run_dir, plan.max_running, cancelled=should_stop,
                                 promote=lambda: recorder.set(state=RUNNING, started_at=time.time()))
        if not promoted:
            return recorder.close(state=STOPPED, **reason(CANCELLED)).state
    if plan.threads:
        import torch  # only once the run may start: a queued training holds no torch

        torch.set_num_threads(plan.threads)
    from training.jobs.trainer import Trainer

    data = plan.load_data()
    note = getattr(data, "skipped_reason", None)
    if note:
        recorder.set(data_note=note["reason"], data_note_template=note["reason_template"],
                      data_note_values=note["reason_values"])
    resume = plan.resume and (plan.run_dir / CHECKPOINT).is_file()
    callback = _fan_out(recorder.progress, plan.callback)
    trainer = Trainer(plan.config, data, run_dir=plan.run_dir, device=device, callback=callback,
                      resume=resume, should_stop=should_stop, owner_check=recorder.check_owner)
    start = trainer.epoch * trainer.steps_per_epoch
    recorder.start_steps(start)
    recorder.set(epoch=trainer.epoch, steps_per_epoch=trainer.steps_per_epoch, global_step=start, start_step=start)
    trainer.fit()
    if trainer.done:
        return recorder.close(state=FINISHED, reason=None).state
    return recorder.close(state=STOPPED, **reason("Stopped; the checkpoint of epoch {epoch} is kept.", epoch=trainer.epoch),
                          epoch=trainer.epoch, step=trainer.steps_per_epoch,
                          global_step=trainer.epoch * trainer.steps_per_epoch).state


def run_follower(plan: Plan) -> None:
    """A torchrun rank other than 0: trains beside rank 0, which claims, records and writes; stop
    requests reach it through the ranks' agreement after every step (Trainer.train_step)."""
    if plan.threads:
        import torch

        torch.set_num_threads(plan.threads)
    from training.jobs.trainer import Trainer

    resume = plan.resume and (plan.run_dir / CHECKPOINT).is_file()
    Trainer(plan.config, plan.load_data(), run_dir=plan.run_dir, device=plan.device, resume=resume).fit()


def _fail(plan: Plan, recorder: RunRecorder, why: dict) -> None:
    try:
        recorder.close(state=FAILED, **why)
    except (OSError, RunLost):  # the disk that failed the training cannot take its status either: once this
        pass                    # process is gone the run reads as interrupted, its last checkpoint intact
    if plan.created and not (plan.run_dir / CHECKPOINT).is_file():
        shutil.rmtree(plan.run_dir, ignore_errors=True)  # the command line wrote nothing after all


def _fan_out(*callbacks):
    live = [c for c in callbacks if c is not None]
    return lambda p: [c(p) for c in live]


def _on_sigterm(handler: Callable[[], None]) -> Callable[[], None]:
    """SIGTERM stops the training like a stop request (only possible on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda *_: handler())
    return lambda: signal.signal(signal.SIGTERM, previous)


AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(nice: int) -> None:
    """Train at the CPU priority ``nice`` (steps below the normal one; a process niced further stays so).

    Linux with autogroup scheduling (the default on desktops and most cloud images) shares the CPU
    fairly between sessions first and applies a process's nice value only within its session. A
    training the app starts leads a session of its own, so its nice value alone would change
    nothing against the server: the session's autogroup gets the same nice value. The autogroup of
    a session this process does not lead (a shell's) is left alone.
    """
    if not nice:
        return
    try:
        now = os.nice(0)  # a training started by one that ended (training/jobs/launcher.py) is niced already
        if nice > now:
            os.nice(nice - now)
    except OSError:  # not permitted: train at the normal priority
        return
    if os.getsid(0) == os.getpid():
        try:
            AUTOGROUP.write_text(str(nice))
        except OSError:  # no autogroup scheduling here, or not permitted
            pass
