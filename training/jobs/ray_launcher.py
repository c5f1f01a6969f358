"""Trainings on a Ray cluster: the app's launcher when $VAE_EXPLORER_RAY_ADDRESS is set.

Each training is a *detached* Ray actor (namespace ``vae-explorer``) that asks the cluster for
$VAE_EXPLORER_RAY_CPUS CPUs (default 1) and $VAE_EXPLORER_RAY_GPUS GPUs (default 0), runs the fit use case
of the queued run in its worker (``training.jobs.fit.fit_queued``, what ``python -m training fit --resume
--out RUN_DIR`` runs for the command line and the local launcher), writes what it prints to RUN_DIR/train.log,
and then ends itself, so that its CPUs and GPUs are free at once. Ray, not this project, queues the
trainings: an actor waits until some node has the resources it asks for.

Detached actors belong to the cluster, not to the process that made them, so a training keeps going
when the Streamlit server that submitted it stops or restarts; everything about it (state, progress,
stop requests) goes through its run folder, which must therefore be on storage that every node
mounts at the same path. Every node also needs this project at the same path as the app's (each
worker gets PYTHONPATH=<the app's repository root>) or installed, with the same Python packages.

The addresses it takes and how it connects: training/jobs/ray_connect.py. See docs/deploy.md. Ray is
optional (requirements-ray.txt): it is imported when a launcher connects.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import sys
import threading
import time
from pathlib import Path

from training.core.environment import DATA_ENV, RAY_ADDRESS_ENV
from training.core.errors import Phrase, UserError, as_user_error, printable
from training.core.files import open_appending
from training.jobs.fit import fit_queued
from training.jobs.launcher import ROOT
from training.jobs.ray_connect import check_address, connect
from training.runs.layout import LOG

CPUS_ENV = "VAE_EXPLORER_RAY_CPUS"
GPUS_ENV = "VAE_EXPLORER_RAY_GPUS"
NAMESPACE = "vae-explorer"
FORWARDED_ENV = (DATA_ENV,)     # where data sets are cached, if the app was told


class RayLauncher:
    """Start each training as a detached Ray actor with its CPU/GPU request (see the module's doc)."""

    kind = "ray"
    max_running = None  # the cluster decides

    def __init__(self, address: str, cpus: float | None = None, gpus: float | None = None, device: str = "auto"):
        self.address = (address or "").strip()
        if not self.address:
            raise UserError("{ray_address_env} is empty; set it to 'local', 'auto' or a Ray cluster's address.",
                ray_address_env=RAY_ADDRESS_ENV)
        self.cpus = _amount(cpus, CPUS_ENV, default=1.0, least=0.0, strictly=True)
        self.gpus = _amount(gpus, GPUS_ENV, default=0.0, least=0.0, strictly=False)
        if self.gpus > 1 and self.gpus != int(self.gpus):
            raise UserError("A training's GPU request ({gpus_env}) must be a fraction below 1 or a whole number, not "
                "{gpus:g}.",
                gpus_env=GPUS_ENV, gpus=self.gpus)
        self.threads = max(1, round(self.cpus))  # torch threads: the CPUs this training asked for
        self.device = device
        check_address(self.address)
        self._ray = connect(self.address)

    def launch(self, run_dir: Path, queued_at: float) -> None:
        run_dir = Path(run_dir).resolve()  # the same path on every node: the runs folder is shared
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.threads)}
        env.update({k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)})
        actor = self._ray.remote(_Training).options(
            name=actor_name(run_dir, queued_at), namespace=NAMESPACE, lifetime="detached",
            num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0, runtime_env={"env_vars": env})
        handle = actor.remote(str(run_dir), queued_at, self.threads, self.device)
        _wait_until_the_cluster_has_it(handle)


