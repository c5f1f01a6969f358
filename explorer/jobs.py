"""Background training jobs, shared by every session of one explorer process.

A page starts a job with a RunConfig and a run folder; a worker thread loads the data set, runs
``Trainer.fit()`` and records its progress under a lock; the page reads a snapshot (``JobView``)
about once a second. At most ``max_running`` jobs train at once (one per CPU core by default, or
$VAE_EXPLORER_MAX_TRAININGS); later ones wait in a first-come queue. Plain Python, no Streamlit:
nothing here may touch ``st.*``, because the worker threads run outside any script run.

Queued jobs of a browser session that has ended are cancelled: whenever a job is submitted or a slot
frees, and whenever a page lists jobs, the manager asks ``session_alive`` (in the app:
``streamlit_session_alive``) about the sessions that have queued jobs. Running jobs keep running; their
run folders are listed on the Models page like any other run.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

# Imported by the script thread before any worker exists: a worker's data loader may import pandas for
# the first time, and plotly, drawing in the script thread meanwhile, would find it half-imported.
import pandas  # noqa: F401

from training.checkpoint import WEIGHTS
from training.config import RunConfig
from training.data import load_dataset
from training.errors import UserError
from training.trainer import Progress, Trainer

MAX_TRAININGS_ENV = "VAE_EXPLORER_MAX_TRAININGS"
QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)

log = logging.getLogger(__name__)


class StepPoint(NamedTuple):
    """One training step: its batch's reconstruction and KL terms (nats per image) and beta."""

    step: int
    recon: float
    kl: float
    beta: float


@dataclass(frozen=True)
class JobView:
    """A consistent snapshot of one job, safe to read from any thread."""

    id: str
    session: str
    run_dir: Path
    config: RunConfig
    status: str
    queue_position: int | None     # 1 = next to start; None unless queued
    epoch: int                     # the epoch in progress, or the last finished one
    epochs: int
    step: int                      # steps done in this epoch
    steps_per_epoch: int
    global_step: int
    elapsed: float                 # seconds since the worker started (data loading included)
    eta: float | None              # seconds left, once a step has been timed
    steps: tuple[StepPoint, ...]   # the most recent steps (bounded)
    records: tuple[dict, ...]      # per-epoch history records (scalars only, bounded)
    error: str | None              # the one-sentence reason of a failed job
    message: str | None            # how a stopped job ended
    stop_requested: bool

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fraction(self) -> float:
        """Share of all planned steps done, 0..1."""
        total = self.epochs * self.steps_per_epoch
        return min(1.0, self.global_step / total) if total else 0.0

    @property
    def has_model(self) -> bool:
        """Whether the run folder holds weights that can be loaded (written from the first moment of fit)."""
        return (self.run_dir / WEIGHTS).is_file()


class _Job:
    """Mutable state of one job; only touched while holding the manager's lock."""

    def __init__(self, job_id: str, session: str, config: RunConfig, run_dir: Path, max_steps: int, max_records: int):
        self.id, self.session, self.config, self.run_dir = job_id, session, config, run_dir
        self.status = QUEUED
        self.epoch, self.epochs = 0, config.train.epochs
        self.step = self.steps_per_epoch = self.global_step = 0
        self.fit_elapsed = 0.0
        self.started: float | None = None
        self.ended: float | None = None
        self.steps: deque[StepPoint] = deque(maxlen=max_steps)
        self.records: deque[dict] = deque(maxlen=max_records)
        self.error: str | None = None
        self.message: str | None = None
        self.stop_requested = False
        self.trainer: Trainer | None = None

    def finish(self, status: str, error: str | None = None, message: str | None = None) -> None:
        self.status, self.error, self.message = status, error, message
        self.ended = time.monotonic()
        self.trainer = None  # frees the training tensors


