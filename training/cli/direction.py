"""The command line's ``direction``: the direction in z from one group of test images to another (label:K,
FACTOR:LOW..HIGH or indices), its length, and how well it separates the two groups
(training/analysis/directions.py)."""

from __future__ import annotations

import argparse
import json

from training.analysis import directions
from training.core.errors import UserError
from training.models.base import NO_DATASET
from training.models.open import load_run


def run_direction(args: argparse.Namespace) -> int:
    from training.analysis.latent import encode_dataset
    from training.cli.encode import _test_set, model_folder

    run = load_run(model_folder(args))
    data, x_test, why_not = _test_set(run)
    if x_test is None:
        raise UserError("{run} has no test images to form groups from: {why}.", run=args.run,
                        why=why_not or "the model names no data set")
    n = int(x_test.shape[0])
    y = None if data.y_test is None else data.y_test.numpy()
    labels = None if y is None else (y[:, 0] if data.labels_are_factors else y).astype("int64")
    factors = y if data.labels_are_factors else None
    a = directions.group(args.source, n, labels, factors, data.factor_names)  # both read before any encoding
    b = directions.group(args.target, n, labels, factors, data.factor_names)
    mu = encode_dataset(run.model, x_test)
    found = directions.between(mu, a, b)
    result = {"run": args.run, "dataset": run.config.train.dataset, "from": args.source, "to": args.target,
              "direction": [float(v) for v in found.direction], "length": found.length,
              "from_count": found.from_count, "to_count": found.to_count, "separation": found.separation,
              "accuracy": found.accuracy}
    if args.json:
        print(json.dumps(result))
        return 0
    dataset = run.config.train.dataset if run.config.train.dataset != NO_DATASET else "no data set named"
    print(f"run {args.run} ({dataset}, {run.config.model.latent_dim} latent dimensions, {n} test images)")
    print(f"from {args.source} ({found.from_count} test images) to {args.target} ({found.to_count})")
    print(f"  direction     {', '.join(f'{v:.3f}' for v in found.direction)}")
    print(f"  length        {found.length:.3f}")
    print(f"  separation    {found.separation:.2f} pooled standard deviations along it")
    print(f"  accuracy      {100 * found.accuracy:.1f}% of both groups on their own side of the midpoint")
    return 0
