"""The command line's commands that read a run, or the data sets: ``evaluate`` (any kind of model folder, or
one's own model code), ``export`` (a run as ONNX), ``stop`` and ``datasets``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.cli.fit import check_device
from training.core.config import FOLDER_PREFIX
from training.core.errors import UserError
from training.models.base import NO_DATASET
from training.models.open import ONNX, load_run, model_kind


def run_evaluate(args: argparse.Namespace) -> int:
    from training.data import load_dataset  # torch: only for the commands that need it
    from training.vae.evaluate import evaluate_over_seeds, test_images
    from training.vae.model import pick_device

    if not 1 <= args.iw_samples <= 100_000:
        raise UserError("--iw-samples must be between 1 and 100000, not {iw_samples}.",
            iw_samples=args.iw_samples)
    if not 1 <= args.elbo_samples <= 10_000:
        raise UserError("--elbo-samples must be between 1 and 10000, not {elbo_samples}.",
            elbo_samples=args.elbo_samples)
    if not 1 <= args.seeds <= 1000:
        raise UserError("--seeds must be between 1 and 1000, not {seeds}.", seeds=args.seeds)
    device = pick_device(check_device(args.device))
    if (args.run_dir is None) == (args.model is None):
        raise UserError("evaluate needs either a run folder or --model package.module:factory.")
    if args.model:  # one's own code, named here: trusted, and run
        from training.models.adapter import folder_for

        args.run_dir = str(folder_for(args.model))
    if args.model or model_kind(args.run_dir) == ONNX:  # one's own code, or ONNX graphs: run on the CPU
        device = "cpu"
        run = load_run(args.run_dir, device, dataset=args.dataset)
        if run.config.train.dataset == NO_DATASET:
            if args.model:
                raise UserError("{spec} names no data set; give one with --dataset.", spec=args.model)
            raise UserError("{path} names no data set; give one with --dataset.", path=args.run_dir)
    elif args.dataset:
        raise UserError("--dataset is for ONNX model folders; a run is evaluated on the data set it was trained on.")
    else:
        run = load_run(args.run_dir, device=device)
    c, h, _ = run.config.model.image_shape
    data = load_dataset(run.config.train.dataset, image_size=h, channels=c, seed=run.config.train.seed,
                        dataset_size=run.config.train.dataset_size)
    x = test_images(run.config, data, device)
    seeds = list(range(args.seed, args.seed + args.seeds))
    result = evaluate_over_seeds(run.model, x, seeds, iw_samples=args.iw_samples, elbo_samples=args.elbo_samples)
    if data.labels_are_factors and data.factor_names:  # known factors: how the code separates them
        from training.analysis import disentangle

        info = disentangle.of_model(run.model, x, data.y_test.numpy(), data.factor_names)
        result["disentanglement"] = info.as_dict()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"run {args.run_dir} (epoch {run.epoch}, {run.config.train.dataset}, {x.shape[0]} test images)")
    se = result["test_neg_elbo_se"]
    draws = f"{result['elbo_samples']} draws of z" + (f" x {len(seeds)} seeds" if len(seeds) > 1 else "")
    spread = f" ± {se:.3f} (standard error, S = {draws})" if se == se else " (one draw of z)"
    print(f"  test -ELBO      {result['test_neg_elbo']:.3f}{spread} nats/image")
    print(f"    recon         {result['test_recon']:.3f}")
    print(f"    KL            {result['test_kl']:.3f}")
    print(f"  IWAE -ln p(x)   {result['iwae_nll']:.3f}  (K = {result['iw_samples']})")
    if len(seeds) > 1:
        e, i = result["over_seeds"]["test_neg_elbo"], result["over_seeds"]["iwae_nll"]
        print(f"  {len(seeds)} seeds        means of seeds {seeds[0]} to {seeds[-1]}: -ELBO sd {e['sd']:.3f} "
              f"({e['min']:.3f} to {e['max']:.3f}), IWAE sd {i['sd']:.3f} ({i['min']:.3f} to {i['max']:.3f})")
    if result["single_draw_sd"] == result["single_draw_sd"]:
        print(f"  one draw's sd   {result['single_draw_sd']:.3f}  (how far a one-draw figure, as in history.jsonl, "
              "scatters)")
    print(f"  active units    {result['active_units']} of {len(result['kl_per_dim'])}")
    kl = ", ".join(f"{v:.2f}" for v in result["kl_per_dim"])
    print(f"  KL per dim      {kl}")
    if "disentanglement" in result:
        d = result["disentanglement"]
        print(f"  MIG             {d['mig']:.3f}  (mutual information gap over {', '.join(d['factors'])})")
        named = [f"z_{k} {name}" for k, name in enumerate(d["labels"]) if name]
        print(f"  named dims      {', '.join(named) if named else 'none clear'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from training.models.onnx_export import export_run  # torch

    out = export_run(args.run_dir, args.out)
    print(f"wrote {out}/encoder.onnx, decoder.onnx and model.json")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from training.jobs.control import stop_run

    if not 0 <= args.wait <= 3600:
        raise UserError("--wait must be between 0 and 3600 seconds, not {wait:g}.",
            wait=args.wait)
    state = stop_run(Path(args.run_dir), wait=args.wait)
    print(f"{args.run_dir}: {state}")
    return 0


def run_datasets() -> int:
    from training.data import list_datasets

    infos = list_datasets()
    width = max(len(i.name) for i in infos)
    for i in infos:
        shape = "x".join(map(str, i.image_shape)) if i.image_shape else "any"
        state = "available" if i.available else "not available"
        print(f"{i.name:<{width}}  {shape:<9} {state:<14} {i.description} ({i.detail})")
    print(f"{FOLDER_PREFIX + 'PATH':<{width}}  {'any':<9} {'-':<14} a folder of images (class sub-folders or flat)")
    return 0
