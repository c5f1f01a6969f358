"""Starting, stopping, resuming and deleting trainings of a runs folder, and starting a beta sweep, for the
app (or a script).

The app never trains. ``submit`` writes a new run folder holding the config and a *queued* status,
then hands it to a launcher, which starts the fit use case (training/jobs/fit.py) for it somewhere:

    LocalLauncher  a process on this machine running ``python -m training fit --resume --out RUN``, at a
                   lower CPU priority, with a bounded number of torch threads, started once the run
                   has a slot in its runs folder's queue (training/runs/queue.py); until then the run
                   waits without a process (training/jobs/launcher.py ``start_queued``)
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
from training.data.budget import check_dataset_memory
from training.jobs.launcher import Launcher, LocalLauncher
from training.jobs.ray_launcher import RayLauncher
from training.runs.layout import CONFIG, publish_run, run_path
from training.runs.lock import RunBusy, RunLock
from training.runs.queue import queue_lock, scan
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
def active_runs_of(root: Path, requested_by: str | None, requested_from: str | None = None) -> int:
    """The runs of ROOT queued or running for this visitor: asked for by the same browser, or from the same
    address (where the app knows it)."""
    return sum(state in ACTIVE and ((requested_by is not None and s.requested_by == requested_by)
                                    or (requested_from is not None and s.requested_from == requested_from))
               for _, s, state in scan(root))


def active_runs(root: Path) -> int:
    return sum(state in ACTIVE for _, _, state in scan(root))


def check_room(root: Path, count: int, requested_by: str | None, requested_from: str | None,
               max_per_visitor: int | None, max_in_folder: int | None) -> None:
    """COUNT more trainings fit this visitor's limit and the runs folder's (queued and running together)."""
    if max_in_folder is not None:
        active = active_runs(root)
        if active + count > max_in_folder:
            if count == 1:
                raise UserError("This server already has {active} trainings queued or running, the most it takes; "
                                "try again when one has finished.", active=active)
            raise UserError("A sweep of {count} runs beside the {active} trainings queued or running on this server "
                            "would pass the {most} it takes; try again when some have finished.",
                            count=count, active=active, most=max_in_folder)
    if max_per_visitor is not None and (requested_by is not None or requested_from is not None):
        mine = active_runs_of(root, requested_by, requested_from)
        if count == 1 and mine >= max_per_visitor:
            raise UserError("You already have {mine} trainings queued or running, the most allowed; stop one or wait "
                "for one to finish.",
                mine=mine)
        if mine + count > max_per_visitor:
            raise UserError("A sweep of {count} runs beside your {mine} trainings queued or running would pass the "
                            "{most} allowed; stop some or wait for them to finish.", count=count, mine=mine,
                            most=max_per_visitor)


def submit(root: str | Path, name: str, config, launcher: Launcher, requested_by: str | None = None,
           max_per_visitor: int | None = None, requested_from: str | None = None,
           max_in_folder: int | None = None, device: str | None = None) -> Path:
    """Queue a training of ``config`` as the new run ROOT/NAME and launch it; its folder. The visitor's limit
    counts the runs queued or running by ``requested_by`` (a browser) or from ``requested_from`` (an address);
    ``max_in_folder`` all of ROOT's; ``device`` the device to train on (as ``--device``; None: the launcher's).
    Checked and queued under ROOT's queue lock: two visitors pressing at once never both take the last place."""
    check_training(config)  # its memory from the config, before a folder or a process exists
    check_data(config)
    run_dir = run_path(root, name)
    if run_dir.exists():
        raise run_exists(name, run_dir.parent)
    queued_at = time.time()
    status = RunStatus(state=QUEUED, launcher=launcher.kind, requested_by=requested_by, requested_from=requested_from,
                       queued_at=queued_at, epochs=config.train.epochs, device=device)
    with _queue_of(run_dir.parent):
        check_room(run_dir.parent, 1, requested_by, requested_from, max_per_visitor, max_in_folder)
        publish_run(run_dir, {CONFIG: config.to_json().encode(), "status.json": status.to_json().encode()})
    _launch(launcher, run_dir, status)
    return run_dir


def check_data(config) -> None:
    """CONFIG's data set fits the memory the operator allows a data set's build (training/data/budget.py)."""
    check_dataset_memory(config.train.dataset, image_size=config.model.image_shape[1],
                         dataset_size=config.train.dataset_size)


def _queue_of(root: Path):
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError("The runs folder {parent} cannot be written ({strerror}).",
            parent=root, strerror=err.strerror) from None
    return queue_lock(root)


def resume(run_dir: Path, launcher: Launcher, requested_by: str | None = None, max_per_visitor: int | None = None,
           requested_from: str | None = None, max_in_folder: int | None = None) -> None:
    """Queue an interrupted or stopped run again (within the limits, as ``submit``); it continues from its last
    checkpoint."""
    with _queue_of(Path(run_dir).parent), _locked(run_dir, "is still training; it cannot be resumed twice"):
        status = read_status(run_dir)
        # we hold the lock, so no live process does: a run recorded as active has lost its process
        state = INTERRUPTED if status is None or status.state in ACTIVE else status.state
        if state not in (INTERRUPTED, STOPPED):
            raise UserError("The run {name} is {state}; only stopped or interrupted runs can be resumed.",
                name=run_dir.name, state=state)
        if not (run_dir / CONFIG).is_file():
            raise UserError("The run {name} has no {config}; it cannot be resumed.",
                name=run_dir.name, config=CONFIG)
        check_room(run_dir.parent, 1, requested_by, requested_from, max_per_visitor, max_in_folder)
        base = status or RunStatus(state=QUEUED)
        # the time trained so far goes on counting: up to its end, or (its process gone) its last heartbeat
        queued = base.changed(state=QUEUED, reason=None, reason_template=None, reason_values=None, launcher=launcher.kind, requested_by=requested_by,
                              requested_from=requested_from, queued_at=time.time(), started_at=None, ended_at=None,
                              owner=None, launched_at=None, earlier_seconds=base.trained_seconds(base.heartbeat) or 0.0)
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
                    requeued = status.changed(owner=None, launched_at=None)  # waits again, without a process
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
                requested_by: str | None = None, max_per_visitor: int | None = None,
                requested_from: str | None = None, max_in_folder: int | None = None,
                device: str | None = None) -> Sweep:
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
    check_room(manifest.parent, len(runs), requested_by, requested_from, max_per_visitor, max_in_folder)
    for c in per_beta:
        check_training(c)
        check_data(c)
    sweep = Sweep(name=name, betas=tuple(betas), runs=tuple(runs), created_at=time.time())
    create_manifest(root, sweep)
    for run, c in zip(runs, per_beta):
        submit(root, run, c, launcher, requested_by=requested_by, requested_from=requested_from, device=device)
    return sweep
