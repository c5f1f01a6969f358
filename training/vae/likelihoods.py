"""Decoder likelihoods q(x|z): the full -ln q(x|z) in nats per image, constants included.

The decoder network emits ``params_per_pixel * C`` channels; a likelihood turns them into
``recon_nll`` (one number per image, summed over pixels: E1) and into the decoder mean that the
explorer displays.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from training.vae.bernoulli import bernoulli_nll

LOG_2PI = math.log(2.0 * math.pi)


class Likelihood:
    """Interface: how many decoder outputs per pixel, -ln q(x|z), and the mean image."""

    params_per_pixel = 1

    def recon_nll(self, x: Tensor, out: Tensor) -> Tensor:
        """-ln q(x|z) for each image: x (..., C, H, W), out (..., k*C, H, W) -> (...)."""
        raise NotImplementedError

    def mean(self, out: Tensor) -> Tensor:
        """Decoder mean mu~(z) in [0, 1], shape (..., C, H, W)."""
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Binary cross-entropy on logits (the usual image decoder; not in the notes, see theory.md)."""

    def recon_nll(self, x: Tensor, out: Tensor) -> Tensor:
        return bernoulli_nll(x, out)  # binary cross-entropy on logits, summed over pixels, from vectorised kernels

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)


class GaussianFixed(Likelihood):
    """E6: N(mu~(z), sigma~^2 I) with a constant sigma~, which sets the weight of reconstruction."""

    def __init__(self, sigma: float):
        self.sigma = float(sigma)
        self.log_sigma = math.log(self.sigma)

    def recon_nll(self, x: Tensor, out: Tensor) -> Tensor:
        mu_x = torch.sigmoid(out)
        # E5 with sigma~ constant: 1/2 ||(x - mu~)/sigma~||^2 + D/2 ln 2pi + D ln sigma~
        sq = ((x - mu_x) / self.sigma).square().flatten(-3).sum(-1)
        return 0.5 * sq + x.shape[-3:].numel() * (0.5 * LOG_2PI + self.log_sigma)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)


class GaussianLearned(Likelihood):
    """E5: the decoder also outputs sigma~(z) per pixel, bounded below by ``min_sigma``."""

    params_per_pixel = 2

    def __init__(self, min_sigma: float):
        self.min_sigma = float(min_sigma)

    def split(self, out: Tensor) -> tuple[Tensor, Tensor]:
        """(mu~, sigma~) from the decoder output; sigma~ = min_sigma + softplus(raw) > min_sigma."""
        raw_mu, raw_sigma = out.chunk(2, dim=-3)
        return torch.sigmoid(raw_mu), self.min_sigma + F.softplus(raw_sigma)

    def recon_nll(self, x: Tensor, out: Tensor) -> Tensor:
        mu_x, sigma_x = self.split(out)
        # E5: 1/2 ||(x - mu~)/sigma~||^2 + D/2 ln 2pi + 1/2 sum ln sigma~^2
        per_pixel = 0.5 * ((x - mu_x) / sigma_x).square() + 0.5 * LOG_2PI + sigma_x.log()
        return per_pixel.flatten(-3).sum(-1)

    def mean(self, out: Tensor) -> Tensor:
        return self.split(out)[0]


def make_likelihood(name: str, sigma: float = 0.1, min_sigma: float = 0.01) -> Likelihood:
    if name == "bernoulli":
        return Bernoulli()
    if name == "gaussian":
        return GaussianFixed(sigma)
    if name == "gaussian-learned":
        return GaussianLearned(min_sigma)
    raise ValueError(f"unknown likelihood {name!r}")
