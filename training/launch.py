"""Starting, stopping, resuming and deleting trainings of a runs folder, for the app (or a script).

The app never trains. ``submit`` writes a new run folder holding the config and a *queued* status,
then hands it to a launcher, which starts ``python -m training fit --resume --out RUN`` somewhere:

    LocalLauncher  a process on this machine, at a lower CPU priority, with a bounded number of torch
                   threads; it waits in the runs folder's queue (training/run_queue.py) for a slot
    RayLauncher    a task on a Ray cluster (training/ray_launch.py), which queues it by its CPU/GPU
                   request; the runs folder is then shared storage

Whatever the launcher, the training process claims the run folder (training/run_lock.py) and is
from then on its only writer (training/job.py). Everything here that changes a run folder first
takes the same lock, so it can never collide with a live training. No torch here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from training.costs import check_training
from training.errors import UserError
from training.run_folder import CONFIG, LOG, publish_run, run_path
from training.run_lock import RunBusy, RunLock
from training.run_queue import scan
from training.run_status import (CANCELLED, ACTIVE, INTERRUPTED, QUEUED, STOPPED, RunStatus, clear_stop, observed_state,
                                 read_status, reason, request_stop, write_status)

ROOT = Path(__file__).resolve().parent.parent
MAX_TRAININGS_ENV = "VAE_EXPLORER_MAX_TRAININGS"
RAY_ADDRESS_ENV = "VAE_EXPLORER_RAY_ADDRESS"


class Launcher(Protocol):
    kind: str                  # "local" or "ray", recorded in the run's status
    max_running: int | None    # trainings at once (None: the cluster decides)

    def launch(self, run_dir: Path, queued_at: float) -> None:
        """Start ``python -m training fit --resume --out RUN_DIR`` for the request queued at ``queued_at``."""


def fit_argv(run_dir: Path, queued_at: float, threads: int, device: str = "auto",
             max_running: int | None = None, nice: int = 0) -> list[str]:
    """The command line every launcher runs: the same entry point as a user's ``fit``."""
    argv = ["fit", "--resume", "--out", str(run_dir), "--quiet", "--device", device, "--threads", str(threads),
            "--queued-at", repr(queued_at)]
    if max_running:
        argv += ["--max-running", str(max_running)]
    if nice:
        argv += ["--nice", str(nice)]
    return argv


TRAINING_NICE_ENV = "VAE_EXPLORER_TRAINING_NICE"
DEFAULT_NICE = 10


def max_trainings_from_env() -> int:
    """$VAE_EXPLORER_MAX_TRAININGS, or one training per CPU core."""
    text = os.environ.get(MAX_TRAININGS_ENV, "").strip()
    if not text:
        return max(1, os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise UserError("{max_trainings_env} must be a whole number of at least 1, not {text!r}.",
            max_trainings_env=MAX_TRAININGS_ENV, text=text)
    return int(text)


def training_nice_from_env() -> int:
    """$VAE_EXPLORER_TRAINING_NICE (0-19), or DEFAULT_NICE."""
    text = os.environ.get(TRAINING_NICE_ENV, "").strip()
    if not text:
        return DEFAULT_NICE
    if not text.isdigit() or not 0 <= int(text) <= 19:
        raise UserError("{training_nice_env} must be a whole number from 0 to 19, not {text!r}.",
            training_nice_env=TRAINING_NICE_ENV, text=text)
    return int(text)


class LocalLauncher:
    """Each training a child process of its own session (it outlives the app), niced (DEFAULT_NICE
    unless the operator sets $VAE_EXPLORER_TRAINING_NICE), with cores / max_running torch threads,
    so that N trainings never take more than the machine's cores."""

    kind = "local"

    def __init__(self, max_running: int | None = None, threads: int | None = None, nice: int | None = None,
                 device: str = "auto"):
        self.max_running = max_running or max_trainings_from_env()
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.max_running)
        self.nice = training_nice_from_env() if nice is None else nice
        self.device = device

    def launch(self, run_dir: Path, queued_at: float) -> None:
        argv = fit_argv(run_dir, queued_at, self.threads, self.device, self.max_running, self.nice)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.threads)}
        with open(run_dir / LOG, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "training", *argv], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # not killed with the server, nor by its Ctrl-C
        threading.Thread(target=proc.wait, name=f"vae-reap-{proc.pid}", daemon=True).start()  # no zombies


