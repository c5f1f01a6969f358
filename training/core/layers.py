"""The layer plan of a model, from its config alone: the one home of the MLP and conv layer arithmetic.

``training/vae/model.py`` builds the plan in torch, ``training/core/costs.py`` counts its parameters and
activations before anything is built, ``training/vae/array_decoder.py`` runs its decoder in numpy. Each
reads the sizes from here, so the three cannot drift apart (tests check the count against torch and the
numpy decoder against the torch one).

    mlp   encoder  C*H*W -> hidden[0] -> ... -> hidden[-1] -> 2z      Linear, ReLU between
          decoder  z -> hidden[-1] -> ... -> hidden[0] -> P*C*H*W     (P: parameters per pixel)
    conv  encoder  C x H x W -> hidden[0] x H/2 x W/2 -> ... (Conv2d k4 s2 p1, ReLU) -> flat -> 2z (Linear)
          decoder  z -> flat (Linear, ReLU) -> hidden[-1] x H/2^k x W/2^k -> ... (ConvTranspose2d k4 s2 p1,
                   ReLU between) -> P*C x H x W
No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.core.config import ModelConfig

KERNEL = 4  # every (transposed) convolution: kernel 4, stride 2, padding 1, which halves (doubles) H and W
LINEAR, CONV, DECONV = "linear", "conv", "deconv"


@dataclass(frozen=True)
class LayerSpec:
    """One learned layer. Linear layers have (1, 1) sides; c_in / c_out are features or channels."""

    kind: str
    c_in: int
    c_out: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    relu: bool  # followed by a ReLU

    @property
    def parameters(self) -> int:
        weights = self.c_in * self.c_out * (1 if self.kind == LINEAR else KERNEL * KERNEL)
        return weights + self.c_out

    @property
    def inputs(self) -> int:
        """Floats in per image."""
        return self.c_in * self.in_hw[0] * self.in_hw[1]

    @property
    def outputs(self) -> int:
        """Floats out per image."""
        return self.c_out * self.out_hw[0] * self.out_hw[1]

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """As torch stores it: Linear (out, in), Conv2d (out, in, k, k), ConvTranspose2d (in, out, k, k)."""
        if self.kind == LINEAR:
            return (self.c_out, self.c_in)
        if self.kind == CONV:
            return (self.c_out, self.c_in, KERNEL, KERNEL)
        return (self.c_in, self.c_out, KERNEL, KERNEL)


def _linears(sizes: list[int]) -> list[LayerSpec]:
    """A stack of Linear layers through SIZES, a ReLU after each but the last."""
    last = len(sizes) - 2
    return [LayerSpec(LINEAR, a, b, (1, 1), (1, 1), i < last) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]


def bottom(cfg: ModelConfig) -> tuple[int, int, int]:
    """The conv stack's innermost feature map (channels, H / 2^k, W / 2^k)."""
    _, h, w = cfg.image_shape
    k = len(cfg.hidden)
    return cfg.hidden[-1], h // 2**k, w // 2**k


def encoder_plan(cfg: ModelConfig) -> list[LayerSpec]:
    """The encoder's layers, image in, (mu, logvar) out (2z values)."""
    c, h, w = cfg.image_shape
    if cfg.arch == "mlp":
        return _linears([c * h * w, *cfg.hidden, 2 * cfg.latent_dim])
    layers, channels, side = [], [c, *cfg.hidden], (h, w)
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        half = (side[0] // 2, side[1] // 2)
        layers.append(LayerSpec(CONV, c_in, c_out, side, half, True))  # (B, c_out, H/2, W/2)
        side = half
    c_bottom, hk, wk = bottom(cfg)
    return [*layers, LayerSpec(LINEAR, c_bottom * hk * wk, 2 * cfg.latent_dim, (1, 1), (1, 1), False)]


def decoder_plan(cfg: ModelConfig, params_per_pixel: int) -> list[LayerSpec]:
    """The decoder's layers, z in, PARAMS_PER_PIXEL x C x H x W out (the likelihood's parameters)."""
    c, h, w = cfg.image_shape
    if cfg.arch == "mlp":
        return _linears([cfg.latent_dim, *reversed(cfg.hidden), params_per_pixel * c * h * w])
    c_bottom, hk, wk = bottom(cfg)
    layers = [LayerSpec(LINEAR, cfg.latent_dim, c_bottom * hk * wk, (1, 1), (1, 1), True)]
    channels, outs = [c, *cfg.hidden], [params_per_pixel * c, *cfg.hidden[:-1]]
    side = (hk, wk)
    for i in reversed(range(len(cfg.hidden))):
        double = (side[0] * 2, side[1] * 2)
        layers.append(LayerSpec(DECONV, channels[i + 1], outs[i], side, double, i > 0))  # doubles H, W
        side = double
    return layers
