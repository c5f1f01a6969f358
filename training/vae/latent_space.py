"""The latent space with numpy alone: which dimensions matter, paths through it, prior samples.

No torch here, so the explorer can order its sliders and draw the first image before PyTorch has
finished importing. What needs the model (encoding, projections, decoding) is in training/analysis/latent.py.
"""

from __future__ import annotations

import math

import numpy as np

ACTIVE_THRESHOLD = 0.01  # Var_x(mu_k) or KL_k (nats) above this: dimension k is used
COLLAPSE_KL = 0.5  # total test KL (nats) below this: the posterior has (nearly) collapsed


def latent_variance(mu: np.ndarray) -> np.ndarray:
    """A_k = Var_x(mu_k(x)) over the images (active units, Burda et al.): (Z,)."""
    return np.asarray(mu, dtype=np.float64).var(axis=0)


def dims_by_kl(kl_per_dim: np.ndarray | list[float]) -> np.ndarray:
    """Dimension indices ordered by KL_k (E4), largest first; ties keep index order."""
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    return np.argsort(-kl, kind="stable")


def active_mask(values: np.ndarray | list[float], threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """True where a dimension is used: its latent variance (or KL_k) exceeds ``threshold``."""
    return np.asarray(values, dtype=np.float64) > threshold


def last_kl_per_dim(history: list[dict], z_dim: int) -> np.ndarray:
    """KL_k of the last recorded epoch (test set), or zeros when the run has no history."""
    if history and "kl_per_dim" in history[-1] and len(history[-1]["kl_per_dim"]) == z_dim:
        return np.asarray(history[-1]["kl_per_dim"], dtype=np.float64)
    return np.zeros(z_dim)


def posterior_collapsed(test_kl: float | None, active_units: int | None, kl_threshold: float = COLLAPSE_KL) -> bool:
    """No active unit, or a total KL so small that z says (almost) nothing about x."""
    return (active_units is not None and active_units == 0) or (test_kl is not None and test_kl < kl_threshold)


# ---------------------------------------------------------------- paths through latent space

def traversal_latents(z0: np.ndarray, dims: list[int] | np.ndarray, values: np.ndarray | None = None,
                      n: int = 9) -> np.ndarray:
    """For each dim k in ``dims``: copies of z0 with z_k set to each value -> (len(dims), n, Z).

    ``values`` defaults to ``np.linspace(-3, 3, n)``; every other coordinate stays at z0.
    """
    z0 = np.asarray(z0, dtype=np.float32)
    values = np.linspace(-3.0, 3.0, n) if values is None else np.asarray(values)
    out = np.broadcast_to(z0, (len(dims), len(values), z0.shape[-1])).copy()
    for row, k in enumerate(dims):
        out[row, :, k] = values
    return out


def lerp(z_a: np.ndarray, z_b: np.ndarray, n: int) -> np.ndarray:
    """Straight line (1 - t) z_a + t z_b for n values of t from 0 to 1: (n, Z)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return ((1.0 - t) * np.asarray(z_a, np.float64) + t * np.asarray(z_b, np.float64)).astype(np.float32)


def slerp(z_a: np.ndarray, z_b: np.ndarray, n: int) -> np.ndarray:
    """Spherical interpolation (Shoemake; White 2016 for VAEs): (n, Z).

    z(t) = sin((1-t) W)/sin W z_a + sin(t W)/sin W z_b, W the angle between z_a and z_b. For equal
    norms the path keeps that norm, where the straight line cuts through the low-norm middle that
    prior samples (norm ~ sqrt(Z)) almost never visit. Falls back to ``lerp`` when W is ~0 or ~pi.
    """
    a, b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, n)
    omega = math.acos(float(np.clip(a @ b / (na * nb), -1.0, 1.0)))
    if math.sin(omega) < 1e-6:
        return lerp(a, b, n)
    t = np.linspace(0.0, 1.0, n)[:, None]
    path = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)
    path[0], path[-1] = a, b  # exact endpoints
    return path.astype(np.float32)


def prior_log_density(z: np.ndarray) -> np.ndarray:
    """ln q(z) of the prior N(0, I) (E2) at each row of Z (..., Z): -(|z|^2 + Z ln 2 pi) / 2, in nats. Highest at
    z = 0, yet prior samples lie near |z| = sqrt(Z): density and typicality differ (Interpolate shows both)."""
    z = np.asarray(z, np.float64)
    return -0.5 * ((z ** 2).sum(axis=-1) + z.shape[-1] * math.log(2 * math.pi))


def prior_samples(n: int, z_dim: int, seed: int) -> np.ndarray:
    """n draws from the prior q(z) = N(0, I) (E2), reproducible by ``seed``: (n, Z) float32."""
    return np.random.default_rng(seed).standard_normal((n, z_dim)).astype(np.float32)


def ranked_dims(history: list[dict], z_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What slider pages show: KL_k of the last epoch (E4), which dims are active, dims by KL."""
    kl = last_kl_per_dim(history, z_dim)
    return kl, active_mask(kl), dims_by_kl(kl)


def nearest(mu: np.ndarray, index: int, k: int) -> np.ndarray:
    """The indices of the K points of MU (N, Z) nearest to MU[INDEX] in Euclidean distance in z, nearest
    first, INDEX itself left out (ties broken by index)."""
    mu = np.asarray(mu, dtype=np.float64)
    d2 = np.square(mu - mu[index]).sum(axis=1)
    d2[index] = np.inf
    k = max(0, min(int(k), len(mu) - 1))
    order = np.lexsort((np.arange(len(mu)), d2))
    return order[:k]


def clearest_prior_sample(decode_mean, z_dim: int, n: int = 256, seed: int = 0) -> tuple[np.ndarray, int]:
    """Of N samples from the prior, the one whose decoded image the decoder is surest of: the lowest mean
    binary entropy of its pixel means mu~(z) (a crisp figure rather than a grey blur), among the samples
    with at least the median ink (so not a nearly empty image). ``decode_mean`` maps (N, Z) to (N, C, H, W)
    in [0, 1]. Returns z and its index among the samples (seeded: the same z every time)."""
    z = prior_samples(n, z_dim, seed)
    mean = np.asarray(decode_mean(z), dtype=np.float64).reshape(n, -1)
    p = np.clip(mean, 1e-6, 1 - 1e-6)
    entropy = -(p * np.log(p) + (1 - p) * np.log1p(-p)).mean(axis=1)
    ink = mean.mean(axis=1)
    best = int(np.argmin(np.where(ink >= np.median(ink), entropy, np.inf)))
    return z[best], best
