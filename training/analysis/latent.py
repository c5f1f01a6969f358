"""Latent-space analysis with the model: encode, project, decode, and the live terms of the derivation
(docs/theory.md E1..E7). What needs no model (ordering and marking dimensions, traversals,
interpolation paths, prior samples) is in training/vae/latent_space.py, which imports no torch.

Pure torch/numpy (t-SNE and UMAP from training/analysis/embedding.py, imported when asked for). The
explorer's pages only arrange what these functions return. Latents are numpy float32 arrays ``(..., Z)``;
images come back as numpy float32 ``(N, H, W, C)`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from training.core.costs import images_per_chunk
from training.vae.likelihoods import LOG_2PI, GaussianFixed, GaussianLearned
from training.vae.model import VAE, reparameterize
from training.vae.objective import kl_per_dim as kl_per_dim_of, log_normal_diag_at_eps, log_normal_std

PROJECTIONS = ("pca", "tsne", "umap", "dims")
NEIGHBOUR_EMBEDDINGS = ("tsne", "umap")  # no map back from the plane to z
LINEAR = ("pca", "axis")  # z = mean + coords @ components (axis: training/analysis/directions.py)


# ---------------------------------------------------------------- encoding and dimensions

@torch.no_grad()
def encode_posterior(model: VAE, x: Tensor, batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """E3: x (N, C, H, W) -> mu, logvar of p(z|x), each numpy (N, Z), in chunks of bounded memory."""
    batch = batch or images_per_chunk(model.cfg)
    mus, logvars = [], []
    for start in range(0, x.shape[0], batch):
        mu, logvar = model.encode(x[start:start + batch])
        mus.append(mu.float().cpu().numpy())
        logvars.append(logvar.float().cpu().numpy())
    z_dim = model.latent_dim
    if not mus:
        return np.zeros((0, z_dim), np.float32), np.zeros((0, z_dim), np.float32)
    return np.concatenate(mus), np.concatenate(logvars)


def encode_dataset(model: VAE, x: Tensor, batch: int | None = None) -> np.ndarray:
    """mu(x) for every image (E3): numpy (N, Z), the point each image is drawn at."""
    return encode_posterior(model, x, batch)[0]


# ---------------------------------------------------------------- 2-D projections

@dataclass(frozen=True)
class Projection:
    """2-D coordinates of the points, and the way back to latent space where one exists.

    PCA: z = mean + coords @ components. Raw dims: z_dims = coords, every other z_k = 0.
    t-SNE, UMAP: no inverse (``invertible`` is False).
    """

    method: str
    coords: np.ndarray              # (N, 2)
    axis_titles: tuple[str, str]
    z_dim: int
    mean: np.ndarray | None = None        # (Z,) PCA
    components: np.ndarray | None = None  # (2, Z) PCA, orthonormal rows
    dims: tuple[int, int] | None = None   # raw dims
    variance_share: tuple[float, float] | None = None  # PCA: the share of mu's variance along each axis

    linear = property(lambda self: self.method in LINEAR)
    invertible = property(lambda self: self.method not in NEIGHBOUR_EMBEDDINGS)

    def inverse(self, coords: np.ndarray) -> np.ndarray:
        """Latents for 2-D points (M, 2) -> (M, Z)."""
        coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        if self.method in LINEAR:
            return (self.mean + coords @ self.components).astype(np.float32)
        if self.method == "dims":
            z = np.zeros((len(coords), self.z_dim), np.float32)
            i, j = self.dims
            z[:, i] = coords[:, 0]
            if j != i:
                z[:, j] = coords[:, 1]
            return z
        raise ValueError(f"{self.method} has no inverse map from the plane back to latent space.")


def pca(mu: np.ndarray) -> Projection:
    """The two directions of largest variance of mu (SVD of the centred points), signs fixed."""
    mu = np.asarray(mu, dtype=np.float64)
    z_dim = mu.shape[1]
    mean = mu.mean(axis=0)
    _, s, vt = np.linalg.svd(mu - mean, full_matrices=False)
    components = np.zeros((2, z_dim))
    k = min(2, vt.shape[0])
    components[:k] = vt[:k]
    for row in components:  # deterministic sign: the largest entry of each direction is positive
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    coords = (mu - mean) @ components.T
    var = s**2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    titles = tuple(f"PC{i + 1} ({100 * ratio[i]:.0f}% of variance)" if i < len(ratio) else f"PC{i + 1}"
                   for i in range(2))
    share = tuple(float(ratio[i]) if i < len(ratio) else 0.0 for i in range(2))
    return Projection("pca", coords.astype(np.float32), titles, z_dim, mean=mean, components=components,
                      variance_share=share)


def neighbour_embedding(mu: np.ndarray, method: str, seed: int = 0, perplexity: float = 30.0) -> Projection:
    """t-SNE (openTSNE) or UMAP (umap-learn) of mu: neighbours in z stay neighbours; no inverse."""
    from training.analysis import embedding

    if method == "tsne":
        coords = embedding.tsne(mu, seed=seed, perplexity=perplexity)
        return Projection("tsne", coords, ("t-SNE 1", "t-SNE 2"), np.shape(mu)[1])
    coords = embedding.umap(mu, seed=seed)
    return Projection("umap", coords, ("UMAP 1", "UMAP 2"), np.shape(mu)[1])


def raw_dims(mu: np.ndarray, dims: tuple[int, int]) -> Projection:
    """Two latent coordinates as they are: (mu_i, mu_j)."""
    mu = np.asarray(mu, dtype=np.float32)
    i, j = (int(d) for d in dims)
    if not (0 <= i < mu.shape[1] and 0 <= j < mu.shape[1]):
        raise ValueError(f"Dimensions {dims} do not exist; the model has z_0..z_{mu.shape[1] - 1}.")
    return Projection("dims", mu[:, [i, j]].copy(), (f"z_{i}", f"z_{j}"), mu.shape[1], dims=(i, j))


def project(mu: np.ndarray, method: str = "pca", dims: tuple[int, int] = (0, 1), seed: int = 0,
            perplexity: float = 30.0) -> Projection:
    """mu (N, Z) -> 2-D coordinates by ``method`` in {"pca", "tsne", "umap", "dims"}."""
    if method == "pca":
        return pca(mu)
    if method in NEIGHBOUR_EMBEDDINGS:
        return neighbour_embedding(mu, method, seed=seed, perplexity=perplexity)
    if method == "dims":
        return raw_dims(mu, dims)
    raise ValueError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}.")


def subsample(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """At most ``max_points`` sorted indices out of range(n), reproducible by ``seed``."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


