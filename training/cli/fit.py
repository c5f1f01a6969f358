"""The command line's training commands: ``fit`` (a front door to the fit use case, training/jobs/fit.py) and
``sweep`` (queued through the app's launcher and queue, training/jobs/control.py), with the progress printer.
Every check here names the flag that was typed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from training.core.environment import RAY_ADDRESS_ENV
from training.core.errors import UserError, printable
from training.core.numbers import whole_number
from training.core.settings import build_run_config, default_run_name, flag_name
from training.jobs.control import launcher_from_env, start_sweep
from training.jobs.distributed import is_rank0, run_in_group, world_size_from_env
from training.jobs.fit import check_resumable, data_of, fit, resume_config
from training.jobs.job import lower_priority
from training.jobs.launcher import LocalLauncher
from training.runs.status import ACTIVE, FINISHED, observed_state, read_status
from training.runs.sweep import parse_betas, sweep_manifest_path

# Flags that --resume may change; the rest come from the run's config.json.
RESUMABLE = {"epochs", "device", "out", "resume", "quiet", "command", "max_running", "threads", "nice", "queued_at"}


# -- fit -------------------------------------------------------------------------------------
def run_fit(args: argparse.Namespace) -> int:
    device = check_device(args.device)
    run_in_group(device, lambda: _train(args, device))
    return 0


def _note(text: str) -> None:
    """Say which files of a folder data set were skipped, and why (stderr: it is a warning)."""
    print(f"note: {printable(text)}", file=sys.stderr)


def _noted(data):
    if data.skipped_note:
        _note(data.skipped_note)
    return data


def _train(args: argparse.Namespace, device: str) -> None:
    _check_process_flags(args)
    if args.max_running and world_size_from_env() > 1:
        raise UserError("--max-running cannot be used under torchrun; start the distributed run when there is room.")
    lower_priority(args.nice or 0)
    out = Path(args.out) if args.out else None
    if args.resume:
        config, out = _resume_config(args, out)
        load = data_of(config, _note)  # after the queue: a waiting training holds no data set and no torch
    else:
        from training.data import load_dataset  # torch

        data_name = args.dataset or "mnist5k"
        data = _noted(load_dataset(data_name, image_size=args.image_size, channels=args.channels, seed=args.seed or 0,
                                   dataset_size=args.dataset_size))
        config = config_from_flags(args, tuple(data.image_shape))
        out = out or Path("runs") / default_run_name(config)
        load = lambda: data  # noqa: E731
    reporter = _Reporter(quiet=args.quiet or not is_rank0())
    announce = None if args.quiet else \
        (lambda run_dir: print(f"run folder: {run_dir}  (device {device}, {world_size_from_env()} process(es))"))
    try:
        fit(out, config, load, resume=args.resume, device=device, max_running=args.max_running,
            queued_at=args.queued_at, threads=args.threads, progress=reporter, announce=announce)
    finally:
        reporter.close()


def _check_process_flags(args: argparse.Namespace) -> None:
    """--threads, --max-running and --nice within their ranges (fit and sweep)."""
    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise UserError("--threads must be between 1 and 1024, not {threads}.",
            threads=args.threads)
    if args.max_running is not None and not 1 <= args.max_running <= 1024:
        raise UserError("--max-running must be between 1 and 1024, not {max_running}.",
            max_running=args.max_running)
    if args.nice is not None and not 0 <= args.nice <= 19:
        raise UserError("--nice must be between 0 and 19, not {nice}.",
            nice=args.nice)


def _resume_config(args: argparse.Namespace, out: Path | None):
    if out is None:
        raise UserError("--resume needs --out RUN_DIR naming the run to continue.")
    check_resumable(out)
    typed = [k for k, v in vars(args).items() if v not in (None, False) and k not in RESUMABLE]
    if typed:
        raise UserError(
            "--resume continues {out} with its saved settings; only --epochs and --device may be "
                "given (not --{value}).",
                out=out, value=typed[0].replace('_', '-')
        )
    return resume_config(out, args.epochs, flag_name), out


def config_from_flags(args: argparse.Namespace, image_shape: tuple[int, int, int]):
    """The RunConfig the flags describe; errors name the flag (training/core/settings.py builds it)."""
    return build_run_config(vars(args), image_shape, flag_name)


def check_device(name: str) -> str:
    """--device as typed, if this machine has it."""
    if name in ("auto", "cpu"):
        return name
    import torch  # only to ask it about the machine's GPUs

    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("--device mps was asked for, but this machine has no usable Apple GPU.")
        return name
    if name == "cuda" or (name.startswith("cuda:") and whole_number(name[5:]) is not None):
        if not torch.cuda.is_available():
            raise UserError("--device {name} was asked for, but PyTorch sees no CUDA GPU here.",
                name=name)
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise UserError("--device {name}: this machine has {value} CUDA GPU(s).",
                name=name, value=torch.cuda.device_count())
        return name
    raise UserError("Unknown --device {name!r}; use auto, cpu, cuda, cuda:N or mps.",
        name=name)


# -- sweep -----------------------------------------------------------------------------------
def run_sweep(args: argparse.Namespace) -> int:
    """Queue one training per beta through the app's launcher and queue (training/runs/sweep.py)."""
    from training.data import load_dataset  # torch

    betas = parse_betas(args.beta, "--beta")  # before anything slow: a typo is answered at once
    _check_process_flags(args)
    device = check_device(args.device)
    data = _noted(load_dataset(args.dataset or "mnist5k", image_size=args.image_size, channels=args.channels,
                               seed=args.seed or 0, dataset_size=args.dataset_size))
    config = config_from_flags(argparse.Namespace(**{**vars(args), "beta": betas[0]}), tuple(data.image_shape))
    out = Path(args.out) if args.out else Path("runs") / default_run_name(config)
    if os.environ.get(RAY_ADDRESS_ENV, "").strip():  # as the app: Ray tasks when the operator set an address
        launcher = launcher_from_env()
    else:
        launcher = LocalLauncher(max_running=args.max_running, threads=args.threads, nice=args.nice, device=device)
    started = start_sweep(out.parent, out.name, config, betas, launcher, flag_name)
    root = out.parent
    at_once = f"at most {launcher.max_running} at a time" if launcher.max_running else "as the cluster has room"
    print(f"sweep {started.name}: {len(started.runs)} trainings queued in {root} ({at_once}); "
          f"manifest {sweep_manifest_path(root, started.name)}")
    for beta, run in zip(started.betas, started.runs):
        print(f"  beta {beta:<8g} {root / run}")
    if not args.wait:
        print("they train in processes of their own; follow them on the app's Sweep page or with --wait.")
        return 0
    return _wait_for_sweep(root, started)


