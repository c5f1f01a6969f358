"""Training throughput: this project's ``fit`` against the canonical minimal PyTorch VAE loop.

Both train the same 784-400-20 MLP with a Bernoulli decoder, Adam 1e-3, batch 128, on the same
mnist5k training images, in this one process, for the same number of epochs. ``fit`` runs as a user
runs it (training/jobs/fit.py, what ``python -m training fit`` calls): into a run folder, with its
status and heartbeat, its step log, a checkpoint every epoch and its snapshots. Printed: training
images per second (training steps only, median over repeats), the ratio (median of each repeat's
own ratio), the same for whole epochs (everything from one epoch's end to the next: each loop's
test pass, and fit's checkpoint, snapshot and logs), test -ELBO after the epochs (nats per image,
same evaluation for both), the FLOP rate each reaches as a fraction of a plain matmul measured in
the same run, and where fit's epochs went.

    python benchmarks/throughput.py [--epochs 10] [--repeats 3]

``--time-to-target`` measures instead what a visitor waits for, a good model: the canonical loop trains for
30 epochs, and ``fit`` with the library's default settings (a RunConfig that names only the data set) trains
as its defaults say, interleaved in each repeat; printed is the training time at which ``fit`` first reaches
the canonical loop's test -ELBO after 30 epochs (median of the repeats), against the canonical loop's time.
Both count the seconds of their training steps only (each epoch's test pass excluded for both; a second table
counts it for both). ``--plot FILE.svg`` draws both curves of test -ELBO against seconds.

    python benchmarks/throughput.py --time-to-target [--repeats 3] [--plot docs/time-to-target.svg]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


from training import RunConfig, Trainer, load_dataset
from training.vae.objective import kl_per_dim

BATCH, HIDDEN, LATENT, PIXELS = 128, 400, 20, 784


# -- the canonical loop (pytorch/examples vae/main.py, without its printing and image saving) ---
class CanonicalVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def canonical_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_canonical(x_train, y_train, epochs: int, seed: int,
                  on_epoch: Callable[[float, CanonicalVAE], None] | None = None) -> tuple[float, CanonicalVAE]:
    """Train; images/s of the training steps and the model. ON_EPOCH(training seconds so far, model) after
    every epoch, outside the timed part."""
    torch.manual_seed(seed)
    model = CanonicalVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=BATCH, shuffle=True)
    seen, train_seconds = 0, 0.0
    for _ in range(epochs):
        model.train()
        train_loss = 0.0
        t0 = time.perf_counter()
        for data, _ in loader:
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = canonical_loss(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            seen += data.shape[0]
        train_seconds += time.perf_counter() - t0
        if on_epoch is not None:
            on_epoch(train_seconds, model)
    return seen / train_seconds, model


@torch.no_grad()
def canonical_test_neg_elbo(model: CanonicalVAE, x_test, seed: int) -> float:
    """Same estimator as the trainer's test score: one z per image (E7), closed-form KL (E4)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    mu, logvar = model.encode(x_test.view(-1, 784))
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
    logits = torch.logit(model.decode(z).clamp(1e-7, 1 - 1e-7))
    recon = F.binary_cross_entropy_with_logits(logits, x_test.view(-1, 784), reduction="sum")
    return float(recon + kl_per_dim(mu, logvar).sum()) / x_test.shape[0]


@dataclass
class FitRun:
    """One ``fit`` as a user runs it: images/s of the training steps, of whole epochs, the test -ELBO, and the
    seconds of its epochs' parts (summed over epochs)."""

    steps_rate: float
    epoch_rate: float
    neg_elbo: float
    parts: dict[str, float]


