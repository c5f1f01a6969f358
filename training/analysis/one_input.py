"""What the model makes of one input x: the encoder's posterior p(z|x) = N(mu(x), diag sigma^2(x)) (E3), K
samples z = mu + sigma * eps from it (the sampling trick, E7), and the loss of this x in nats (E1 with beta 1):

    -ELBO(x) = 1/K sum_k -ln q(x|z_k) + KL( p(z|x) || q(z) )          (E1, E4 closed form, E7 with K draws)
    -ln p(x) ~ -log-mean-exp_j [ ln q(x|z_j) + ln q(z_j) - ln p(z_j|x) ]   (IWAE, its own draws z_j)

and where that -ELBO falls among the test images' (the same estimator, the same eps), and which test images lie
nearest in z. Works for every ``LatentModel`` (training/models/base.py): a run's VAE, an ONNX pair, one's own
code. Every draw comes from a ``torch.Generator`` seeded by ``seed``: the same seed gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from training.core.costs import images_per_chunk
from training.core.errors import UserError
from training.vae.latent_space import nearest
from training.vae.model import reparameterize
from training.vae.objective import iwae_bound, kl_per_dim as kl_per_dim_of

IWAE_SEED_OFFSET = 1  # the IWAE draws come from a generator seeded SEED + this: not the K samples' eps
FAR_QUANTILE = 0.995  # an input whose -ELBO is above this share of the test images' is far outside


@dataclass(frozen=True)
class Reading:
    """One input's posterior, its samples and its terms; nats per image, numpy float64 unless said."""

    mu: np.ndarray            # (Z,) E3: the posterior's mean mu(x)
    logvar: np.ndarray        # (Z,) E3: ln sigma^2(x)
    sigma: np.ndarray         # (Z,) exp(logvar / 2)
    kl_per_dim: np.ndarray    # (Z,) E4: 1/2 (mu_k^2 + sigma_k^2 - ln sigma_k^2 - 1)
    kl: float                 # E4 summed over the dimensions
    recon: np.ndarray         # (H, W, C) float32: the decoder mean mu~(mu(x)), the reconstruction from mu
    eps: np.ndarray           # (K, Z) the noise of the K samples, eps ~ N(0, I)
    z: np.ndarray             # (K, Z) E7: z_k = mu + sigma * eps_k
    samples: np.ndarray       # (K, H, W, C) float32: the decoder mean mu~(z_k) of each sample
    recon_nll: np.ndarray     # (K,) -ln q(x|z_k) (E5/E6 or Bernoulli), summed over pixels
    recon_nll_mean: float     # its mean over the K samples: the estimate of E_z[-ln q(x|z)]
    neg_elbo: float           # recon_nll_mean + kl (E1 with beta = 1)
    iwae_nll: float           # the IWAE estimate of -ln p(x) with iwae_k samples of its own
    iwae_k: int
    seed: int


def _device_dtype(model) -> tuple[torch.device, torch.dtype]:
    """Where the model computes: its first parameter's device and dtype (a model from elsewhere has one that
    stands for it, training/models/onnx_runtime.py); the CPU in float32 for a model without parameters."""
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return (param.device, param.dtype) if param is not None else (torch.device("cpu"), torch.float32)


def _as_batch(model, x: Tensor | np.ndarray) -> Tensor:
    """x (C, H, W) or (1, C, H, W) -> (1, C, H, W) on the model's device, in its dtype."""
    device, dtype = _device_dtype(model)
    x = torch.as_tensor(x).to(device, dtype)
    return x.unsqueeze(0) if x.dim() == 3 else x


def _encode_finite(model, x: Tensor) -> tuple[Tensor, Tensor]:
    """E3: mu, logvar (B, Z) of x, refused in one sentence when the encoder gives NaN or infinity."""
    mu, logvar = model.encode(x)
    if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
        raise UserError("The model's encoder gave values that are not finite numbers (NaN or infinity) for this "
                        "image, so it has no posterior to show.")
    return mu, logvar


def _hwc(images: Tensor) -> np.ndarray:
    """Images (..., C, H, W) -> numpy float32 (..., H, W, C) in [0, 1]."""
    return images.clamp(0, 1).movedim(-3, -1).float().cpu().numpy()


