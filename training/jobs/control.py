"""Starting, stopping, resuming and deleting trainings of a runs folder, and starting a beta sweep, for the
app (or a script).

The app never trains. ``submit`` writes a new run folder holding the config and a *queued* status,
then hands it to a launcher, which starts the fit use case (training/jobs/fit.py) for it somewhere:

    LocalLauncher  a process on this machine running ``python -m training fit --resume --out RUN``, at a
                   lower CPU priority, with a bounded number of torch threads; it waits in the runs
                   folder's queue (training/runs/queue.py) for a slot (training/jobs/launcher.py)
    RayLauncher    a task on a Ray cluster (training/jobs/ray_launcher.py), which queues it by its CPU/GPU
                   request; the runs folder is then shared storage

Whatever the launcher, the training process claims the run folder (training/runs/lock.py) and is
from then on its only writer (training/jobs/job.py). Everything here that changes a run folder first
takes the same lock, so it can never collide with a live training. No torch here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from training.core.costs import check_training
from training.core.environment import RAY_ADDRESS_ENV
from training.core.errors import UserError, reason, run_exists, sweep_exists
from training.core.settings import NameOf
from training.jobs.launcher import Launcher, LocalLauncher
from training.jobs.ray_launcher import RayLauncher
from training.runs.layout import CONFIG, publish_run, run_path
from training.runs.lock import RunBusy, RunLock
from training.runs.queue import scan
from training.runs.status import (ACTIVE, CANCELLED, INTERRUPTED, QUEUED, STOPPED, RunStatus, busy_message, clear_stop,
                                  observed_state, read_status, request_stop, take_run, write_status)
from training.runs.sweep import Sweep, configs, create_manifest, sweep_manifest_path, sweep_run_name


def launcher_from_env() -> Launcher:
    """Ray when $VAE_EXPLORER_RAY_ADDRESS is set (an address, or 'local' for a new local instance);
    else local processes."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
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
        raise run_exists(name, run_dir.parent)
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
        with _locked(run_dir):
            write_status(run_dir, status.changed(state="failed", ended_at=time.time(),
                                                 **reason("The training could not be started ({err}).", err=err)))
        raise UserError("The training could not be started ({err}).",
            err=err) from None


class _locked:
    """The run's lock for a quick change by the app, refused with one sentence while a training holds it:
    'The run NAME WHY.', or without WHY the sentence that names the process writing it."""

    def __init__(self, run_dir: Path, why: str | None = None):
        self.lock = RunLock(run_dir)
        self.message = f"The run {Path(run_dir).name} {why}." if why else (lambda: busy_message(run_dir))

    def __enter__(self):
        self.lock = take_run(self.lock.run_dir, self.message)  # also refused while a live owner's heartbeat is fresh
        return self.lock

    def __exit__(self, *exc):
        self.lock.release()


# -- a beta sweep ------------------------------------------------------------------------------------
def start_sweep(root: str | Path, name: str, config, betas: tuple[float, ...], launcher: Launcher, name_of: NameOf,
                requested_by: str | None = None, max_per_visitor: int | None = None) -> Sweep:
    """Queue sweep NAME in ROOT: one training of CONFIG per beta (training/runs/sweep.py). Everything is
    checked first (names, free folders, the visitor's limit, each run's memory), so a refused sweep writes
    nothing; then the manifest, then the runs, each by ``submit``."""
    manifest = sweep_manifest_path(root, name)
    runs = [sweep_run_name(name, b) for b in betas]
    per_beta = configs(config, betas, name_of)
    if manifest.exists():
        raise sweep_exists(name, manifest.parent)
    taken = next((r for r in runs if run_path(root, r).exists()), None)
    if taken is not None:
        raise run_exists(taken, manifest.parent)
    if max_per_visitor is not None and requested_by is not None:
        mine = active_runs_of(manifest.parent, requested_by)
        if mine + len(runs) > max_per_visitor:
            raise UserError("A sweep of {count} runs beside your {mine} trainings queued or running would pass the "
                            "{most} allowed; stop some or wait for them to finish.", count=len(runs), mine=mine,
                            most=max_per_visitor)
    for c in per_beta:
        check_training(c)
    sweep = Sweep(name=name, betas=tuple(betas), runs=tuple(runs), created_at=time.time())
    create_manifest(root, sweep)
    for run, c in zip(runs, per_beta):
        submit(root, run, c, launcher, requested_by=requested_by)
    return sweep