def run_fit(data, epochs: int, seed: int, batch: int = BATCH, lr: float = 1e-3) -> FitRun:
    """``python -m training fit`` in this process: a run folder with its status, step log, checkpoints and
    snapshots (the default snapshot budget), as a user has them. Whole epochs count everything from one
    epoch's report to the next: steps, the test pass, the checkpoint, the snapshot, the logs."""
    from training.jobs.fit import fit as fit_run  # the use case the command line and the app's processes run

    config = RunConfig(model={"latent_dim": LATENT, "hidden": (HIDDEN,)},  # the canonical loop's optimiser, as it
                       train={"dataset": "mnist5k", "epochs": epochs, "batch_size": batch, "lr": lr, "seed": seed,
                              "lr_schedule": "constant", "decoder_start": "random"})  # was before schedules
    records, reported = [], []
    def progress(p) -> None:
        if p.kind == "epoch":
            records.append(p.record)
            reported.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        fit_run(Path(folder) / "run", config, lambda: data, device="cpu", progress=progress, start_next=False)
        snapshots_kept = len(list((Path(folder) / "run" / "snapshots").glob("*.safetensors")))
    n = data.x_train.shape[0]
    steps = sum(n / h["samples_per_second"] for h in records)
    epochs_s = reported[-1] - reported[0]  # epochs 2..E, each from the report before it: every part counted
    steps_tail = sum(n / h["samples_per_second"] for h in records[1:])
    evals = sum(h["seconds"] - n / h["samples_per_second"] for h in records[1:])
    parts = {"steps": steps_tail, "test pass": evals, "checkpoint, snapshot, logs": epochs_s - steps_tail - evals,
             "snapshots kept": snapshots_kept}
    return FitRun(n * len(records) / steps, n * (len(records) - 1) / epochs_s, records[-1]["test_neg_elbo"], parts)


def matmul_rate(repeats: int = 200) -> float:
    """FLOP/s of a plain (128 x 784) @ (784 x 400) matmul, the model's largest layer."""
    a, b = torch.randn(BATCH, PIXELS), torch.randn(PIXELS, HIDDEN)
    for _ in range(20):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * BATCH * PIXELS * HIDDEN * repeats / (time.perf_counter() - t0)


def gemm_only_rate(repeats: int = 100) -> float:
    """Images/s if a training step were nothing but its 10 matrix products (batch 128): the ceiling."""
    x, h, dx = torch.rand(BATCH, PIXELS), torch.rand(BATCH, HIDDEN), torch.rand(BATCH, PIXELS)
    z, g2 = torch.rand(BATCH, LATENT), torch.rand(BATCH, 2 * LATENT)
    w1, w2 = torch.rand(HIDDEN, PIXELS), torch.rand(2 * LATENT, HIDDEN)
    w3, w4 = torch.rand(HIDDEN, LATENT), torch.rand(PIXELS, HIDDEN)

    def step():
        x @ w1.t(), h @ w2.t(), z @ w3.t(), h @ w4.t()            # forward
        dx.t() @ h, dx @ w4, h.t() @ z                            # decoder backward (weights, input)
        h @ w3, g2.t() @ h, (g2 @ w2).t() @ x                     # encoder backward

    for _ in range(10):
        step()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return BATCH * repeats / (time.perf_counter() - t0)


def flops_per_image() -> float:
    """Forward + backward FLOPs of one image through 784-400-20(x2)-400-784 (no input gradient)."""
    layers = [(784, 400), (400, 40), (20, 400), (400, 784)]
    forward = sum(2 * i * o for i, o in layers)
    weight_grads = forward
    input_grads = forward - 2 * 784 * 400  # the first layer needs no gradient for x
    return forward + weight_grads + input_grads


def median(xs):
    return statistics.median(xs)


# -- time to a good model: the canonical loop's 30-epoch test -ELBO, reached by fit with its defaults -------
CANONICAL_EPOCHS = 30


@dataclass
class Curve:
    """One training run, after each epoch: training seconds so far (steps only), the same with each epoch's
    test pass added, and the test -ELBO (nats per image)."""

    seconds: list[float]
    seconds_with_eval: list[float]
    neg_elbo: list[float]

    def first_reach(self, target: float, with_eval: bool = False) -> tuple[float, int] | tuple[None, None]:
        """(seconds, epoch) at the end of the first epoch whose test -ELBO is at most TARGET."""
        times = self.seconds_with_eval if with_eval else self.seconds
        for epoch, (t, value) in enumerate(zip(times, self.neg_elbo), start=1):
            if value <= target:
                return t, epoch
        return None, None


def canonical_curve(data, epochs: int, seed: int) -> Curve:
    curve, evaluation = Curve([], [], []), [0.0]

    def on_epoch(train_seconds: float, model: CanonicalVAE) -> None:
        t0 = time.perf_counter()
        curve.neg_elbo.append(canonical_test_neg_elbo(model, data.x_test, seed))
        evaluation[0] += time.perf_counter() - t0
        curve.seconds.append(train_seconds)
        curve.seconds_with_eval.append(train_seconds + evaluation[0])

    run_canonical(data.x_train, data.y_train, epochs, seed, on_epoch)
    return curve


