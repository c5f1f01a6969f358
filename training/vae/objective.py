"""The objective, exactly E1/E7 with beta, in nats per image; the KL schedule; the IWAE bound.

    loss = -ln q(x|z) + beta * KL( p(z|x) || q(z) )        (E1, one z per x: E7)

summed over pixels and latent dimensions and averaged over the images of a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import Tensor

from training.vae.likelihoods import LOG_2PI
from training.vae.model import VAE, reparameterize


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """E4: KL( N(mu, sigma^2) || N(0, 1) ) for each dimension: 1/2 (mu^2 + sigma^2 - ln sigma^2 - 1)."""
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0)


@dataclass
class LossTerms:
    """One batch's terms. ``loss`` carries gradients; the rest are detached, nats per image."""

    loss: Tensor          # recon_nll + beta * (KL, with free bits applied)   scalar
    recon_nll: Tensor     # E5/E6 or Bernoulli: -ln q(x|z), batch mean      scalar
    kl: Tensor            # E4 summed over dimensions, batch mean           scalar
    kl_per_dim: Tensor    # E4 per dimension, batch mean                    (Z,)


def vae_loss(model: torch.nn.Module, x: Tensor, eps: Tensor, beta: float, free_bits: float = 0.0) -> LossTerms:
    """E1/E7 with beta. eps (S, B, Z): S samples per x, averaged (S = 1 is E7).

    Free bits: each dimension's batch-mean KL enters the loss as max(free_bits, KL_k); the
    reported ``kl`` is always the true KL.
    """
    mu, logvar, _z, out = model(x, eps)  # through __call__ so DistributedDataParallel sees it
    likelihood = (model.module if hasattr(model, "module") else model).likelihood
    recon_nll = likelihood.recon_nll(x, out).mean()  # (S, B) -> mean over samples and images
    kl_dims = kl_per_dim(mu, logvar).mean(0)  # (Z,)
    kl_for_loss = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl_dims.sum()
    loss = recon_nll + beta * kl_for_loss
    return LossTerms(loss, recon_nll.detach(), kl_dims.sum().detach(), kl_dims.detach())


def beta_at(progress_epochs: float | Fraction, beta: float, warmup_epochs: float = 0.0, cycles: int = 0,
            total_epochs: int = 1, ratio: float = 0.5) -> float:
    """The KL weight for the step that ends after ``progress_epochs`` (fractional) of training.

    Linear warm-up: beta * min(1, t / warmup). Cyclical annealing (Fu et al. 2019): the run is
    split into ``cycles`` equal cycles; in each, beta rises linearly over the first ``ratio`` of
    the cycle, then stays at beta. The phase within a cycle is computed in exact rational
    arithmetic (pass ``Fraction(global_step, steps_per_epoch)``; a float is read as the nearest
    fraction with a denominator up to 10^6), so the last step of every cycle gets the full beta,
    never the 1e-15 that float rounding of the cycle count would give.
    """
    if cycles > 0:
        if progress_epochs <= 0:
            return 0.0
        t = progress_epochs if isinstance(progress_epochs, Fraction) else \
            Fraction(progress_epochs).limit_denominator(10**6)
        cycles_done = t * cycles / total_epochs
        phase = cycles_done - math.ceil(cycles_done) + 1  # in (0, 1]: each cycle is (start, end]
        return beta * min(1.0, float(phase) / ratio)
    if warmup_epochs > 0:
        return beta * min(1.0, progress_epochs / warmup_epochs)
    return beta


LR_WARMUP_FRACTION = 0.05   # of a run's steps: the linear warm-up of the wsd and cosine schedules...
LR_MAX_WARMUP_STEPS = 1000  # ...but never longer than this (Goyal et al. 2017 warm up over 5 epochs of ImageNet)
LR_DECAY_FRACTION = 0.3     # of a run's steps: the linear decay at the end of the wsd schedule


