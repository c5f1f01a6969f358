"""Command line: ``python -m training {fit,sweep,evaluate,export,stop,datasets}``.

Every mistake a user can make ends in one sentence on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from training.settings import add_flags
from training.distributed import world_size_from_env
from training.errors import UserError, as_user_error, printable

EXIT_USER_ERROR = 2
# Flags that --resume may change; the rest come from the run's config.json.
RESUMABLE = {"epochs", "device", "out", "resume", "quiet", "command", "max_running", "threads", "nice", "queued_at"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        raise UserError("{message} (see '{prog} --help').", message=message[:1].upper() + message[1:], prog=self.prog)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m training", description="Train and evaluate variational autoencoders.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    f = sub.add_parser("fit", help="train a VAE into a run folder",
                       description="Train a VAE; the run folder gets config.json, model.safetensors, "
                                   "history.jsonl and checkpoint.safetensors (for --resume).")
    # defaults are None so that --resume can tell what the user typed; real defaults in config_from_flags
    f.add_argument("--dataset", help="mnist5k (default), digits, shapes, mnist, fashion-mnist, kmnist, "
                                     "cifar10 or folder:PATH")
    f.add_argument("--image-size", type=int, help="side length for shapes and folder: data sets")
    f.add_argument("--channels", type=int, choices=(1, 3), help="1 (grey) or 3 (RGB) for folder: data sets")
    add_flags(f, extra_help={"epochs": "with --resume: the new total", "sigma": "with --likelihood gaussian"})
    f.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    f.add_argument("--out", help="run folder (default runs/<dataset>-<arch>-z<dims>-<time>)")
    f.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint "
                                                         "(or start a run queued there that has not trained yet)")
    f.add_argument("--quiet", action="store_true", help="no progress bar, no per-epoch lines")
    f.add_argument("--max-running", type=int, help="queue: wait until fewer than this many trainings run in the "
                                                   "runs folder (the parent of --out), first come first served")
    f.add_argument("--threads", type=int, help="torch threads for this training (default: all cores)")
    f.add_argument("--nice", type=int, help="lower this process's CPU priority by 0-19 (the app uses 10)")
    f.add_argument("--queued-at", type=float, help=argparse.SUPPRESS)  # the app's queue ticket (see training/job.py)

    w = sub.add_parser("sweep", help="queue one training per beta, every other setting equal (a beta sweep)",
                       description="Queue one training per value of --beta into RUNS_DIR/NAME-beta<b>, with a "
                                   "manifest RUNS_DIR/NAME.sweep.json; they wait in the runs folder's queue like "
                                   "the app's trainings, and the app's Sweep page shows them side by side.")
    w.add_argument("--beta", required=True, help="comma-separated values of beta, one run each, e.g. 0.5,1,2,4,8")
    w.add_argument("--dataset", help="mnist5k (default), digits, shapes, mnist, fashion-mnist, kmnist, "
                                     "cifar10 or folder:PATH")
    w.add_argument("--image-size", type=int, help="side length for shapes and folder: data sets")
    w.add_argument("--channels", type=int, choices=(1, 3), help="1 (grey) or 3 (RGB) for folder: data sets")
    add_flags(w, extra_help={"sigma": "with --likelihood gaussian"}, skip=("beta",))
    w.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    w.add_argument("--out", help="RUNS_DIR/NAME: the sweep's name and its runs folder "
                                 "(default runs/<dataset>-<arch>-z<dims>-<time>)")
    w.add_argument("--max-running", type=int, help="trainings at once in the runs folder (default: one per core, "
                                                   "or $VAE_EXPLORER_MAX_TRAININGS)")
    w.add_argument("--threads", type=int, help="torch threads per training (default: cores / --max-running)")
    w.add_argument("--nice", type=int, help="CPU priority of the trainings, 0-19 (default 10, as the app's)")
    w.add_argument("--wait", action="store_true", help="wait until every run has ended; exit 1 unless all finished")

    e = sub.add_parser("evaluate", help="test -ELBO, IWAE estimate of -ln p(x), active units of a run (and MIG and "
                                        "named dimensions when the data set has known factors)")
    e.add_argument("run_dir", nargs="?", help="a run folder written by 'fit', or an ONNX model folder")
    e.add_argument("--model", help="instead of a folder: package.module:factory, your own model code (it is run; "
                                   "see training/adapter.py)")
    e.add_argument("--iw-samples", type=int, default=1000, help="importance samples K (default 1000)")
    e.add_argument("--elbo-samples", type=int, default=16,
                   help="draws of z per image for the -ELBO's reconstruction term (default 16)")
    e.add_argument("--device", default="auto")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--dataset", help="for an ONNX model folder: the data set to score it on (default: its model.json's)")

    x = sub.add_parser("export", help="write a run's model as encoder.onnx, decoder.onnx and model.json")
    x.add_argument("run_dir", help="a run folder written by 'fit'")
    x.add_argument("--out", required=True, help="a new folder for the ONNX files")

    s = sub.add_parser("stop", help="ask a training to stop after its current step (it keeps its checkpoint)")
    s.add_argument("run_dir", help="the run folder of a queued or running training")
    s.add_argument("--wait", type=float, default=10.0, help="seconds to wait for it to stop (default 10; 0: don't)")

    sub.add_parser("datasets", help="list the data sets and whether each is available now")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "fit":
            return _fit(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "stop":
            return _stop(args)
        if args.command == "export":
            return _export(args)
        return _datasets()
    except KeyboardInterrupt:
        print("interrupted; the last complete checkpoint is kept.", file=sys.stderr)
        return 130
    except Exception as err:  # the user's or the machine's doing is one line and exit 2; a bug is a traceback
        sentence = as_user_error(err)
        if sentence is None:
            raise
        print(f"error: {printable(str(sentence))}", file=sys.stderr)
        return EXIT_USER_ERROR


# -- fit -------------------------------------------------------------------------------------
def _fit(args: argparse.Namespace) -> int:
    from training.distributed import init_from_env, shutdown

    device = _check_device(args.device)
    init_from_env(device)
    finished = False
    try:
        _train(args, device)
        finished = True
        return 0
    finally:
        shutdown(finished)


def _noted(data):
    """Say which files of a folder data set were skipped, and why (stderr: it is a warning)."""
    if data.skipped_note:
        print(f"note: {printable(data.skipped_note)}", file=sys.stderr)
    return data


def _train(args: argparse.Namespace, device: str) -> None:
    from training import costs, job
    from training.distributed import agree, is_rank0
    from training.settings import default_run_name

    _check_process_flags(args)
    if args.max_running and world_size_from_env() > 1:
        raise UserError("--max-running cannot be used under torchrun; start the distributed run when there is room.")
    job.lower_priority(args.nice or 0)
    out = Path(args.out) if args.out else None
    if args.resume:
        config, out = _resume_config(args, out)
        c, h, _ = config.model.image_shape

        def load():  # after the queue: a waiting training holds no data set and no torch
            from training.data import load_dataset

            return _noted(load_dataset(config.train.dataset, image_size=h, channels=c, seed=config.train.seed))
    else:
        from training.data import load_dataset

        data_name = args.dataset or "mnist5k"
        data = _noted(load_dataset(data_name, image_size=args.image_size, channels=args.channels, seed=args.seed or 0))
        config = config_from_flags(args, tuple(data.image_shape))
        out = out or Path("runs") / default_run_name(config)
        load = lambda: data  # noqa: E731
    costs.check_training(config)  # before any model, optimizer or batch exists
    reporter = _Reporter(quiet=args.quiet or not is_rank0())
    plan = job.Plan(run_dir=out, config=config, load_data=load, resume=args.resume, device=device,
                    max_running=args.max_running, queued_at=args.queued_at, threads=args.threads, callback=reporter)
    if not is_rank0():  # rank 0 alone claims, records and writes; the others train beside it
        agree(None)
        job.run_follower(plan)
        return
    try:
        if not args.resume:
            _check_new_out(out)
        lock, plan.created = job.claim(out, args.resume)
    except UserError as err:
        agree(str(err))
        raise
    agree(None)
    try:
        if not args.quiet:
            print(f"run folder: {out}  (device {device}, {world_size_from_env()} process(es))")
        job.run(plan, lock)
    finally:
        reporter.close()
        lock.release()


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


# -- sweep -----------------------------------------------------------------------------------
def _sweep(args: argparse.Namespace) -> int:
    """Queue one training per beta through the app's launcher and queue (training/sweep.py)."""
    import os

    from training import sweep
    from training.data import load_dataset
    from training.launch import RAY_ADDRESS_ENV, LocalLauncher, launcher_from_env
    from training.run_folder import sweep_manifest_path
    from training.settings import default_run_name, flag_name

    betas = sweep.parse_betas(args.beta, "--beta")  # before anything slow: a typo is answered at once
    _check_process_flags(args)
    device = _check_device(args.device)
    data = _noted(load_dataset(args.dataset or "mnist5k", image_size=args.image_size, channels=args.channels,
                               seed=args.seed or 0))
    config = config_from_flags(argparse.Namespace(**{**vars(args), "beta": betas[0]}), tuple(data.image_shape))
    out = Path(args.out) if args.out else Path("runs") / default_run_name(config)
    if os.environ.get(RAY_ADDRESS_ENV, "").strip():  # as the app: Ray tasks when the operator set an address
        launcher = launcher_from_env()
    else:
        launcher = LocalLauncher(max_running=args.max_running, threads=args.threads, nice=args.nice, device=device)
    started = sweep.start(out.parent, out.name, config, betas, launcher, flag_name)
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
    import time

    from training.run_status import ACTIVE, FINISHED, observed_state, read_status

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


