"""The command line's ``encode``: what a model makes of one's own images, each read and prepared as the model's
data was (training/data/image_file.py, training/data/preprocess.py, the same function the app uses), then read
by ``training.analysis.one_input``: the posterior mu, sigma (E3), the terms of E1 in nats, and where the image
falls among the test images (its -ELBO's percentile, the nearest test images in z).
"""

from __future__ import annotations

import argparse
import json
import math

from training.core.errors import UserError, as_user_error
from training.models.base import NO_DATASET
from training.models.open import load_run

K, IWAE_K = 8, 100  # samples z = mu + sigma * eps per image (E7); importance samples of the IWAE estimate
REFERENCE_IMAGES = 2000  # the test images whose -ELBOs an image is ranked among
NEAREST = 8


def _prepared_images(paths: list[str], config) -> list:
    """Every image read and prepared before anything is computed or printed: a bad file is one sentence."""
    from training.data.image_file import read_image_file
    from training.data.preprocess import prepare_for

    prepared = []
    for path in paths:
        image = read_image_file(path)  # its sentences name the file
        try:
            prepared.append(prepare_for(config, image))
        except UserError as err:
            raise UserError("{file}: {problem}", file=path, problem=err) from None
    return prepared


def _test_set(run) -> tuple[object, object, str | None]:
    """The run's data set and its test images as the model is scored on them, or (None, None, why not)."""
    from training.data import load_dataset
    from training.vae.evaluate import test_images

    name = run.config.train.dataset
    if name == NO_DATASET:
        return None, None, "the model names no data set"
    c, h, _ = run.config.model.image_shape
    try:
        data = load_dataset(name, image_size=h, channels=c, seed=run.config.train.seed,
                            dataset_size=run.config.train.dataset_size)
    except Exception as err:  # not here, not downloadable, not of this shape: the images are read all the same
        sentence = as_user_error(err)
        if sentence is None:
            raise
        return None, None, str(sentence).rstrip(".")
    return data, test_images(run.config, data), None


def _fmt(values) -> str:
    return ", ".join(f"{float(v):.3f}" for v in values)


def _nullable(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def model_folder(args: argparse.Namespace) -> str:
    """The folder ``encode`` and ``direction`` read: --run, or for --model (one's own code, named on this command
    line: trusted, and run) the adapter folder it gets, as ``evaluate --model`` does."""
    if (args.run is None) == (args.model is None):
        raise UserError("{command} needs either --run RUN or --model package.module:factory.", command=args.command)
    if args.model:
        from training.models.adapter import folder_for

        args.run = str(folder_for(args.model))
    return args.run


def run_encode(args: argparse.Namespace) -> int:
    import torch

    from training.analysis import one_input
    from training.analysis.latent import encode_dataset

    if args.seed < 0:
        raise UserError("--seed must be 0 or more, not {seed}.", seed=args.seed)
    run = load_run(model_folder(args))
    dataset = run.config.train.dataset
    prepared = _prepared_images(args.images, run.config)
    readings = [one_input.read_input(run.model, torch.from_numpy(p.x), k=K, iwae_k=IWAE_K, seed=args.seed)
                for p in prepared]
    data, x_test, why_not = _test_set(run)
    reference = test_mu = None
    if x_test is not None:
        reference = one_input.test_neg_elbos(run.model, x_test, k=K, seed=args.seed, limit=REFERENCE_IMAGES)
        test_mu = encode_dataset(run.model, x_test)
    images = []
    for path, reading in zip(args.images, readings):
        known = reference is not None
        nearest = [{"index": int(i), "label": data.test_label(int(i))}
                   for i in one_input.nearest_test(reading.mu, test_mu, NEAREST)] if known else None
        images.append({
            "file": path, "mu": reading.mu.tolist(), "sigma": reading.sigma.tolist(),
            "kl_per_dim": reading.kl_per_dim.tolist(), "kl": reading.kl, "recon_nll": float(reading.recon_nll[0]),
            "recon_nll_mean": reading.recon_nll_mean, "neg_elbo": reading.neg_elbo, "iwae_nll": reading.iwae_nll,
            "percentile": _nullable(one_input.percentile(reading.neg_elbo, reference)) if known else None,
            "far_outside": one_input.far_outside(reading.neg_elbo, reference) if known else None,
            "nearest": nearest,
        })
    if args.json:
        print(json.dumps({"run": args.run, "dataset": dataset, "k": K, "iwae_k": IWAE_K, "images": images}))
        return 0
    _print_text(args, run, images, why_not, 0 if reference is None else len(reference))
    return 0


def _print_text(args: argparse.Namespace, run, images: list[dict], why_not: str | None, n_reference: int) -> None:
    dataset = run.config.train.dataset if run.config.train.dataset != NO_DATASET else "no data set named"
    print(f"run {args.run} ({dataset}, {run.config.model.latent_dim} latent dimensions; "
          f"K = {K} samples z = mu + sigma * eps, IWAE K = {IWAE_K}, seed {args.seed})")
    if why_not is not None:
        print(f"no test images to compare with ({why_not}): no percentile and no nearest test images")
    for image in images:
        print(f"{image['file']}")
        print(f"  mu              {_fmt(image['mu'])}")
        print(f"  sigma           {_fmt(image['sigma'])}")
        print(f"  KL per dim      {_fmt(image['kl_per_dim'])}")
        print(f"  -ln q(x|z)      {image['recon_nll']:.3f} (first sample), {image['recon_nll_mean']:.3f} "
              f"(mean over {K} samples)")
        print(f"  KL              {image['kl']:.3f}")
        rank = ""
        if image["percentile"] is not None:
            rank = f"  (percentile {image['percentile']:.1f} among {n_reference} test images' -ELBOs)"
            if image["far_outside"]:
                rank += "  far outside what the model knows"
        print(f"  -ELBO           {image['neg_elbo']:.3f} nats{rank}")
        print(f"  IWAE -ln q(x)   {image['iwae_nll']:.3f}  (K = {IWAE_K})")
        if image["nearest"] is not None:
            near = ", ".join(f"{n['index']}" + (f" ({n['label']})" if n["label"] is not None else "")
                             for n in image["nearest"])
            print(f"  nearest test    {near}")
