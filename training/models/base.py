"""What every kind of model shares, without torch: the interface the pages and estimators call
(``LatentModel``), a model folder once opened (``Run``) and the data set a model from elsewhere stands for
when it names none.

Three kinds implement the interface: the library's own ``training.vae.model.VAE`` (a run of ``fit``), an ONNX
pair (``training.models.onnx_runtime.OnnxVAE``) and one's own code (``training.models.adapter.AdapterVAE``);
the last two share their plumbing (``ForeignModel``, training/models/onnx_runtime.py). Which kind a folder
holds is decided in training/models/open.py alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: opening a model folder's config must not import torch
    from torch import Tensor

    from training.core.config import ModelConfig, RunConfig

NO_DATASET = "(none)"  # the config's data set when a model from elsewhere names none (its data pages say so)


class LatentModel(Protocol):
    """What the explorer's pages, ``evaluate`` and the latent analysis call on a model (E3, E5-E7)."""

    cfg: ModelConfig
    likelihood: Any  # training.vae.likelihoods.Likelihood

    @property
    def latent_dim(self) -> int: ...

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, C, H, W) in [0, 1] -> mu, logvar, each (B, Z)."""

    def decode(self, z: Tensor) -> Tensor:
        """z (..., Z) -> the likelihood's parameters (..., k*C, H, W)."""

    def decode_mean(self, z: Tensor) -> Tensor:
        """z (..., Z) -> the decoder's mean image mu~(z) (..., C, H, W) in [0, 1]."""


@dataclass
class Run:
    """A model folder, opened: its config, its model (eval mode), its history (empty for most models from
    elsewhere), and for an ONNX pair how its graphs were read (``roles``, a
    training.models.onnx_roles.GraphRoles: ``roles.layout`` "nchw" | "nhwc", ``roles.decoder_output``
    "probabilities" | "logits"; None for every other kind)."""

    path: Path
    config: RunConfig
    model: LatentModel
    history: list[dict]
    roles: Any = None

    @property
    def epoch(self) -> int:
        return self.history[-1]["epoch"] if self.history else 0
