"""A decoder as plain arrays: decode with numpy alone, or hand the weights to a browser.

The explorer uses it for the first image (no need to wait for PyTorch to import) and the
in-browser slider component sends the same arrays to JavaScript. It covers both architectures
the library builds (training/vae/model.py):

- ``mlp``:  Linear, ReLU, ..., Linear, then the outputs read as (k*C, H, W);
- ``conv``: Linear, ReLU, reshape to (channels, H/2^L, W/2^L), then L ConvTranspose2d layers
  (kernel 4, stride 2, padding 1: each doubles H and W) with a ReLU between them.

The decoder mean is the sigmoid of the first C channels (every likelihood's mean: for the learned
Gaussian the next C channels are sigma~). ``decoder_from_arrays`` checks the weights against the config
before use: names, shapes, dtype, finiteness. Reading them from a folder (the file's size first, with
safetensors' numpy loader) is ``training.models.open.load_decoder``, which also opens ONNX folders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.config import PARAMS_PER_PIXEL, ModelConfig
from training.core.errors import UserError
from training.core.layers import KERNEL, decoder_plan

STRIDE, PADDING = 2, 1  # every ConvTranspose2d the library builds (kernel KERNEL)


@dataclass(frozen=True)
class Layer:
    """One learned layer: ``dense`` w (out, in), ``deconv`` w (c_in, c_out, 4, 4) or (in the encoder,
    training/vae/array_encoder.py) ``conv`` w (c_out, c_in, 4, 4), as PyTorch stores them."""

    kind: str                       # "dense" | "deconv" | "conv"
    w: np.ndarray                   # float32
    b: np.ndarray                   # float32 (out,) or (c_out,)
    in_shape: tuple[int, ...]       # (in,) or (c_in, h, w)
    out_shape: tuple[int, ...]      # (out,) or (c_out, 2h, 2w); a conv (c_out, h/2, w/2)

    @property
    def size(self) -> int:
        return int(self.w.size + self.b.size)


def deconv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ConvTranspose2d(kernel 4, stride 2, padding 1): x (N, Ci, H, W) -> (N, Co, 2H, 2W).

    Each input pixel (iy, ix) adds x * w[:, :, ky, kx] at output (2*iy - 1 + ky, 2*ix - 1 + kx):
    one tensordot per kernel tap, scattered with the padding cropped off.
    """
    n, _, h, wd = x.shape
    c_out = w.shape[1]
    full = np.zeros((n, c_out, STRIDE * h + KERNEL - STRIDE, STRIDE * wd + KERNEL - STRIDE), np.float32)
    for ky in range(KERNEL):
        for kx in range(KERNEL):
            tap = np.einsum("nchw,co->nohw", x, w[:, :, ky, kx], optimize=True)
            full[:, :, ky:ky + STRIDE * h:STRIDE, kx:kx + STRIDE * wd:STRIDE] += tap
    out = full[:, :, PADDING:PADDING + STRIDE * h, PADDING:PADDING + STRIDE * wd]
    return out + b[None, :, None, None]


@dataclass(frozen=True)
class ArrayDecoder:
    """z (N, Z) -> the decoder mean mu~(z) in [0, 1], (N, C, H, W), ReLU between layers."""

    arch: str
    layers: tuple[Layer, ...]
    image_shape: tuple[int, int, int]

    @property
    def latent_dim(self) -> int:
        return self.layers[0].in_shape[0]

    @property
    def parameter_count(self) -> int:
        return sum(layer.size for layer in self.layers)

    def decode_mean(self, z: np.ndarray) -> np.ndarray:
        h = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        for i, layer in enumerate(self.layers):
            h = h.reshape(len(h), *layer.in_shape)
            h = h @ layer.w.T + layer.b if layer.kind == "dense" else deconv(h, layer.w, layer.b)
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)  # ReLU
        c, height, width = self.image_shape
        mean_logits = h.reshape(len(h), -1)[:, : c * height * width]  # the first C channels are the mean
        return (1.0 / (1.0 + np.exp(-mean_logits))).reshape(-1, c, height, width)  # sigmoid


def layer_shapes(cfg: ModelConfig) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(kind, safetensors name, weight shape, input shape, output shape) of each decoder layer, in order: the
    decoder of the layer plan (training/core/layers.py), named as training/vae/model.py places its modules."""
    plan = decoder_plan(cfg, PARAMS_PER_PIXEL[cfg.likelihood])
    if cfg.arch == "mlp":
        # Sequential(Linear, ReLU, Linear, ...): the Linears sit at even indices
        return [("dense", f"decoder.{2 * i}", s.weight_shape, (s.c_in,), (s.c_out,)) for i, s in enumerate(plan)]
    first, deconvs = plan[0], plan[1:]
    # Sequential(Linear, ReLU, Unflatten, ConvT, ReLU, ConvT, ...): ConvTs at 3, 5, 7, ...
    return [("dense", "decoder.0", first.weight_shape, (first.c_in,), (first.c_out,)),
            *[("deconv", f"decoder.{3 + 2 * j}", s.weight_shape, (s.c_in, *s.in_hw), (s.c_out, *s.out_hw))
              for j, s in enumerate(deconvs)]]


def checked_layer(tensors: dict[str, np.ndarray], kind: str, prefix: str, w_shape: tuple[int, ...],
                  in_shape: tuple[int, ...], out_shape: tuple[int, ...], source: str) -> Layer:
    """The layer PREFIX of TENSORS, checked against the config's shapes: present, float32, finite. A bias has one
    value per output: per row of a dense or conv weight, per column of a deconv weight (c_in, c_out, 4, 4)."""
    w, b = tensors.get(f"{prefix}.weight"), tensors.get(f"{prefix}.bias")
    if w is None or b is None:
        raise UserError("The weights in {source} do not match the config: {prefix} is missing.",
            source=source, prefix=prefix)
    b_shape = (w_shape[1],) if kind == "deconv" else (w_shape[0],)
    if w.shape != w_shape or b.shape != b_shape:
        raise UserError("The weights in {source} do not match the config: {prefix} has shape {shape}, the config "
            "needs {w_shape}.",
            source=source, prefix=prefix, shape=w.shape, w_shape=w_shape)
    if w.dtype != np.float32 or b.dtype != np.float32:
        raise UserError("The weights in {source} have dtype {dtype} for {prefix}; expected float32.",
            source=source, dtype=w.dtype, prefix=prefix)
    if not (np.isfinite(w).all() and np.isfinite(b).all()):
        raise UserError("The weights in {source} contain NaN or infinite values ({prefix}).",
            source=source, prefix=prefix)
    return Layer(kind, w, b, in_shape, out_shape)


def decoder_from_arrays(cfg: ModelConfig, tensors: dict[str, np.ndarray], source: str) -> ArrayDecoder:
    layers = [checked_layer(tensors, kind, prefix, w_shape, in_shape, out_shape, source)
              for kind, prefix, w_shape, in_shape, out_shape in layer_shapes(cfg)]
    return ArrayDecoder(cfg.arch, tuple(layers), tuple(cfg.image_shape))
