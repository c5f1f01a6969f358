"""How fast a batch-128 step of the canonical VAE could be on this machine: the floor under issue 28's "2x the
canonical loop".

Same run, same threads, interleaved per repeat, all at batch 128 on mnist5k (784-400-20, Bernoulli, Adam 1e-3):
  - the canonical loop (benchmarks/throughput.py's copy of pytorch/examples vae/main.py), training steps only;
  - ``fit``'s step alone (``Trainer.train_step`` on batches gathered as run_epoch gathers them; no loop, logs
    or checkpoints around it): the library's autograd step;
  - a hand-written step: forward and backward written out as 11 matrix products and a few fused elementwise
    kernels, no autograd at all, gradients into preallocated buffers, fused Adam. Its gradients are checked
    against autograd's on the first batch (printed: they must agree to float32 rounding), so the figure is a
    correct step's, not a cheaper wrong one's;
  - the ceiling: only the 10 matrix products of a step (throughput.gemm_only_rate).

    python benchmarks/step_floor.py [--repeats 3] [--threads N] [--steps 300]

It prints images/s and each one's ratio to the canonical loop (median of the repeats' own ratios).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from benchmarks.throughput import BATCH, HIDDEN, LATENT, PIXELS, gemm_only_rate, run_canonical
from training import RunConfig, Trainer, load_dataset
from training.vae.bernoulli import _softplus


class HandStep:
    """One Adam step of the canonical model (beta = 1, one sample) with the backward written out (E1, E4, E7)."""

    def __init__(self, seed: int):
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(PIXELS, HIDDEN), torch.nn.Linear(HIDDEN, 2 * LATENT),
                  torch.nn.Linear(LATENT, HIDDEN), torch.nn.Linear(HIDDEN, PIXELS)]
        self.params = [t.detach().clone() for layer in layers for t in (layer.weight, layer.bias)]
        for p in self.params:
            p.grad = torch.zeros_like(p)
        self.opt = torch.optim.Adam(self.params, lr=1e-3, fused=True)
        self.noise = torch.Generator().manual_seed(seed)

    def loss(self, x, eps):
        """The same loss with autograd, for the gradient check."""
        w1, b1, w2, b2, w3, b3, w4, b4 = [p.detach().requires_grad_() for p in self.params]
        h1 = torch.relu(x @ w1.t() + b1)
        mu, logvar = (h1 @ w2.t() + b2).chunk(2, dim=1)
        z = mu + (0.5 * logvar).exp() * eps
        logits = torch.relu(z @ w3.t() + b3) @ w4.t() + b4
        recon = (_softplus(logits) - x * logits).sum() / x.shape[0]
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / x.shape[0]
        (recon + kl).backward()
        return [p.grad for p in (w1, b1, w2, b2, w3, b3, w4, b4)]

    def grads(self, x, eps):
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        n = x.shape[0]
        h1 = torch.addmm(b1, x, w1.t()).relu_()
        enc = torch.addmm(b2, h1, w2.t())
        mu, logvar = enc[:, :LATENT], enc[:, LATENT:]
        std = (0.5 * logvar).exp()
        z = torch.addcmul(mu, std, eps)
        h3 = torch.addmm(b3, z, w3.t()).relu_()
        logits = torch.addmm(b4, h3, w4.t())
        d_logits = torch.sigmoid(logits).sub_(x).div_(n)                       # d(-ln q)/d logits, per batch mean
        torch.mm(d_logits.t(), h3, out=w4.grad)
        torch.sum(d_logits, 0, out=b4.grad)
        d_h3 = torch.mm(d_logits, w4).mul_(h3 > 0)
        torch.mm(d_h3.t(), z, out=w3.grad)
        torch.sum(d_h3, 0, out=b3.grad)
        d_z = torch.mm(d_h3, w3)
        d_enc = torch.empty(n, 2 * LATENT)
        torch.add(d_z, mu, alpha=1.0 / n, out=d_enc[:, :LATENT])              # dz/dmu = 1, dKL/dmu = mu
        d_enc[:, LATENT:] = d_z * eps * 0.5 * std + (0.5 / n) * (std * std - 1)  # dz/dlogvar, dKL/dlogvar
        torch.mm(d_enc.t(), h1, out=w2.grad)
        torch.sum(d_enc, 0, out=b2.grad)
        d_h1 = torch.mm(d_enc, w2).mul_(h1 > 0)
        torch.mm(d_h1.t(), x, out=w1.grad)
        torch.sum(d_h1, 0, out=b1.grad)
        return [p.grad for p in self.params]

    def step(self, x):
        self.grads(x, torch.randn(x.shape[0], LATENT, generator=self.noise))
        self.opt.step()


def batches(x_train, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    n = x_train.shape[0] // BATCH
    out = []
    while len(out) < steps:
        perm = torch.randperm(x_train.shape[0], generator=g)
        out += [perm[i * BATCH:(i + 1) * BATCH] for i in range(n)]
    return out[:steps]


def timed(step, x_train, idx) -> float:
    for i in idx[:20]:
        step(x_train.index_select(0, i))
    t0 = time.perf_counter()
    for i in idx:
        step(x_train.index_select(0, i))
    return BATCH * len(idx) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist5k")
    x_train = data.x_train.reshape(data.x_train.shape[0], -1).contiguous()
    print(f"mnist5k, batch {BATCH}, torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    hand = HandStep(0)
    x0 = x_train[:BATCH]
    eps0 = torch.randn(BATCH, LATENT)
    ours = [g.clone() for g in hand.grads(x0, eps0)]
    theirs = hand.loss(x0, eps0)
    worst = max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-12)) for a, b in zip(ours, theirs))
    print(f"hand-written gradients against autograd's, first batch: largest difference {worst:.1e} of each "
          f"tensor's largest entry")

    rates: dict[str, list[float]] = {}
    epochs = max(1, round(args.steps * BATCH / x_train.shape[0]))
    for r in range(args.repeats):
        canonical, _ = run_canonical(data.x_train, data.y_train, epochs, seed=r)
        config = RunConfig(model={"latent_dim": LATENT, "hidden": (HIDDEN,)},
                           train={"dataset": "mnist5k", "epochs": 1, "batch_size": BATCH, "lr": 1e-3, "seed": r})
        trainer = Trainer(config, data)
        x_images = data.x_train
        idx = batches(x_train, args.steps, r)
        fit_step = timed(lambda xb: trainer.train_step(xb.view(-1, *x_images.shape[1:]), 1.0, 1e-3), x_train, idx)
        hand_step = timed(HandStep(r).step, x_train, idx)
        for label, rate in [("canonical loop (DataLoader, batch 128)", canonical), ("fit's step alone (autograd)",
                            fit_step), ("hand-written step (no autograd)", hand_step)]:
            rates.setdefault(label, []).append(rate)
        rates.setdefault("ceiling: the 10 matmuls of a step", []).append(gemm_only_rate())
        print(f"repeat {r + 1}: " + ", ".join(f"{k.split(' (')[0]} {v[-1]:,.0f}/s" for k, v in rates.items())
              + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    base = rates["canonical loop (DataLoader, batch 128)"]
    print(f"\n{'':42} {'images/s':>10} {'ratio':>6}   (median of repeats; ratio: median of each repeat's own)")
    for label, values in rates.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"{label:42} {statistics.median(values):10,.0f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
