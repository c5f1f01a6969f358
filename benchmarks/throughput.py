"""Training throughput: this project's ``fit`` against the canonical minimal PyTorch VAE loop.

Both train the same 784-400-20 MLP with a Bernoulli decoder, Adam 1e-3, batch 128, on the same
mnist5k training images, in this one process, for the same number of epochs. Printed: training
images per second (training steps only, median over repeats), the ratio, test -ELBO after the
epochs (nats per image, same evaluation for both), and the FLOP rate each reaches as a fraction
of a plain matmul measured in the same run.

    python benchmarks/throughput.py [--epochs 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


from training import RunConfig, Trainer, load_dataset
from training.objective import kl_per_dim

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


def run_canonical(x_train, y_train, epochs: int, seed: int) -> tuple[float, CanonicalVAE]:
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


def run_fit(data, epochs: int, seed: int, batch: int = BATCH, lr: float = 1e-3) -> tuple[float, float]:
    config = RunConfig(model={"latent_dim": LATENT, "hidden": (HIDDEN,)},
                       train={"epochs": epochs, "batch_size": batch, "lr": lr, "seed": seed})
    history = Trainer(config, data, device="cpu").fit()
    images = sum(data.x_train.shape[0] for _ in history)
    seconds = sum(data.x_train.shape[0] / h["samples_per_second"] for h in history)
    return images / seconds, history[-1]["test_neg_elbo"]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    data = load_dataset("mnist5k")
    print(f"mnist5k: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test images; "
          f"{args.epochs} epochs, {args.repeats} repeats, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    rows: dict[str, dict[str, list[float]]] = {}
    for r in range(args.repeats):
        sps, model = run_canonical(data.x_train, data.y_train, args.epochs, seed=r)
        rows.setdefault("canonical loop (DataLoader, batch 128)", {"sps": [], "elbo": []})
        rows["canonical loop (DataLoader, batch 128)"]["sps"].append(sps)
        rows["canonical loop (DataLoader, batch 128)"]["elbo"].append(canonical_test_neg_elbo(model, data.x_test, r))
        for label, batch, lr in [("fit (batch 128, lr 1e-3)", 128, 1e-3), ("fit (batch 256, lr 4e-3)", 256, 4e-3)]:
            sps, elbo = run_fit(data, args.epochs, seed=r, batch=batch, lr=lr)
            rows.setdefault(label, {"sps": [], "elbo": []})
            rows[label]["sps"].append(sps)
            rows[label]["elbo"].append(elbo)
    peak = median([matmul_rate() for _ in range(5)])
    base = median(rows["canonical loop (DataLoader, batch 128)"]["sps"])
    print(f"\nplain matmul (128x784 @ 784x400): {peak / 1e9:.1f} GFLOP/s")
    print(f"{'':42} {'images/s':>10} {'ratio':>6} {'test -ELBO':>11} {'GFLOP/s':>8} {'of matmul':>9}")
    for label, row in rows.items():
        sps = median(row["sps"])
        rate = sps * flops_per_image()
        print(f"{label:42} {sps:10,.0f} {sps / base:6.2f} {median(row['elbo']):11.2f} "
              f"{rate / 1e9:8.1f} {rate / peak:9.0%}")
    bound = median([gemm_only_rate() for _ in range(5)])
    rate = bound * flops_per_image()
    print(f"{'ceiling: the 10 matmuls of a batch-128 step':42} {bound:10,.0f} {bound / base:6.2f} {'':>11} "
          f"{rate / 1e9:8.1f} {rate / peak:9.0%}")
    print("(medians over repeats; test -ELBO in nats per image after the same epochs)")


if __name__ == "__main__":
    main()
