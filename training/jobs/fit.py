"""The fit use case: train a run into its folder, from claiming it to its recorded end.

Two front doors call it: the command line (``python -m training fit``, training/cli/fit.py, which is also
what the local launcher starts) and the Ray worker (training/jobs/ray_launcher.py, through ``fit_queued``).
It takes values and callbacks, never flags: ``progress`` receives the Trainer's reports, ``note`` what a
folder data set skipped, ``announce`` the run folder once this process has claimed it. Under torchrun, call
it inside ``training.jobs.distributed.run_in_group``; rank 0 alone claims, records and writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from training.core.config import RunConfig
from training.core.costs import check_training
from training.core.errors import UserError, out_not_empty
from training.core.settings import NameOf, flag_name, setting_sentence
from training.data.budget import check_dataset_memory
from training.jobs.distributed import agree, is_rank0
from training.jobs.job import Plan, claim, run, run_follower
from training.jobs.launcher import LocalLauncher, start_queued
from training.runs.layout import CHECKPOINT, CONFIG, WEIGHTS, read_run_config

Note = Callable[[str], None]


def check_resumable(out: Path) -> None:
    """OUT has a config to continue from, and its resume state unless it never trained."""
    if not (out / CONFIG).is_file():
        raise UserError("Cannot resume: {out} has no {config}.",
            out=out, config=CONFIG)
    if (out / WEIGHTS).is_file() and not (out / CHECKPOINT).is_file():  # trained, but its resume state is gone
        raise UserError("{run_dir} has no {checkpoint} to resume from; start a new run instead.",
            run_dir=out, checkpoint=CHECKPOINT)


def resume_config(out: Path, epochs: int | None = None, name_of: NameOf = flag_name) -> RunConfig:
    """The config OUT continues with: its own, with EPOCHS as the new total if given (a refused value is one
    sentence naming the setting as ``name_of`` does)."""
    check_resumable(out)
    config = read_run_config(out)
    if epochs is not None:
        try:
            train = config.train.model_copy(update={"epochs": epochs})
            config = RunConfig(model=config.model, train=train.model_dump())
        except ValidationError as err:
            raise setting_sentence(err, name_of) from None
    return config


def check_new_out(out: Path) -> None:
    """A new run's folder is absent or empty."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise out_not_empty(out)


def data_of(config: RunConfig, note: Note | None = None) -> Callable[[], object]:
    """What loads CONFIG's data set (at its image size and channels), called once the queue lets the run
    start: a waiting training holds no data set and no torch."""
    def load():
        from training.data import load_dataset  # torch, and the data set itself: only once the run starts

        c, h, _ = config.model.image_shape
        data = load_dataset(config.train.dataset, image_size=h, channels=c, seed=config.train.seed,
                            dataset_size=config.train.dataset_size)
        if note is not None and data.skipped_note:
            note(data.skipped_note)
        return data

    return load


def fit(out: Path, config: RunConfig, load_data: Callable[[], object], *, resume: bool = False,
        device: str = "auto", max_running: int | None = None, queued_at: float | None = None,
        threads: int | None = None, progress: Callable | None = None,
        announce: Callable[[Path], None] | None = None, start_next: bool = True) -> None:
    """Train CONFIG into the run folder OUT: claim it (a new run's folder must be absent or empty), wait in its
    runs folder's queue if ``max_running``, load the data (``load_data``), train, record the end. With
    ``resume``, continue OUT's checkpoint (or start a run queued there that has not trained yet; ``queued_at``
    names the app's request). A failure is recorded in the run's status and raised as one sentence. Once it
    has ended, ``start_next`` starts the local runs waiting in OUT's runs folder that its slot lets start."""
    check_training(config)  # before any model, optimizer or batch exists
    check_dataset_memory(config.train.dataset, config.model.image_shape[1],  # and before its data set is built
                         config.train.dataset_size)
    plan = Plan(run_dir=out, config=config, load_data=load_data, resume=resume, device=device,
                max_running=max_running, queued_at=queued_at, threads=threads, callback=progress)
    if not is_rank0():  # rank 0 alone claims, records and writes; the others train beside it
        agree(None)
        run_follower(plan)
        return
    try:
        if not resume:
            check_new_out(out)
        lock, plan.created = claim(out, resume)
    except UserError as err:
        agree(str(err))
        raise
    agree(None)
    try:
        if announce is not None:
            announce(out)
        run(plan, lock)
    finally:
        lock.release()
        if start_next:
            _start_next(plan)


def _start_next(plan: Plan) -> None:
    """This training's slot is free: start the runs waiting in its folder's queue that may start now."""
    try:
        nice = os.nice(0)
        start_queued(plan.run_dir.parent, LocalLauncher(max_running=plan.max_running, threads=plan.threads,
                                                        nice=nice, device=plan.device))
    except (UserError, OSError):  # the app starts them as it refreshes
        pass


def fit_queued(run_dir: Path, queued_at: float, threads: int | None = None, device: str = "auto",
               note: Note | None = None) -> None:
    """The training the app queued in RUN_DIR at ``queued_at`` (``python -m training fit --resume --out RUN_DIR
    --queued-at T``): a worker's door to ``fit``."""
    config = resume_config(run_dir)
    fit(run_dir, config, data_of(config, note), resume=True, device=device, queued_at=queued_at, threads=threads,
        start_next=False)  # a cluster's worker: Ray starts what waits there