@torch.no_grad()
def read_input(model, x: Tensor | np.ndarray, k: int = 8, iwae_k: int = 100, seed: int = 0) -> Reading:
    """What MODEL makes of one input x, (C, H, W) or (1, C, H, W) in [0, 1].

    eps (K, Z) is ``torch.randn((k, Z), generator=torch.Generator(device).manual_seed(seed))`` on the model's
    device, in its dtype;
    z_k = mu + sigma * eps_k (E7); -ln q(x|z_k) from the decoder's output for z_k (the model's likelihood);
    the KL in closed form (E4, in float64); the IWAE estimate (``iwae_bound``) draws its own iwae_k samples
    from a generator seeded ``seed + IWAE_SEED_OFFSET``.
    """
    x = _as_batch(model, x)
    mu, logvar = _encode_finite(model, x)  # E3, (1, Z)
    lik = model.likelihood
    gen = torch.Generator(device=mu.device).manual_seed(seed)
    eps = torch.randn((k, mu.shape[-1]), generator=gen, device=mu.device, dtype=mu.dtype)
    z = reparameterize(mu, logvar, eps)  # E7, (K, Z)
    out = model.decode(z)  # the likelihood's parameters, (K, k*C, H, W)
    recon_nll = lik.recon_nll(x[0], out).double()  # (K,)
    mu64, logvar64 = mu[0].double(), logvar[0].double()
    kl_dims = kl_per_dim_of(mu64, logvar64)  # E4, (Z,)
    iwae_gen = torch.Generator(device=mu.device).manual_seed(seed + IWAE_SEED_OFFSET)
    iwae_nll = float(iwae_bound(model, x, iwae_k, generator=iwae_gen)[0])
    recon_nll_mean, kl = float(recon_nll.mean()), float(kl_dims.sum())
    return Reading(
        mu=mu64.cpu().numpy(), logvar=logvar64.cpu().numpy(), sigma=torch.exp(0.5 * logvar64).cpu().numpy(),
        kl_per_dim=kl_dims.cpu().numpy(), kl=kl, recon=_hwc(model.decode_mean(mu)[0]),
        eps=eps.double().cpu().numpy(), z=z.double().cpu().numpy(), samples=_hwc(lik.mean(out)),
        recon_nll=recon_nll.cpu().numpy(), recon_nll_mean=recon_nll_mean, neg_elbo=recon_nll_mean + kl,
        iwae_nll=iwae_nll, iwae_k=int(iwae_k), seed=int(seed),
    )


@torch.no_grad()
def test_neg_elbos(model, x_test: Tensor, k: int = 8, seed: int = 0, limit: int = 2000) -> np.ndarray:
    """The -ELBO of ``read_input`` for each of the first LIMIT test images: (N,) float64 nats.

    The same estimator with the same eps: every image's K samples use the (K, Z) noise that ``read_input``
    draws at SEED, so test image i scores as ``read_input(model, x_test[i], k, seed=seed).neg_elbo`` (to
    rounding; common random numbers: an input and the test images are compared under the same draws). In
    chunks of images of bounded memory.
    """
    x_test = x_test[:limit]
    device, dtype = _device_dtype(model)
    z_dim = model.latent_dim
    gen = torch.Generator(device=device).manual_seed(seed)
    eps = torch.randn((k, z_dim), generator=gen, device=device, dtype=dtype)  # as read_input draws it
    chunk = max(1, images_per_chunk(model.cfg, most=max(1, len(x_test)) * k) // k)
    parts = []
    for start in range(0, len(x_test), chunk):
        xb = x_test[start:start + chunk].to(device, dtype)
        mu, logvar = _encode_finite(model, xb)  # (b, Z)
        z = reparameterize(mu, logvar, eps[:, None, :])  # E7, (K, b, Z)
        recon_nll = model.likelihood.recon_nll(xb, model.decode(z)).double().mean(0)  # (b,)
        kl = kl_per_dim_of(mu.double(), logvar.double()).sum(-1)  # E4, (b,)
        parts.append((recon_nll + kl).cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros(0)


def percentile(value: float, reference: np.ndarray) -> float:
    """The share of REFERENCE (the test images' -ELBOs) below VALUE, 0..100; NaN for no reference."""
    reference = np.asarray(reference, dtype=np.float64)
    reference = reference[np.isfinite(reference)]
    if reference.size == 0:
        return float("nan")
    return float(100.0 * np.count_nonzero(reference < value) / reference.size)


def far_outside(value: float, reference: np.ndarray) -> bool:
    """Whether VALUE (an input's -ELBO) is above every test image's, or above their 99.5th percentile: an input
    unlike anything the model was trained to read. False for no reference."""
    reference = np.asarray(reference, dtype=np.float64)
    reference = reference[np.isfinite(reference)]
    if reference.size == 0:
        return False
    return bool(value > reference.max() or value > np.quantile(reference, FAR_QUANTILE))


def nearest_test(mu: np.ndarray, test_mu: np.ndarray, n: int = 8) -> np.ndarray:
    """The indices of the N test encodings TEST_MU (M, Z) nearest to MU (Z,) in Euclidean distance in z,
    nearest first, ties by index (``latent_space.nearest`` with mu put after the test points)."""
    test_mu = np.asarray(test_mu, dtype=np.float64).reshape(-1, np.shape(mu)[-1])
    points = np.concatenate([test_mu, np.asarray(mu, dtype=np.float64).reshape(1, -1)])
    return nearest(points, len(test_mu), n)