def lr_at(step: int, total_steps: int, peak: float, schedule: str = "constant") -> float:
    """The learning rate of optimiser step ``step`` (0-based) of a run of ``total_steps`` steps.

    constant: ``peak`` at every step.
    wsd (warm-up, stable, decay; the trapezoid of Zhai et al. 2022 and Hägele et al. 2024): a linear
    warm-up over the first W steps (5% of the run, at most 1000) from peak / W to ``peak`` at step W - 1,
    ``peak`` until the last 30% of the run, then a linear decay that would reach 0 at step ``total_steps``
    (one past the last), so the last step still learns a little.
    cosine (SGDR without restarts, Loshchilov & Hutter 2017): the same warm-up, then a half cosine from
    ``peak`` at step W down towards 0 at step ``total_steps``.
    A function of the step and these settings only, so a resumed run continues it exactly.
    """
    if schedule == "constant":
        return peak
    if schedule not in ("wsd", "cosine"):
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    total = max(int(total_steps), 1)
    warmup = min(math.ceil(LR_WARMUP_FRACTION * total), LR_MAX_WARMUP_STEPS, total - 1)
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "cosine":
        return peak * 0.5 * (1.0 + math.cos(math.pi * min((step - warmup) / (total - warmup), 1.0)))
    decay_start = max(total - math.ceil(LR_DECAY_FRACTION * total), warmup)
    if step < decay_start:
        return peak
    return peak * max(total - step, 0) / (total - decay_start)


def loss_formula(beta: float, warmup_epochs: float = 0.0, cycles: int = 0, free_bits: float = 0.0,
                 recon: str = "recon") -> str:
    """The training loss that these settings really minimised, as a short formula for labels:
    ``recon + β·KL``, ``recon + β(t)·KL`` under warm-up or cycles, ``Σₖ max(λ, KLₖ)`` for free bits.
    ``recon`` is the word for the reconstruction term -ln q(x|z) (the caller's language: the app passes its
    own word, the math stays as it is)."""
    weight = "β(t)" if cycles or warmup_epochs else ("β" if beta != 1.0 else "")
    kl = f"Σₖ max({free_bits:g}, KLₖ)" if free_bits > 0 else "KL"
    return f"{recon} + {weight}·{kl}" if weight else f"{recon} + {kl}"


def log_normal_std(z: Tensor) -> Tensor:
    """ln q(z) under the prior N(0, I) (E2), summed over the last dimension."""
    return -0.5 * (z.square() + LOG_2PI).sum(-1)


def log_normal_diag(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """ln p(z|x) under N(mu, diag exp(logvar)) (E3), summed over the last dimension."""
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def log_normal_diag_at_eps(eps: Tensor, logvar: Tensor) -> Tensor:
    """ln p(z|x) (E3) at z = mu + sigma * eps (E7), from eps itself: (z - mu)^2 / sigma^2 = eps^2.

    Equal to ``log_normal_diag(z, mu, logvar)`` in exact arithmetic, but without forming z - mu:
    for a confident encoder (sigma << |mu|) that difference keeps few of z's digits, and for
    logvar below about -88 exp(-logvar) overflows float32 and the result is NaN.
    """
    return -0.5 * (eps.square() + logvar + LOG_2PI).sum(-1)


@torch.no_grad()
def iwae_bound(model: VAE, x: Tensor, k: int, generator: torch.Generator | None = None,
               max_elements: int = 2**25) -> Tensor:
    """Importance-weighted estimate of -ln p(x) with K samples, per image (B,).

    -ln p(x) <= -log-mean-exp_k [ ln q(x|z_k) + ln q(z_k) - ln p(z_k|x) ],  z_k ~ p(z|x),

    with ln p(z_k|x) computed from the noise eps_k that drew z_k (``log_normal_diag_at_eps``).
    K = 1 is the single-sample negative ELBO of E7 (with a Monte-Carlo KL). Samples are drawn and
    decoded in chunks so that memory stays near ``max_elements`` floats whatever K is.
    """
    mu, logvar = model.encode(x)  # (B, Z)
    per_sample = max(1, x[0].numel() * model.likelihood.params_per_pixel * x.shape[0])
    chunk = max(1, min(k, max_elements // per_sample))
    log_w_chunks = []
    for start in range(0, k, chunk):
        # one (B, Z) draw per sample, in sample order: the result does not depend on the chunk size
        eps = torch.stack([torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
                           for _ in range(min(chunk, k - start))])  # (s, B, Z)
        z = reparameterize(mu, logvar, eps)  # E7
        log_px_z = -model.likelihood.recon_nll(x, model.decode(z))  # (s, B)
        log_w_chunks.append(log_px_z + log_normal_std(z) - log_normal_diag_at_eps(eps, logvar))
    log_w = torch.cat(log_w_chunks)  # (K, B)
    return -(torch.logsumexp(log_w, dim=0) - math.log(k))