@dataclass(frozen=True)
class Grid:
    """A grid over the plotted plane: ``z`` (rows*cols, Z) row-major, top row first (largest y)."""

    xs: np.ndarray  # (n,) increasing
    ys: np.ndarray  # (n,) decreasing: row 0 is the top of the plot
    z: np.ndarray   # (n*n, Z)


def grid_extent(projection: Projection, quantile: float = 0.01) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) covering the points, trimmed by ``quantile`` at each end; at least +-3 for dims."""
    lo = np.quantile(projection.coords, quantile, axis=0)
    hi = np.quantile(projection.coords, 1 - quantile, axis=0)
    if projection.method == "dims":  # raw dims: show the prior's +-3 sigma too
        lo, hi = np.minimum(lo, -3.0), np.maximum(hi, 3.0)
    hi = np.where(hi - lo < 1e-6, lo + 1.0, hi)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def manifold_grid_latents(projection: Projection, n: int = 15,
                          extent: tuple[float, float, float, float] | None = None) -> Grid:
    """Latents on an n x n grid of the plotted axes, mapped back through ``projection.inverse``."""
    x0, x1, y0, y1 = grid_extent(projection) if extent is None else extent
    xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n): row r is y = ys[r]
    z = projection.inverse(np.stack([gx.ravel(), gy.ravel()], axis=1))
    return Grid(xs, ys, z)


# ---------------------------------------------------------------- decoding

@torch.no_grad()
def decode_images(model: VAE, z: np.ndarray | Tensor, batch: int | None = None) -> np.ndarray:
    """Decoder mean mu~(z) for z (N, Z) or (Z,) -> numpy float32 (N, H, W, C) in [0, 1], in chunks."""
    batch = batch or images_per_chunk(model.cfg)
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, model.latent_dim)
    param = next(model.parameters())
    chunks = [model.decode_mean(z[s:s + batch].to(param.device, param.dtype)) for s in range(0, len(z), batch)]
    if not chunks:
        c, h, w = model.cfg.image_shape
        return np.zeros((0, h, w, c), np.float32)
    return torch.cat(chunks).clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()


def to_hwc(x: Tensor) -> np.ndarray:
    """Data images (N, C, H, W) tensor -> numpy (N, H, W, C), the layout ``decode_images`` returns."""
    return x.detach().permute(0, 2, 3, 1).float().cpu().numpy()


@torch.no_grad()
def reconstruct(model: VAE, x: Tensor) -> np.ndarray:
    """Decoder mean at the encoder mean, mu~(mu(x)): (N, H, W, C) in [0, 1], in chunks."""
    return decode_images(model, encode_posterior(model, x)[0])


# ---------------------------------------------------------------- the derivation, live

def recon_weight(sigma: float) -> float:
    """E6: the factor 1/(2 sigma~^2) in front of ||x - mu~||^2; beta-equivalent is 2 sigma~^2."""
    return 1.0 / (2.0 * sigma**2)


@dataclass(frozen=True)
class TheoryTerms:
    """Batch means in nats per image (E1): one term per line of the derivation."""

    n_images: int
    n_mc: int
    recon_nll: float            # E5/E6/Bernoulli: E_z[-ln q(x|z)], z by E7, n_mc samples per image
    recon_se: float             # its Monte-Carlo standard error
    kl: float                   # E4, closed form, summed over dimensions
    kl_per_dim: np.ndarray      # E4 per dimension (Z,)
    kl_mc: float                # E_z[ln p(z|x) - ln q(z)], same samples
    kl_mc_se: float             # its standard error
    neg_entropy: float          # E4 derivation: E_z[ln p(z|x)] = sum_k -1/2 ln(2 pi sigma_k^2) - 1/2
    cross_entropy: float        # E4 derivation: E_z[-ln q(z)] = sum_k 1/2 ln 2pi + 1/2 (mu_k^2 + sigma_k^2)
    sigma_mean: float           # E3: mean encoder sigma_k(x) over images and dimensions
    neg_elbo: float             # recon_nll + kl (E1 with beta = 1)
    likelihood: str             # "bernoulli", "gaussian" or "gaussian-learned"
    sigma: float | None         # sigma~ (gaussian) or its mean over pixels (learned)
    recon_weight: float | None  # 1/(2 sigma~^2) (E6); mean over pixels for a learned sigma~
    sq_error: float | None      # ||x - mu~(z)||^2 batch mean (gaussian only)
    recon_const: float | None   # D/2 ln 2pi + D ln sigma~ (gaussian with a constant sigma~)


def _mean_and_se(values: Tensor) -> tuple[float, float]:
    """values (S, B): estimate of the batch mean of E_s[values] and its standard error.

    Var of the estimate = sum_b Var_s(values[:, b]) / S / B^2 (independent samples per image).
    """
    s, b = values.shape
    mean = float(values.mean())
    if s < 2:
        return mean, float("nan")
    var_b = values.double().var(dim=0, unbiased=True)  # (B,)
    return mean, float(torch.sqrt(var_b.sum() / s) / b)


@torch.no_grad()
def theory_terms(model: VAE, x: Tensor, n_mc: int = 32, seed: int = 0) -> TheoryTerms:
    """The terms of E1 on a batch x (B, C, H, W), with n_mc samples z = mu + sigma * eps per image (E7).

    The S x B decodes go in chunks of images (``images_per_chunk``), so memory stays bounded whatever
    the model, B and S; the result does not depend on the chunk size (eps is drawn once, up front).
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    mu, logvar = model.encode(x)  # E3, (B, Z)
    eps = torch.randn((n_mc, *mu.shape), generator=gen, device=mu.device, dtype=mu.dtype)
    lik = model.likelihood
    chunk = max(1, images_per_chunk(model.cfg, most=x.shape[0] * n_mc) // n_mc)
    recon_parts, kl_mc_parts = [], []
    sq_sum = sigma_sum = weight_sum = 0.0
    n_sigma = 0
    for start in range(0, x.shape[0], chunk):
        xb, mub, lvb, epsb = x[start:start + chunk], mu[start:start + chunk], logvar[start:start + chunk], \
            eps[:, start:start + chunk]
        z = reparameterize(mub, lvb, epsb)  # E7, (S, b, Z)
        out = model.decode(z)  # (S, b, k*C, H, W)
        recon_parts.append(lik.recon_nll(xb, out))  # (S, b)
        kl_mc_parts.append(log_normal_diag_at_eps(epsb, lvb) - log_normal_std(z))  # ln p(z|x) - ln q(z)
        if isinstance(lik, GaussianFixed):
            sq_sum += float((xb - lik.mean(out)).square().flatten(-3).sum(-1).sum())
        elif isinstance(lik, GaussianLearned):
            mean_img, sigma_img = lik.split(out)
            sq_sum += float((xb - mean_img).square().flatten(-3).sum(-1).sum())
            sigma_sum += float(sigma_img.sum())
            weight_sum += float((0.5 / sigma_img.square()).sum())
            n_sigma += sigma_img.numel()
    recon_nll, recon_se = _mean_and_se(torch.cat(recon_parts, dim=1))
    kl_mc, kl_mc_se = _mean_and_se(torch.cat(kl_mc_parts, dim=1))
    kl_dims = kl_per_dim_of(mu, logvar)  # E4, (B, Z)
    kl = float(kl_dims.sum(-1).mean())
    half_log_2pi = 0.5 * LOG_2PI
    neg_entropy = float((-half_log_2pi - 0.5 * logvar - 0.5).sum(-1).mean())
    cross_entropy = float((half_log_2pi + 0.5 * (mu.square() + logvar.exp())).sum(-1).mean())

    name, sigma, weight, sq_error, const = model.cfg.likelihood, None, None, None, None
    draws = n_mc * x.shape[0]
    if isinstance(lik, GaussianFixed):
        sigma, weight = lik.sigma, recon_weight(lik.sigma)
        sq_error = sq_sum / draws
        d = x.shape[-3:].numel()
        const = d * (0.5 * LOG_2PI + lik.log_sigma)
    elif isinstance(lik, GaussianLearned):
        sigma, weight = sigma_sum / n_sigma, weight_sum / n_sigma
        sq_error = sq_sum / draws
    return TheoryTerms(
        n_images=x.shape[0], n_mc=n_mc, recon_nll=recon_nll, recon_se=recon_se, kl=kl,
        kl_per_dim=kl_dims.mean(0).cpu().numpy(), kl_mc=kl_mc, kl_mc_se=kl_mc_se, neg_elbo=recon_nll + kl,
        neg_entropy=neg_entropy, cross_entropy=cross_entropy, sigma_mean=float(torch.exp(0.5 * logvar).mean()),
        likelihood=name, sigma=sigma, recon_weight=weight, sq_error=sq_error, recon_const=const,
    )