def fit_curve(data, seed: int, **train) -> Curve:
    """fit with the library's defaults (a RunConfig naming only the data set and the seed) unless TRAIN says."""
    config = RunConfig(model={}, train={"dataset": "mnist5k", "seed": seed, **train})
    history = Trainer(config, data, device="cpu").fit()
    n = data.x_train.shape[0]
    return Curve(list(itertools.accumulate(n / h["samples_per_second"] for h in history)),
                 list(itertools.accumulate(h["seconds"] for h in history)),  # steps + test pass (no run folder)
                 [h["test_neg_elbo"] for h in history])


def median_curve(curves: list[Curve]) -> Curve:
    """Epoch by epoch, the median over repeats of the seconds and of the -ELBO."""
    return Curve(*([median(values) for values in zip(*(getattr(c, key) for c in curves))]
                   for key in ("seconds", "seconds_with_eval", "neg_elbo")))


def curve_svg(series: list[tuple[str, str, list[Curve]]], target: float, deadline: float, title: str) -> str:
    """A plain SVG chart of test -ELBO against training seconds: each repeat thin, the median curve thick,
    the target -ELBO and the DEADLINE (a third of the canonical loop's time) dashed. SERIES: (label, colour,
    the repeats' curves)."""
    width, height, left, right, top, bottom = 760, 440, 64, 20, 40, 52
    every = [c for _, _, curves in series for c in curves]
    x_max = max(max(c.seconds) for c in every) * 1.02
    y_low = math.floor((min(min(c.neg_elbo) for c in every) - 4) / 10) * 10
    y_high = min(math.ceil(max(max(c.neg_elbo) for c in every) / 10) * 10, 240)

    def x(t: float) -> float:
        return left + (width - left - right) * t / x_max

    def y(v: float) -> float:
        return top + (height - top - bottom) * (y_high - min(v, y_high)) / (y_high - y_low)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    x_step = 1 if x_max <= 12 else 2 if x_max <= 24 else 5
    for i in range(int(x_max // x_step) + 1):
        t = i * x_step
        out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">{t:g}</text>')
    for v in range(int(y_low), int(y_high) + 1, 10):
        out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">'
               'training seconds (steps only; each epoch\'s test pass excluded)</text>')
    out.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(top + height - bottom) / 2})">test -ELBO, nats per image (one z)</text>')
    out.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{width - right}" y2="{y(target):.1f}" '
               'stroke="#444" stroke-dasharray="5,4"/>')
    out.append(f'<text x="{left + 6}" y="{y(target) + 15:.1f}" fill="#444">'
               f'target {target:.1f} nats: the canonical loop after {CANONICAL_EPOCHS} epochs</text>')
    out.append(f'<line x1="{x(deadline):.1f}" y1="{top}" x2="{x(deadline):.1f}" y2="{height - bottom}" '
               'stroke="#444" stroke-dasharray="5,4"/>')
    out.append(f'<text x="{x(deadline) + 5:.1f}" y="{top + 12}" fill="#444">1/3 of the canonical</text>')
    out.append(f'<text x="{x(deadline) + 5:.1f}" y="{top + 26}" fill="#444">loop\'s time: {deadline:.2f} s</text>')
    for row, (label, colour, curves) in enumerate(series):
        for c, thick in [*((c, False) for c in curves), (median_curve(curves), True)]:
            points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(c.seconds, c.neg_elbo))
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                       f'stroke-width="{2.5 if thick else 0.8}" stroke-opacity="{1 if thick else 0.45}"/>')
            if thick:
                out += [f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
                        for t, v in zip(c.seconds, c.neg_elbo)]
        ly = top + 70 + 18 * row
        out.append(f'<line x1="{width - right - 330}" y1="{ly - 4}" x2="{width - right - 306}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{width - right - 300}" y="{ly}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def time_to_target(data, repeats: int, plot: Path | None) -> None:
    """The canonical loop for 30 epochs and fit with its defaults, interleaved per repeat (seed = repeat);
    the time fit first reaches the canonical loop's final test -ELBO, against the canonical loop's time."""
    defaults = RunConfig(model={}, train={"dataset": "mnist5k"})
    tc, mc = defaults.train, defaults.model
    print(f"\ntime to a good model: the canonical loop (784-400-20, DataLoader, batch 128, Adam 1e-3) for "
          f"{CANONICAL_EPOCHS} epochs against fit with its defaults\n(z = {mc.latent_dim} {mc.arch} "
          f"{','.join(map(str, mc.hidden))}, {tc.epochs} epochs, batch {tc.batch_size}, lr {tc.lr:g} "
          f"{tc.lr_schedule}, decoder start {tc.decoder_start}); {repeats} repeats, interleaved, seed = repeat; "
          f"seconds count training steps only")
    runs: dict[str, list[Curve]] = {"canonical": [], "fit": [], "before": []}
    for r in range(repeats):
        runs["canonical"].append(canonical_curve(data, CANONICAL_EPOCHS, seed=r))
        runs["fit"].append(fit_curve(data, seed=r))
        # the old defaults (until 2026-11-29): constant lr 1e-3 from PyTorch's initialisation, 20 epochs
        runs["before"].append(fit_curve(data, seed=r, epochs=20, lr=1e-3, lr_schedule="constant",
                                        decoder_start="random"))
    target = median([c.neg_elbo[-1] for c in runs["canonical"]])
    print(f"target: the canonical loop's test -ELBO after {CANONICAL_EPOCHS} epochs, median of {repeats}: "
          f"{target:.2f} nats\n")
    print(f"{'':50}" + "".join(f"{'repeat ' + str(r + 1):>11}" for r in range(repeats)) + f"{'median':>11}")

    def row(label: str, values: list, fmt: str = "{:.2f}") -> None:
        shown = [fmt.format(v) if v is not None else "-" for v in values]
        known = [v for v in values if v is not None]
        middle = fmt.format(median(known)) if len(known) == len(values) else "-"
        print(f"{label:50}" + "".join(f"{s:>11}" for s in shown) + f"{middle:>11}")

    for with_eval in (False, True):
        if with_eval:
            print("\nthe same with each epoch's test pass counted, for both:")
        canonical_s = [(c.seconds_with_eval if with_eval else c.seconds)[-1] for c in runs["canonical"]]
        row(f"canonical loop, {CANONICAL_EPOCHS} epochs: seconds", canonical_s)
        if not with_eval:
            row(f"canonical loop, {CANONICAL_EPOCHS} epochs: test -ELBO", [c.neg_elbo[-1] for c in runs["canonical"]])
        for key, label in (("fit", "fit, defaults"), ("before", "fit, old defaults")):
            reached = [c.first_reach(target, with_eval) for c in runs[key]]
            row(f"{label}: seconds to reach it", [t for t, _ in reached])
            if not with_eval:
                row(f"{label}: reached in epoch", [e for _, e in reached], "{}")
                row(f"{label}: test -ELBO after {len(runs[key][0].neg_elbo)} ep.", [c.neg_elbo[-1] for c in runs[key]])
            row(f"{label}: ratio to the canonical's time",
                [t / base if t is not None else None for (t, _), base in zip(reached, canonical_s)], "{:.3f}")
    print("(target: a ratio of at most 0.333; old defaults: lr 1e-3 constant, PyTorch's initialisation, 20 epochs)")
    print("\nmedian curves per epoch: seconds of training steps so far, test -ELBO")
    med = {key: median_curve(curves) for key, curves in runs.items()}
    print(f"{'epoch':>5} {'canonical s':>12} {'-ELBO':>8} {'fit s':>8} {'-ELBO':>8} {'old s':>8} {'-ELBO':>8}")
    for e in range(CANONICAL_EPOCHS):
        cells = [f"{c.seconds[e]:8.2f} {c.neg_elbo[e]:8.2f}" if e < len(c.seconds) else f"{'':17}"
                 for c in (med["fit"], med["before"])]
        print(f"{e + 1:5} {med['canonical'].seconds[e]:12.2f} {med['canonical'].neg_elbo[e]:8.2f} {' '.join(cells)}"
              .rstrip())
    if plot is not None:
        plot.write_text(curve_svg([("canonical loop (batch 128, Adam 1e-3)", "#d62728", runs["canonical"]),
                                   ("fit, old defaults (lr 1e-3 constant)", "#999999", runs["before"]),
                                   ("fit, defaults", "#1f77b4", runs["fit"])], target,
                                  median([c.seconds[-1] for c in runs["canonical"]]) / 3,
                                  f"mnist5k: test -ELBO against training time ({repeats} repeats, median thick)"))
        print(f"curve written to {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-to-target", action="store_true",
                        help=f"instead: the time fit with its defaults takes to reach the test -ELBO of the canonical "
                             f"loop after {CANONICAL_EPOCHS} epochs, against the canonical loop's time")
    parser.add_argument("--plot", type=Path, default=None, help="with --time-to-target: write the curves as SVG here")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: count this process's CPU seconds instead of wall seconds, for both loops (on a "
                             "machine shared with other work; use with --threads 1, where CPU seconds are the work)")
    parser.add_argument("--canonical-settings-only", action="store_true", help="leave out the batch-256 row")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        time.perf_counter = time.process_time  # every timer here and in the trainer reads the same clock

    data = load_dataset("mnist5k")
    if args.time_to_target:
        print(f"mnist5k: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test images; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        time_to_target(data, args.repeats, args.plot)
        return
    print(f"mnist5k: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test images; "
          f"{args.epochs} epochs, {args.repeats} repeats, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.clock} clock; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    canonical = "canonical loop (DataLoader, batch 128)"
    rows: dict[str, dict[str, list[float]]] = {}
    parts: dict[str, list[dict[str, float]]] = {}
    for r in range(args.repeats):
        curve = canonical_curve(data, args.epochs, seed=r)  # steps timed alone, its test pass after each epoch
        row = rows.setdefault(canonical, {"sps": [], "whole": [], "elbo": [], "ratio": [], "whole ratio": []})
        n = data.x_train.shape[0]
        row["sps"].append(n * args.epochs / curve.seconds[-1])
        row["whole"].append(n * (args.epochs - 1) / (curve.seconds_with_eval[-1] - curve.seconds_with_eval[0]))
        row["elbo"].append(curve.neg_elbo[-1])
        for label, batch, lr in [("fit (batch 128, lr 1e-3)", 128, 1e-3), ("fit (batch 256, lr 4e-3)", 256, 4e-3)][
                :1 if args.canonical_settings_only else 2]:
            run = run_fit(data, args.epochs, seed=r, batch=batch, lr=lr)
            row = rows.setdefault(label, {"sps": [], "whole": [], "elbo": [], "ratio": [], "whole ratio": []})
            row["sps"].append(run.steps_rate)
            row["whole"].append(run.epoch_rate)
            row["elbo"].append(run.neg_elbo)
            row["ratio"].append(run.steps_rate / rows[canonical]["sps"][-1])  # same repeat: same machine load
            row["whole ratio"].append(run.epoch_rate / rows[canonical]["whole"][-1])
            parts.setdefault(label, []).append(run.parts)
        print(f"repeat {r + 1}: " + ", ".join(f"{label} {row['sps'][-1]:,.0f}/s" for label, row in rows.items())
              + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    peak = median([matmul_rate() for _ in range(5)])
    print(f"\nplain matmul (128x784 @ 784x400): {peak / 1e9:.1f} GFLOP/s")
    print("images/s: training steps only (ratio: the median of the same repeat's ratios); whole epochs: from one "
          "epoch's end to the next,\nthe canonical loop's test pass included, fit's test pass, checkpoint, snapshot, "
          "status and step log included")
    print(f"{'':42} {'images/s':>10} {'ratio':>6} {'whole ep.':>10} {'ratio':>6} {'test -ELBO':>11} {'GFLOP/s':>8} "
          f"{'of matmul':>9}")
    for label, row in rows.items():
        sps = median(row["sps"])
        rate = sps * flops_per_image()
        ratio = median(row["ratio"]) if row["ratio"] else 1.0
        whole_ratio = median(row["whole ratio"]) if row["whole ratio"] else 1.0
        print(f"{label:42} {sps:10,.0f} {ratio:6.2f} {median(row['whole']):10,.0f} {whole_ratio:6.2f} "
              f"{median(row['elbo']):11.2f} {rate / 1e9:8.1f} {rate / peak:9.0%}")
    base = median(rows[canonical]["sps"])
    bound = median([gemm_only_rate() for _ in range(5)])
    rate = bound * flops_per_image()
    print(f"{'ceiling: the 10 matmuls of a batch-128 step':42} {bound:10,.0f} {bound / base:6.2f} {'':>11} "
          f"{rate / 1e9:8.1f} {rate / peak:9.0%}")
    print("(medians over repeats; test -ELBO in nats per image after the same epochs)")
    print(f"\nwhere fit's epochs 2..{args.epochs} went (seconds, median over repeats):")
    for label, runs in parts.items():
        shown = ", ".join(f"{key} {median([p[key] for p in runs]):.3f}" if key != "snapshots kept" else
                          f"{key} {median([p[key] for p in runs]):.0f}" for key in runs[0])
        print(f"  {label}: {shown}")


if __name__ == "__main__":
    main()
