"""Evaluation of a trained model on a data split: -ELBO terms, active units, the IWAE estimate."""

from __future__ import annotations

import torch
from torch import Tensor

from training.core.costs import images_per_chunk
from training.vae.latent_space import ACTIVE_THRESHOLD
from training.vae.model import VAE, reparameterize
from training.vae.objective import iwae_bound, kl_per_dim

BINARIZE_TEST_SEED_OFFSET = 10_000
BINARIZE_TRAIN_SEED_OFFSET = 20_000  # the training images as the Latent map shows them (training draws anew each step)


def test_images(config, data, device: torch.device | str = "cpu") -> Tensor:
    """The test split as the model is scored on it: binarised once with a fixed seed if --binarize."""
    return split_images(config, data, "test", device)


def split_images(config, data, split: str, device: torch.device | str = "cpu") -> Tensor:
    """The SPLIT ("test" or "train") of DATA as the model sees it: binarised once with that split's fixed seed if
    --binarize (the one home of this for both splits)."""
    x = (data.x_test if split == "test" else data.x_train).to(device)
    if config.train.binarize:
        offset = BINARIZE_TEST_SEED_OFFSET if split == "test" else BINARIZE_TRAIN_SEED_OFFSET
        fixed = torch.Generator(device=x.device).manual_seed(config.train.seed + offset)
        x = torch.bernoulli(x, generator=fixed)
    return x


@torch.no_grad()
def elbo_terms(model: VAE, x: Tensor, generator: torch.Generator | None = None,
               batch_size: int | None = None) -> dict[str, Tensor]:
    """Sums over the images of x (so shards can be added): recon, kl, kl_per_dim, mu, mu^2, count.

    One z per x (E7), drawn with ``generator`` so that evaluation is reproducible.
    """
    batch_size = batch_size or images_per_chunk(model.cfg)
    was_training = model.training
    model.eval()
    z_dim = model.latent_dim
    sums = {
        "recon": torch.zeros((), device=x.device),
        "kl": torch.zeros((), device=x.device),
        "kl_per_dim": torch.zeros(z_dim, device=x.device),
        "mu": torch.zeros(z_dim, device=x.device, dtype=torch.float64),
        "mu_sq": torch.zeros(z_dim, device=x.device, dtype=torch.float64),
        "count": torch.zeros((), device=x.device),
    }
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        mu, logvar = model.encode(xb)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = reparameterize(mu, logvar, eps)  # E7
        kl_dims = kl_per_dim(mu, logvar)  # E4, (B, Z)
        sums["recon"] += model.likelihood.recon_nll(xb, model.decode(z)).sum()
        sums["kl"] += kl_dims.sum()
        sums["kl_per_dim"] += kl_dims.sum(0)
        sums["mu"] += mu.double().sum(0)
        sums["mu_sq"] += mu.double().square().sum(0)
        sums["count"] += xb.shape[0]
    model.train(was_training)
    return sums


def summarize(sums: dict[str, Tensor]) -> dict[str, object]:
    """Per-image means from ``elbo_terms`` sums, plus active units (variance of mu over x)."""
    n = float(sums["count"])
    mean_mu = sums["mu"] / n
    var_mu = sums["mu_sq"] / n - mean_mu.square()  # Cov_x(E[z|x]) diagonal
    recon = float(sums["recon"]) / n
    kl = float(sums["kl"]) / n
    return {
        "recon": recon,
        "kl": kl,
        "neg_elbo": recon + kl,
        "kl_per_dim": (sums["kl_per_dim"] / n).tolist(),
        "latent_variance": var_mu.tolist(),
        "active_units": int((var_mu > ACTIVE_THRESHOLD).sum())  # Cov_x(E[z|x]) > 0.01: active,
    }


@torch.no_grad()
def evaluate_model(model: VAE, x: Tensor, iw_samples: int = 1000, seed: int = 0, batch_size: int = 100,
                   elbo_samples: int = 16) -> dict[str, object]:
    """What ``python -m training evaluate`` reports for one split.

    The -ELBO's reconstruction term E_z[-ln q(x|z)] is estimated with ``elbo_samples`` draws of z per
    image (E7); ``test_neg_elbo_se`` is the Monte-Carlo standard error of that estimate (the spread of
    the per-draw estimates over the whole split, over sqrt(S)); ``single_draw_sd`` is that spread itself,
    how far a one-draw figure (the history's per-epoch ones) scatters. KL is closed form (E4): no noise.
    """
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    draws = [summarize(elbo_terms(model, x, gen)) for _ in range(elbo_samples)]
    stats = draws[0]
    recons = torch.tensor([d["recon"] for d in draws], dtype=torch.float64)
    recon = float(recons.mean())
    se = float(recons.std() / elbo_samples ** 0.5) if elbo_samples > 1 else float("nan")
    iwae_sum = 0.0
    for start in range(0, x.shape[0], batch_size):
        iwae_sum += float(iwae_bound(model, x[start:start + batch_size], iw_samples, gen).sum())
    return {
        "test_neg_elbo": recon + stats["kl"],
        "test_neg_elbo_se": se,
        "single_draw_sd": float(recons.std()) if elbo_samples > 1 else float("nan"),
        "elbo_samples": elbo_samples,
        "test_recon": recon,
        "test_kl": stats["kl"],
        "iwae_nll": iwae_sum / x.shape[0],
        "iw_samples": iw_samples,
        "active_units": stats["active_units"],
        "kl_per_dim": stats["kl_per_dim"],
    }


SEEDED = ("test_neg_elbo", "test_recon", "iwae_nll")  # the figures that depend on the draws of z


def evaluate_over_seeds(model: VAE, x: Tensor, seeds: list[int], **kwargs) -> dict[str, object]:
    """``evaluate_model`` once per seed of SEEDS: each figure that depends on the draws is their mean, and
    ``over_seeds`` gives its spread (standard deviation over the seeds, lowest, highest); the closed-form
    figures (KL, active units) are the same at every seed."""
    runs = [evaluate_model(model, x, seed=seed, **kwargs) for seed in seeds]
    result = dict(runs[0])
    spread: dict[str, object] = {"seeds": list(seeds)}
    for name in SEEDED:
        values = torch.tensor([r[name] for r in runs], dtype=torch.float64)
        result[name] = float(values.mean())
        spread[name] = {"sd": float(values.std()) if len(runs) > 1 else 0.0,
                        "min": float(values.min()), "max": float(values.max())}
    if len(runs) > 1:  # pooled over the seeds: each seed's S draws are as many more
        result["single_draw_sd"] = float(torch.tensor([r["single_draw_sd"] for r in runs]).square().mean().sqrt())
        result["test_neg_elbo_se"] = float(torch.tensor([r["test_neg_elbo_se"] for r in runs]).mean()) / len(runs) ** 0.5
    result["over_seeds"] = spread
    return result