def _wait_until_the_cluster_has_it(handle, patience: float = 10.0) -> None:
    """Return once the cluster's control store (GCS) holds the actor's creation task: from then on the
    cluster, not this process, starts the training, so it starts even if the app exits the next
    instant. (A detached actor is registered before ``.remote()`` returns; its creation task follows
    a moment later. Usually this is one quick look.)"""
    try:
        from ray._private.state import state
    except ImportError:  # another Ray version: nothing to look at
        return
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            info = state.actor_table(handle._actor_id.hex())
        except Exception:  # noqa: BLE001 - a look that failed proves nothing either way
            return
        if info and info.get("State") != "DEPENDENCIES_UNREADY":
            return
        time.sleep(0.05)


def actor_name(run_dir: Path, queued_at: float) -> str:
    """'vae-train/NAME/HASH' (``ray list actors``); unique per run folder and queued request."""
    digest = hashlib.sha256(f"{run_dir}\n{queued_at!r}".encode()).hexdigest()[:12]
    return f"vae-train/{run_dir.name}/{digest}"


def _amount(value: float | None, env: str, default: float, least: float, strictly: bool) -> float:
    """A CPU or GPU request: ``value``, else $ENV, else ``default``; one sentence if it is not a sane number."""
    what = env
    if value is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise UserError("{env} must be a number, not {text!r}.",
                env=env, text=text) from None
    else:
        what = "The " + env.removeprefix("VAE_EXPLORER_RAY_").rstrip("S") + " request"
    if not math.isfinite(value) or value < least or (strictly and value <= least) or value > 1024:
        bound = "above 0" if strictly else "0 or more"
        raise UserError("{what} must be a number {bound} and at most 1024, not {value:g}.",
            what=what, bound=bound, value=value)
    return float(value)


# -- the worker side ------------------------------------------------------------------------------
class _Training:
    """One training in a Ray worker: a detached actor whose constructor starts the training on a thread
    (so the actor is alive, not pending, while it trains) and which ends itself when it is done."""

    def __init__(self, run_dir: str, queued_at: float, threads: int, device: str):
        threading.Thread(target=self._train, args=(Path(run_dir), queued_at, threads, device), name="vae-training",
                         daemon=True).start()

    def _train(self, run_dir: Path, queued_at: float, threads: int, device: str) -> None:
        try:
            _fit_in_worker(run_dir, queued_at, threads, device)
        finally:
            _end_this_actor()


def _fit_in_worker(run_dir: Path, queued_at: float, threads: int, device: str) -> int | None:
    """The fit use case for the queued run, printing into RUN_DIR/train.log what the command line would print:
    a skipped-files note, the one sentence of a failure (exit 2), a bug's traceback (exit 1)."""
    try:
        log = open_appending(run_dir / LOG, Phrase("a training's log"))
    except (OSError, UserError) as err:  # the runs folder is not shared with this node: only Ray's worker log says so
        print(f"vae-explorer: cannot open {run_dir / LOG} on {socket.gethostname()} ({getattr(err, 'strerror', err)}); "
              "is the runs folder mounted at the same path on every Ray node?", file=sys.stderr, flush=True)
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)  # this worker process belongs to this one actor
    os.dup2(log.fileno(), 2)
    os.chdir(ROOT)
    try:
        # records every end (finished, stopped, failed) in the run folder itself
        fit_queued(run_dir, queued_at, threads=threads, device=device,
                   note=lambda text: print(f"note: {printable(text)}", file=sys.stderr))
        return 0
    except Exception as err:  # the user's or the machine's doing is one line, as the command line prints it
        sentence = as_user_error(err)
        if sentence is None:  # a bug: job.run recorded it as failed; the traceback goes to train.log
            import traceback

            traceback.print_exc()
            return 1
        print(f"error: {printable(str(sentence))}", file=sys.stderr)
        return 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _end_this_actor() -> None:
    """Let Ray end this actor the ordinary way, which frees its CPUs and GPUs at once."""
    try:
        import ray

        ray.get_runtime_context().current_actor.__ray_terminate__.remote()
    except Exception:  # noqa: BLE001 - never leave a finished training holding its resources
        os._exit(0)