def config_from_flags(args: argparse.Namespace, image_shape: tuple[int, int, int]):
    """The RunConfig the flags describe; errors name the flag (training/settings.py builds it)."""
    from training.settings import build_run_config, flag_name

    return build_run_config(vars(args), image_shape, flag_name)


def _flag_sentence(err: ValidationError) -> str:
    from training.settings import flag_name, setting_sentence

    return str(setting_sentence(err, flag_name))


def _resume_config(args: argparse.Namespace, out: Path | None):
    from training.config import RunConfig
    from training.run_folder import CHECKPOINT, CONFIG, WEIGHTS, read_config

    if out is None:
        raise UserError("--resume needs --out RUN_DIR naming the run to continue.")
    if not (out / CONFIG).is_file():
        raise UserError("Cannot resume: {out} has no {config}.",
            out=out, config=CONFIG)
    if (out / WEIGHTS).is_file() and not (out / CHECKPOINT).is_file():  # trained, but its resume state is gone
        raise UserError("{out} has no {checkpoint} to resume from; start a new run instead.",
            out=out, checkpoint=CHECKPOINT)
    typed = [k for k, v in vars(args).items() if v not in (None, False) and k not in RESUMABLE]
    if typed:
        raise UserError(
            "--resume continues {out} with its saved settings; only --epochs and --device may be "
                "given (not --{value}).",
                out=out, value=typed[0].replace('_', '-')
        )
    config = read_config(out)
    if args.epochs is not None:
        try:
            train = config.train.model_copy(update={"epochs": args.epochs})
            config = RunConfig(model=config.model, train=train.model_dump())
        except ValidationError as err:
            raise UserError(_flag_sentence(err)) from None
    return config, out


