"""How a queued training gets started: the ``Launcher`` interface, the command line every local training
runs, and ``LocalLauncher`` (a process of this machine). The Ray launcher is training/jobs/ray_launcher.py;
``training.jobs.control.launcher_from_env`` picks one of the two. No torch here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Protocol

from training.core.environment import max_trainings_from_env, training_nice_from_env
from training.runs.layout import LOG

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
        argv = fit_argv(run_dir, queued_at, self.threads, self.device, self.max_running, self.nice)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.threads)}
        with open(run_dir / LOG, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "training", *argv], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # not killed with the server, nor by its Ctrl-C
        threading.Thread(target=proc.wait, name=f"vae-reap-{proc.pid}", daemon=True).start()  # no zombies
