"""How a queued training gets started: the ``Launcher`` interface, the command line every local training
runs, ``LocalLauncher`` (a process of this machine) and ``start_queued``. The Ray launcher is
training/jobs/ray_launcher.py; ``training.jobs.control.launcher_from_env`` picks one of the two. No torch here.

A run queued for a local process waits without one: ``LocalLauncher.launch`` only calls ``start_queued``,
which starts as many of the runs waiting in line as there are free slots. It is called again by every
training as it ends (training/jobs/fit.py) and by the app as it refreshes (a training that crashed
started nobody), so a freed slot is taken without any process polling for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

from training.core.environment import max_trainings_from_env, training_nice_from_env
from training.core.errors import Phrase, UserError, reason
from training.core.files import open_appending
from training.runs.layout import LOG
from training.runs.lock import RunLock
from training.runs.queue import queue_lock, scan, waiting_to_start
from training.runs.status import FAILED, QUEUED, read_status, write_status

ROOT = Path(__file__).resolve().parents[2]  # the repository: trainings start from here, with it on PYTHONPATH


class Launcher(Protocol):
    kind: str                  # "local" or "ray", recorded in the run's status
    max_running: int | None    # trainings at once (None: the cluster decides)

    def launch(self, run_dir: Path, queued_at: float) -> None:
        """Start ``python -m training fit --resume --out RUN_DIR`` for the request queued at ``queued_at``."""


def fit_argv(run_dir: Path, queued_at: float, threads: int, device: str = "auto",
             max_running: int | None = None, nice: int = 0) -> list[str]:
    """The command line a local training runs: the same entry point as a user's ``fit``."""
    argv = ["fit", "--resume", "--out", str(run_dir), "--quiet", "--device", device, "--threads", str(threads),
            "--queued-at", repr(queued_at)]
    if max_running:
        argv += ["--max-running", str(max_running)]
    if nice:
        argv += ["--nice", str(nice)]
    return argv


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
        """The run waits in its folder's queue without a process; start what the free slots allow."""
        start_queued(run_dir.parent, self)

    def spawn(self, run_dir: Path, queued_at: float) -> None:
        """Start the process that trains RUN_DIR now."""
        argv = fit_argv(run_dir, queued_at, self.threads, self.device, self.max_running, self.nice)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.threads)}
        with open_appending(run_dir / LOG, Phrase("a training's log")) as log:  # a FIFO there would block us
            proc = subprocess.Popen([sys.executable, "-m", "training", *argv], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # not killed with the server, nor by its Ctrl-C
        threading.Thread(target=proc.wait, name=f"vae-reap-{proc.pid}", daemon=True).start()  # no zombies


def start_queued(root: str | Path, launcher: LocalLauncher) -> list[Path]:
    """Under ROOT's queue lock, start a process for each run waiting without one that a free slot lets
    start (training/runs/queue.py ``waiting_to_start``), first in line first; each is marked launched
    under its own lock first, so no run is started twice. The runs started."""
    root = Path(root)
    if not root.is_dir() or not waiting_to_start(scan(root), launcher.max_running, launcher.kind):
        return []  # nothing to start (a look without the lock: the app's refresh asks every second)
    started = []
    with queue_lock(root):
        for run_dir in waiting_to_start(scan(root), launcher.max_running, launcher.kind):
            try:
                with RunLock(run_dir).acquire(patience=0.0):
                    status = read_status(run_dir)
                    if status is None or status.state != QUEUED or status.owner is not None or status.launched_at:
                        continue  # cancelled or taken meanwhile
                    status = status.changed(launched_at=time.time())
                    write_status(run_dir, status)
            except (UserError, OSError):
                continue  # the app changes it this instant, or it went: the next call sees it
            try:
                launcher.spawn(run_dir, status.queued_at)  # its process claims the run once we let go of it
            except OSError as err:  # no process could be started: the run says so
                _failed_to_start(run_dir, status, err)
                continue
            started.append(run_dir)
    return started


def _failed_to_start(run_dir: Path, status, err: OSError) -> None:
    try:
        with RunLock(run_dir).acquire(patience=1.0):
            write_status(run_dir, status.changed(state=FAILED, ended_at=time.time(), **reason(
                "The training could not be started ({err}).", err=err)))
    except (UserError, OSError):
        pass  # its process did start after all and holds it