def _wait_for_sweep(root: Path, started) -> int:
    """Print each run's end as it comes; 0 when every run finished, else 1."""
    pending, ended = dict(zip(started.runs, started.betas)), {}
    try:
        while pending:
            for run in list(pending):
                status = read_status(root / run)
                state = observed_state(root / run, status) if status is not None else "missing"
                if state not in ACTIVE:
                    ended[run] = state
                    print(f"  beta {pending.pop(run):<8g} {run}: {state}", flush=True)
            if pending:
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopped waiting; the trainings go on ('python -m training stop RUN' stops one).", file=sys.stderr)
        return 130
    return 0 if all(state == FINISHED for state in ended.values()) else 1


class _Reporter:
    """Progress bar on stderr (only on a terminal) and one line per epoch on stdout."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, p) -> None:
        if self.quiet:
            return
        if self.bar is None and p.kind == "step":
            from tqdm import tqdm

            self.bar = tqdm(total=p.epochs * p.steps_per_epoch, initial=p.global_step - 1, unit="step",
                            file=sys.stderr, disable=None, leave=False, dynamic_ncols=True)
        if p.kind == "step" and self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"epoch {p.epoch} loss {p.loss:.2f}", refresh=False)
        elif p.kind == "epoch":
            r = p.record
            line = (f"epoch {r['epoch']}/{p.epochs}  beta {r['beta']:.3g}  "
                    f"train recon {r['train_recon']:.2f} kl {r['train_kl']:.2f} loss {r['train_loss']:.2f}  |  "
                    f"test recon {r['test_recon']:.2f} kl {r['test_kl']:.2f} loss {r['test_loss']:.2f}  |  "
                    f"{r['seconds']:.1f} s, {r['samples_per_second']:,.0f} img/s")
            (self.bar.write if self.bar is not None else print)(line)
            sys.stdout.flush()
        elif p.kind == "stopped":
            print(f"stopped; the checkpoint of epoch {p.epoch} is kept.")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
