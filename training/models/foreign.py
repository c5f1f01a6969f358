"""What a model from elsewhere (ONNX graphs, one's own code) needs to stand in for the library's VAE: its
config and likelihood, its latent size, a parameter that says its device and dtype, and ``decode`` as
logit(mu~) so the library's estimators score it like a run. Subclasses give ``encode`` and ``decode_mean``.
"""

from __future__ import annotations

import torch

from training.core.config import ModelConfig
from training.vae.likelihoods import make_likelihood


class ForeignModel(torch.nn.Module):
    """The shared half of ``OnnxVAE`` and ``AdapterVAE`` (training/models/base.py has the interface)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.likelihood = make_likelihood(cfg.likelihood, cfg.sigma, cfg.min_sigma)
        # callers read the device and dtype from the parameters: one that stands for the model's (CPU, float32)
        self._anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The likelihood's parameters: logit(mu~), which both Bernoulli and fixed-sigma Gaussian read."""
        return torch.logit(self.decode_mean(z).clamp(1e-6, 1 - 1e-6))

    def forward(self, x: torch.Tensor):  # pragma: no cover - not used; keeps nn.Module complete
        return self.encode(x)