def launcher_from_env() -> Launcher:
    """Ray when $VAE_EXPLORER_RAY_ADDRESS is set (an address, or 'local' for a new local instance);
    else local processes."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        from training.ray_launch import RayLauncher

        return RayLauncher(address)
    return LocalLauncher()


# -- what the app does to run folders -----------------------------------------------------------
def active_runs_of(root: Path, requested_by: str) -> int:
    return sum(s.requested_by == requested_by and state in ACTIVE for _, s, state in scan(root))


def submit(root: str | Path, name: str, config, launcher: Launcher, requested_by: str | None = None,
           max_per_visitor: int | None = None) -> Path:
    """Queue a training of ``config`` as the new run ROOT/NAME and launch it; its folder."""
    check_training(config)  # its memory from the config, before a folder or a process exists
    run_dir = run_path(root, name)
    if run_dir.exists():
        raise UserError("A run named {name!r} already exists in {parent}; choose another name.",
            name=name, parent=run_dir.parent)
    if max_per_visitor is not None and requested_by is not None:
        mine = active_runs_of(run_dir.parent, requested_by)
        if mine >= max_per_visitor:
            raise UserError("You already have {mine} trainings queued or running, the most allowed; stop one or wait "
                "for one to finish.",
                mine=mine)
    queued_at = time.time()
    status = RunStatus(state=QUEUED, launcher=launcher.kind, requested_by=requested_by, queued_at=queued_at,
                       epochs=config.train.epochs)
    publish_run(run_dir, {CONFIG: config.to_json().encode(), "status.json": status.to_json().encode()})
    _launch(launcher, run_dir, status)
    return run_dir


def resume(run_dir: Path, launcher: Launcher, requested_by: str | None = None) -> None:
    """Queue an interrupted or stopped run again; it continues from its last checkpoint."""
    with _locked(run_dir, "is still training; it cannot be resumed twice"):
        status = read_status(run_dir)
        # we hold the lock, so no live process does: a run recorded as active has lost its process
        state = INTERRUPTED if status is None or status.state in ACTIVE else status.state
        if state not in (INTERRUPTED, STOPPED):
            raise UserError("The run {name} is {state}; only stopped or interrupted runs can be resumed.",
                name=run_dir.name, state=state)
        if not (run_dir / CONFIG).is_file():
            raise UserError("The run {name} has no {config}; it cannot be resumed.",
                name=run_dir.name, config=CONFIG)
        base = status or RunStatus(state=QUEUED)
        queued = base.changed(state=QUEUED, reason=None, reason_template=None, reason_values=None, launcher=launcher.kind, requested_by=requested_by,
                              queued_at=time.time(), started_at=None, ended_at=None, owner=None)
        clear_stop(run_dir)
        write_status(run_dir, queued)
    _launch(launcher, run_dir, queued)


def stop_run(run_dir: Path, wait: float = 0.0) -> str:
    """Stop a running training after its current step, or cancel a queued one; the state it ends in
    (after waiting up to ``wait`` seconds for the training to record it)."""
    status = read_status(run_dir)
    if status is None:
        raise UserError("{run_dir} has no training to stop (it has no status file).",
            run_dir=run_dir)
    state = observed_state(run_dir, status)
    if state not in ACTIVE:
        return state
    if status.owner is None:  # queued, not yet claimed by its process: cancel it here, under its lock
        try:
            with RunLock(run_dir).acquire(patience=0.2):
                now = read_status(run_dir)
                if now is not None and now.state == QUEUED and now.owner is None:
                    write_status(run_dir, now.changed(state=STOPPED, ended_at=time.time(), **reason(CANCELLED)))
                    return STOPPED
        except RunBusy:
            pass  # its process claimed it just now: ask that process instead
    request_stop(run_dir)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        now = read_status(run_dir)
        state = observed_state(run_dir, now) if now is not None else STOPPED
        if state not in ACTIVE:
            return state
        time.sleep(0.05)
    return state


def delete_run(run_dir: Path, bundled: str | Path | None = None) -> None:
    """Remove a run folder for good; never one of the read-only BUNDLED folder (an application's
    demos), never one a live process writes."""
    run_dir = Path(run_dir)
    if bundled is not None and run_dir.resolve().parent == Path(bundled).resolve():
        raise UserError("{name} is a bundled demo; it cannot be deleted.",
            name=run_dir.name)
    if not run_dir.is_dir():
        raise UserError("There is no run folder at {run_dir}.",
            run_dir=run_dir)
    with _locked(run_dir, "is training; stop it before deleting it"):
        trash = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", suffix=".deleted", dir=run_dir.parent))
        os.rename(run_dir, trash / run_dir.name)  # gone from every listing at once
    shutil.rmtree(trash, ignore_errors=True)


def adopt_queued(root: str | Path, launcher: Launcher) -> int:
    """Relaunch the runs this launcher's kind queued whose process is gone (the server or the machine
    went down before they started): they keep their place in the queue. How many."""
    count = 0
    for run_dir, status, state in scan(root):
        if status.state == QUEUED and status.launcher == launcher.kind and state == INTERRUPTED:
            try:
                with RunLock(run_dir).acquire(patience=0.0):
                    requeued = status.changed(owner=None)
                    write_status(run_dir, requeued)
            except RunBusy:
                continue
            _launch(launcher, run_dir, requeued)
            count += 1
    return count


def _launch(launcher: Launcher, run_dir: Path, status: RunStatus) -> None:
    try:
        launcher.launch(run_dir, status.queued_at)
    except Exception as err:  # the launcher could not start anything: the run says so
        with RunLock(run_dir):
            write_status(run_dir, status.changed(state="failed", ended_at=time.time(),
                                                 **reason("The training could not be started ({err}).", err=err)))
        raise UserError("The training could not be started ({err}).",
            err=err) from None


class _locked:
    """The run's lock for a quick change by the app, refused with one sentence while a training holds it."""

    def __init__(self, run_dir: Path, why: str):
        self.lock = RunLock(run_dir)
        self.message = f"The run {Path(run_dir).name} {why}."

    def __enter__(self):
        return self.lock.acquire(self.message)

    def __exit__(self, *exc):
        self.lock.release()
