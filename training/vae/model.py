"""The VAE: encoder p(z|x) = N(mu(x), diag sigma^2(x)) (E3), prior q(z) = N(0, I) (E2),
decoder q(x|z) (E5/E6 or Bernoulli, see ``likelihoods.py``), and the sampling trick (E7).

Two architectures: ``mlp`` (784-400-z like the canonical PyTorch example) and ``conv``
(stride-2 convolutions; any image side divisible by 2**layers, 1 or 3 channels).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from training.core.config import ModelConfig
from training.core.layers import CONV, KERNEL, LINEAR, LayerSpec, bottom, decoder_plan, encoder_plan
from training.vae.likelihoods import Likelihood, make_likelihood


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """E7: z = mu + sigma * eps with eps ~ N(0, I); eps (S, B, Z) -> z (S, B, Z)."""
    return mu + torch.exp(0.5 * logvar) * eps


def _torch(spec: LayerSpec) -> list[nn.Module]:
    """One layer of the plan (training/core/layers.py) in torch, with its ReLU."""
    if spec.kind == LINEAR:
        layer: nn.Module = nn.Linear(spec.c_in, spec.c_out)
    elif spec.kind == CONV:
        layer = nn.Conv2d(spec.c_in, spec.c_out, KERNEL, stride=2, padding=1)  # (B, c_out, H/2, W/2)
    else:
        layer = nn.ConvTranspose2d(spec.c_in, spec.c_out, KERNEL, stride=2, padding=1)  # doubles H, W
    return [layer, nn.ReLU()] if spec.relu else [layer]


def build_encoder_decoder(cfg: ModelConfig, params_per_pixel: int) -> tuple[nn.Module, nn.Module]:
    """The encoder and decoder of the config's layer plan. The Flatten / Unflatten between image-shaped and
    flat layers sit where they always have: the module indices are the names in every weights file."""
    c, h, w = cfg.image_shape
    enc, dec = encoder_plan(cfg), decoder_plan(cfg, params_per_pixel)
    if cfg.arch == "mlp":
        encoder = nn.Sequential(nn.Flatten(), *[m for spec in enc for m in _torch(spec)])
        decoder = nn.Sequential(*[m for spec in dec for m in _torch(spec)],
                                nn.Unflatten(1, (params_per_pixel * c, h, w)))
        return encoder, decoder
    encoder = nn.Sequential(*[m for spec in enc[:-1] for m in _torch(spec)], nn.Flatten(), *_torch(enc[-1]))
    decoder = nn.Sequential(*_torch(dec[0]), nn.Unflatten(1, bottom(cfg)), *[m for spec in dec[1:] for m in _torch(spec)])
    return encoder, decoder


class VAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.likelihood: Likelihood = make_likelihood(cfg.likelihood, cfg.sigma, cfg.min_sigma)
        self.encoder, self.decoder = build_encoder_decoder(cfg, self.likelihood.params_per_pixel)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """E3: x (B, C, H, W) -> mu, logvar, each (B, Z)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Decoder parameters for z (..., Z) -> (..., k*C, H, W)."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*lead, *out.shape[1:])

    def decode_mean(self, z: Tensor) -> Tensor:
        """The image the explorer shows: decoder mean mu~(z) in [0, 1], (..., C, H, W)."""
        return self.likelihood.mean(self.decode(z))

    @torch.no_grad()
    def start_at_mean(self, mean_image: Tensor) -> None:
        """Set the bias of the decoder's last layer so that its mean mu~ starts near MEAN_IMAGE (C, H, W),
        the training images' mean: the log-odds of each pixel's mean (MLP), or of each channel's mean (conv,
        whose last layer has one bias per channel). The first steps then need not learn the average image,
        most of the loss at the start ("init well", Karpathy 2019). A learned sigma~ keeps its default."""
        mean_image = mean_image.detach().float().reshape(self.cfg.image_shape)
        if self.cfg.arch == "mlp":
            last, target = self.decoder[-2], mean_image.flatten()  # the Linear before the Unflatten
        else:
            last, target = self.decoder[-1], mean_image.mean(dim=(1, 2))  # the last ConvTranspose2d
        last.bias[:target.numel()] = torch.logit(target.clamp(1e-3, 1 - 1e-3)).to(last.bias)

    def forward(self, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (B, C, H, W), eps (S, B, Z) -> mu, logvar (B, Z), z (S, B, Z), out (S, B, k*C, H, W)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, eps)
        return mu, logvar, z, self.decode(z)


def pick_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; anything else is passed to torch.device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)