def max_trainings_from_env() -> int:
    """$VAE_EXPLORER_MAX_TRAININGS, or one training per CPU core."""
    text = os.environ.get(MAX_TRAININGS_ENV, "").strip()
    if not text:
        return max(1, os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{MAX_TRAININGS_ENV} must be a whole number of at least 1, not {text!r}.")
    return int(text)


def streamlit_session_alive(session: str) -> bool:
    """Whether the Streamlit session still exists: connected, or disconnected but still resumable.

    A session the server no longer knows (closed, or its reconnect window has passed) has ended. Outside a
    ``streamlit run`` server (tests, AppTest, the "local" session) every session counts as alive.
    """
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return True
        runtime = Runtime.instance()
        session_mgr = getattr(runtime, "_session_mgr", None)
        if session_mgr is not None and hasattr(session_mgr, "get_session_info"):
            return session_mgr.get_session_info(session) is not None
        return runtime.is_active_session(session)
    except Exception:  # an internal API that moved: never cancel anything because of it
        log.debug("could not ask Streamlit about session %s", session, exc_info=True)
        return True


class JobManager:
    """Starts, queues, stops and reports training jobs; every method is thread-safe."""

    def __init__(self, max_running: int | None = None, *, max_finished: int = 50, max_steps: int = 5000,
                 max_records: int = 2000, device: str = "auto", max_active_per_session: int = 4,
                 session_alive: Callable[[str], bool] | None = None):
        self.max_running = max_running if max_running is not None else max_trainings_from_env()
        if self.max_running < 1:
            raise UserError(f"At least one training must be allowed to run, not {self.max_running}.")
        self.max_finished, self.max_steps, self.max_records, self.device = max_finished, max_steps, max_records, device
        self.max_active_per_session = max_active_per_session  # queued + running, so one tab cannot fill the queue
        self.session_alive = session_alive  # None: sessions never end (the CLI, tests)
        self._changed = threading.Condition(threading.Lock())
        self._jobs: dict[str, _Job] = {}  # oldest first: the queue order
        self._ids = itertools.count(1)

    # -- what pages call ---------------------------------------------------------------------
    def start(self, session: str, config: RunConfig, run_dir: str | Path) -> str:
        """Queue a training of ``config`` into the new folder ``run_dir``; returns the job id."""
        run_dir = Path(run_dir).absolute()
        with self._changed:
            if any(j.run_dir == run_dir and j.status in ACTIVE for j in self._jobs.values()):
                raise UserError(f"A training into {run_dir} is already queued or running; choose another run name.")
            if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
                raise UserError(f"{run_dir} already exists; choose another run name.")
            mine = sum(j.session == session and j.status in ACTIVE for j in self._jobs.values())
            if mine >= self.max_active_per_session:
                raise UserError(f"This session already has {mine} trainings queued or running, the most allowed; "
                                "stop one or wait for one to finish.")
            job = _Job(f"job{next(self._ids)}", session, config, run_dir, self.max_steps, self.max_records)
            self._jobs[job.id] = job
            self._start_waiting()
            self._forget_old()
            return job.id

    def stop(self, job_id: str) -> None:
        """Cancel a queued job, or ask a running one to stop before its next step (last epoch's checkpoint stays)."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE:
                return
            if job.status == QUEUED:
                job.finish(STOPPED, message="Cancelled before it started.")
                self._after_finish()
                return
            job.stop_requested = True
            if job.trainer is not None:
                job.trainer.stop()

    def cancel_session(self, session: str) -> int:
        """Cancel the queued jobs of ``session`` (its running ones keep running); how many were cancelled."""
        with self._changed:
            return self._cancel_queued({session}, "Cancelled: the browser session that queued it has ended.")

    def cancel_ended_sessions(self) -> int:
        """Cancel the queued jobs of every session that ``session_alive`` says has ended; how many."""
        with self._changed:
            return self._cancel_ended()

    def jobs(self, session: str | None = None) -> list[JobView]:
        """This session's jobs (all jobs if session is None), newest first."""
        with self._changed:
            self._cancel_ended()
            return [self._view(j) for j in reversed(self._jobs.values()) if session is None or j.session == session]

    def get(self, job_id: str) -> JobView | None:
        with self._changed:
            job = self._jobs.get(job_id)
            return self._view(job) if job is not None else None

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        """Block until the job has finished (or the timeout passed); its latest view."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while (job := self._jobs.get(job_id)) is not None and job.status in ACTIVE:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._view(job) if job is not None else None

    # -- scheduling (lock held) --------------------------------------------------------------
    def _cancel_queued(self, sessions: set[str], message: str) -> int:
        doomed = [j for j in self._jobs.values() if j.status == QUEUED and j.session in sessions]
        for job in doomed:
            job.finish(STOPPED, message=message)
        if doomed:
            self._forget_old()
            self._changed.notify_all()
        return len(doomed)

    def _cancel_ended(self) -> int:
        if self.session_alive is None:
            return 0
        queued = {j.session for j in self._jobs.values() if j.status == QUEUED}
        ended = {s for s in queued if not self.session_alive(s)}
        return self._cancel_queued(ended, "Cancelled: the browser session that queued it has ended.") if ended else 0

    def _start_waiting(self) -> None:
        self._cancel_ended()
        running = sum(j.status == RUNNING for j in self._jobs.values())
        for job in self._jobs.values():
            if running >= self.max_running:
                break
            if job.status == QUEUED:
                job.status, job.started = RUNNING, time.monotonic()
                threading.Thread(target=self._work, args=(job,), name=f"vae-train-{job.id}", daemon=True).start()
                running += 1

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.status not in ACTIVE]
        for job_id in finished[:max(0, len(finished) - self.max_finished)]:
            del self._jobs[job_id]

    def _view(self, job: _Job) -> JobView:
        now = time.monotonic()
        elapsed = 0.0 if job.started is None else (job.ended or now) - job.started
        total = job.epochs * job.steps_per_epoch
        eta = None
        if job.status == RUNNING and job.global_step > 0 and total:
            eta = job.fit_elapsed / job.global_step * max(0, total - job.global_step)
        queued = [j.id for j in self._jobs.values() if j.status == QUEUED]
        return JobView(
            id=job.id, session=job.session, run_dir=job.run_dir, config=job.config, status=job.status,
            queue_position=queued.index(job.id) + 1 if job.id in queued else None,
            epoch=job.epoch, epochs=job.epochs, step=job.step, steps_per_epoch=job.steps_per_epoch,
            global_step=job.global_step, elapsed=elapsed, eta=eta, steps=tuple(job.steps),
            records=tuple(job.records), error=job.error, message=job.message, stop_requested=job.stop_requested,
        )

    # -- the worker thread -------------------------------------------------------------------
    def _work(self, job: _Job) -> None:
        try:
            self._train(job)
        except UserError as err:
            self._finish(job, FAILED, error=str(err))
        except Exception as err:  # a bug, not the user's doing: keep the thread's death visible
            log.exception("training job %s failed", job.id)
            self._finish(job, FAILED, error=f"Training failed unexpectedly ({type(err).__name__}: {err}).")

    def _train(self, job: _Job) -> None:
        config = job.config
        c, side, _ = config.model.image_shape
        data = load_dataset(config.train.dataset, image_size=side, channels=c, seed=config.train.seed)
        trainer = Trainer(config, data, run_dir=job.run_dir, device=self.device,
                          callback=lambda p: self._record(job, p))
        with self._changed:
            if job.stop_requested:
                job.finish(STOPPED, message="Stopped before training began; nothing was saved.")
                self._after_finish()
                return
            job.trainer, job.steps_per_epoch = trainer, trainer.steps_per_epoch
        trainer.fit()
        if trainer.done:
            self._finish(job, DONE)
        else:
            self._finish(job, STOPPED, message=f"Stopped; the checkpoint of epoch {trainer.epoch} is kept.")

    def _record(self, job: _Job, p: Progress) -> None:
        with self._changed:
            job.epoch, job.epochs, job.step = p.epoch, p.epochs, p.step
            job.steps_per_epoch, job.global_step, job.fit_elapsed = p.steps_per_epoch, p.global_step, p.elapsed
            if p.kind == "step":
                job.steps.append(StepPoint(p.global_step, p.recon, p.kl, p.beta))
            elif p.kind == "epoch" and p.record is not None:
                job.records.append({k: v for k, v in p.record.items() if isinstance(v, (int, float))})

    def _finish(self, job: _Job, status: str, error: str | None = None, message: str | None = None) -> None:
        with self._changed:
            job.finish(status, error, message)
            self._after_finish()

    def _after_finish(self) -> None:
        self._start_waiting()
        self._forget_old()
        self._changed.notify_all()


_shared: JobManager | None = None
_shared_lock = threading.Lock()


def shared_manager() -> JobManager:
    """The one manager of this process, so jobs outlive page switches and script reruns."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = JobManager(session_alive=streamlit_session_alive)
        return _shared