def _check_new_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("{out} already exists and is not empty; pass --resume to continue it or choose another "
            "--out.",
            out=out)


def _check_device(name: str) -> str:
    if name in ("auto", "cpu"):
        return name
    import torch

    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("--device mps was asked for, but this machine has no usable Apple GPU.")
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise UserError("--device {name} was asked for, but PyTorch sees no CUDA GPU here.",
                name=name)
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise UserError("--device {name}: this machine has {value} CUDA GPU(s).",
                name=name, value=torch.cuda.device_count())
        return name
    raise UserError("Unknown --device {name!r}; use auto, cpu, cuda, cuda:N or mps.",
        name=name)


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


# -- evaluate --------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from training.checkpoint import load_run
    from training.data import load_dataset
    from training.evaluate import evaluate_model, test_images
    from training.model import pick_device

    if not 1 <= args.iw_samples <= 100_000:
        raise UserError("--iw-samples must be between 1 and 100000, not {iw_samples}.",
            iw_samples=args.iw_samples)
    if not 1 <= args.elbo_samples <= 10_000:
        raise UserError("--elbo-samples must be between 1 and 10000, not {elbo_samples}.",
            elbo_samples=args.elbo_samples)
    from training.run_folder import NO_DATASET, is_onnx_folder

    device = pick_device(_check_device(args.device))
    if (args.run_dir is None) == (args.model is None):
        raise UserError("evaluate needs either a run folder or --model package.module:factory.")
    if args.model:  # one's own code, named here: trusted, and run
        from training.adapter import folder_for, load_folder as load_adapter

        device = "cpu"
        args.run_dir = str(folder_for(args.model))
        run = load_adapter(args.run_dir, dataset=args.dataset)
        if run.config.train.dataset == NO_DATASET:
            raise UserError("{spec} names no data set; give one with --dataset.", spec=args.model)
    elif is_onnx_folder(args.run_dir):  # a model trained elsewhere: ONNX Runtime on the CPU
        from training.onnx_model import load_folder

        device = "cpu"
        run = load_folder(args.run_dir, dataset=args.dataset)
        if run.config.train.dataset == NO_DATASET:
            raise UserError("{path} names no data set; give one with --dataset.", path=args.run_dir)
    elif args.dataset:
        raise UserError("--dataset is for ONNX model folders; a run is evaluated on the data set it was trained on.")
    else:
        run = load_run(args.run_dir, device=device)
    c, h, _ = run.config.model.image_shape
    data = load_dataset(run.config.train.dataset, image_size=h, channels=c, seed=run.config.train.seed)
    x = test_images(run.config, data, device)
    result = evaluate_model(run.model, x, iw_samples=args.iw_samples, seed=args.seed, elbo_samples=args.elbo_samples)
    if data.labels_are_factors and data.factor_names:  # known factors: how the code separates them
        from training import disentangle

        info = disentangle.of_model(run.model, x, data.y_test.numpy(), data.factor_names)
        result["disentanglement"] = info.as_dict()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"run {args.run_dir} (epoch {run.epoch}, {run.config.train.dataset}, {x.shape[0]} test images)")
    se = result["test_neg_elbo_se"]
    spread = f" ± {se:.3f} (standard error, S = {result['elbo_samples']} draws of z)" if se == se else " (one draw of z)"
    print(f"  test -ELBO      {result['test_neg_elbo']:.3f}{spread} nats/image")
    print(f"    recon         {result['test_recon']:.3f}")
    print(f"    KL            {result['test_kl']:.3f}")
    print(f"  IWAE -ln p(x)   {result['iwae_nll']:.3f}  (K = {result['iw_samples']})")
    print(f"  active units    {result['active_units']} of {len(result['kl_per_dim'])}")
    kl = ", ".join(f"{v:.2f}" for v in result["kl_per_dim"])
    print(f"  KL per dim      {kl}")
    if "disentanglement" in result:
        d = result["disentanglement"]
        print(f"  MIG             {d['mig']:.3f}  (mutual information gap over {', '.join(d['factors'])})")
        named = [f"z_{k} {name}" for k, name in enumerate(d["labels"]) if name]
        print(f"  named dims      {', '.join(named) if named else 'none clear'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from training.onnx_model import export_run

    out = export_run(args.run_dir, args.out)
    print(f"wrote {out}/encoder.onnx, decoder.onnx and model.json")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from training.launch import stop_run

    if not 0 <= args.wait <= 3600:
        raise UserError("--wait must be between 0 and 3600 seconds, not {wait:g}.",
            wait=args.wait)
    state = stop_run(Path(args.run_dir), wait=args.wait)
    print(f"{args.run_dir}: {state}")
    return 0


def _datasets() -> int:
    from training.data import list_datasets

    infos = list_datasets()
    width = max(len(i.name) for i in infos)
    for i in infos:
        shape = "x".join(map(str, i.image_shape)) if i.image_shape else "any"
        state = "available" if i.available else "not available"
        print(f"{i.name:<{width}}  {shape:<9} {state:<14} {i.description} ({i.detail})")
    print(f"{'folder:PATH':<{width}}  {'any':<9} {'-':<14} a folder of images (class sub-folders or flat)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
