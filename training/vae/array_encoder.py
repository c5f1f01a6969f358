"""An encoder as plain arrays: mu(x) and logvar(x) (E3) with numpy alone, or its weights handed to a browser.

The "Your image" page's drawing canvas sends these arrays, with the decoder's (array_decoder.py), to JavaScript
so that the reconstruction follows the pen while drawing (explorer/widgets/nets.js computes the same). It covers
both architectures the library builds (training/vae/model.py, from training/core/layers.py's encoder_plan):

- ``mlp``:  Flatten, Linear, ReLU, ..., Linear to 2Z;
- ``conv``: L Conv2d layers (kernel 4, stride 2, padding 1: each halves H and W), each followed by a ReLU,
  Flatten, Linear to 2Z.

The 2Z outputs split as the torch model splits them (``chunk(2, dim=-1)``): the first Z are mu, the last Z
logvar. ``encoder_from_arrays`` checks the weights against the config before use (names, shapes, dtype,
finiteness); reading them from a run folder is ``training.models.open.load_encoder`` (a native run's only:
a model from elsewhere keeps its encoder to itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.config import ModelConfig
from training.core.layers import KERNEL, encoder_plan
from training.vae.array_decoder import PADDING, STRIDE, Layer, checked_layer


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Conv2d(kernel 4, stride 2, padding 1): x (N, Ci, H, W) -> (N, Co, H/2, W/2), w (Co, Ci, 4, 4).

    out[n, o, y, x] = b[o] + sum over c, ky, kx of w[o, c, ky, kx] * x[n, c, 2y - 1 + ky, 2x - 1 + kx] (zero
    outside the image): one tensordot per kernel tap on the zero-padded input read with stride 2."""
    n, _, h, wd = x.shape
    h_out, w_out = (h + 2 * PADDING - KERNEL) // STRIDE + 1, (wd + 2 * PADDING - KERNEL) // STRIDE + 1
    padded = np.pad(x, ((0, 0), (0, 0), (PADDING, PADDING), (PADDING, PADDING)))
    out = np.zeros((n, w.shape[0], h_out, w_out), np.float32)
    for ky in range(KERNEL):
        for kx in range(KERNEL):
            window = padded[:, :, ky:ky + STRIDE * h_out:STRIDE, kx:kx + STRIDE * w_out:STRIDE]
            out += np.einsum("nchw,oc->nohw", window, w[:, :, ky, kx], optimize=True)
    return out + b[None, :, None, None]


@dataclass(frozen=True)
class ArrayEncoder:
    """x (N, C, H, W) in [0, 1] -> mu, logvar (N, Z), ReLU between layers (none after the last)."""

    arch: str
    layers: tuple[Layer, ...]
    image_shape: tuple[int, int, int]

    @property
    def latent_dim(self) -> int:
        return self.layers[-1].out_shape[0] // 2

    @property
    def parameter_count(self) -> int:
        return sum(layer.size for layer in self.layers)

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E3: the posterior's mean and log-variance, each (N, Z)."""
        h = np.asarray(x, dtype=np.float32).reshape(-1, *self.image_shape)
        for i, layer in enumerate(self.layers):
            h = h.reshape(len(h), *layer.in_shape)
            h = h @ layer.w.T + layer.b if layer.kind == "dense" else conv2d(h, layer.w, layer.b)
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)  # ReLU
        z = self.latent_dim
        return h[:, :z], h[:, z:]


def layer_shapes(cfg: ModelConfig) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(kind, safetensors name, weight shape, input shape, output shape) of each encoder layer, in order: the
    encoder of the layer plan, named as training/vae/model.py places its modules."""
    plan = encoder_plan(cfg)
    if cfg.arch == "mlp":
        # Sequential(Flatten, Linear, ReLU, Linear, ...): the Linears sit at odd indices
        return [("dense", f"encoder.{1 + 2 * i}", s.weight_shape, (s.c_in,), (s.c_out,)) for i, s in enumerate(plan)]
    convs, last = plan[:-1], plan[-1]
    # Sequential(Conv2d, ReLU, Conv2d, ReLU, ..., Flatten, Linear): Conv2ds at 0, 2, ...; the Linear after the Flatten
    return [*[("conv", f"encoder.{2 * j}", s.weight_shape, (s.c_in, *s.in_hw), (s.c_out, *s.out_hw))
              for j, s in enumerate(convs)],
            ("dense", f"encoder.{2 * len(convs) + 1}", last.weight_shape, (last.c_in,), (last.c_out,))]


def encoder_from_arrays(cfg: ModelConfig, tensors: dict[str, np.ndarray], source: str) -> ArrayEncoder:
    layers = [checked_layer(tensors, kind, prefix, w_shape, in_shape, out_shape, source)
              for kind, prefix, w_shape, in_shape, out_shape in layer_shapes(cfg)]
    return ArrayEncoder(cfg.arch, tuple(layers), tuple(cfg.image_shape))
