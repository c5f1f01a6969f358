"""An MLP decoder as plain arrays: decode with numpy alone, or hand the weights to a browser.

The explorer uses it for the first image (no need to wait for PyTorch to import) and the
in-browser slider component sends the same arrays to JavaScript. Weights are read with
safetensors' numpy loader and checked against the config: names, shapes, dtype, finiteness.
Only ``arch = "mlp"`` models have one; conv models return None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load_numpy

from training.config import PARAMS_PER_PIXEL, ModelConfig
from training.costs import check_model, check_weights_file
from training.errors import UserError
from training.run_files import WEIGHTS, read_config



@dataclass(frozen=True)
class MLPDecoder:
    """z (N, Z) -> Linear, ReLU, ..., Linear -> the decoder mean mu~(z) in [0, 1], (N, C, H, W)."""

    weights: tuple[np.ndarray, ...]  # each (out, in), float32
    biases: tuple[np.ndarray, ...]   # each (out,)
    image_shape: tuple[int, int, int]

    @property
    def latent_dim(self) -> int:
        return self.weights[0].shape[1]

    def decode_mean(self, z: np.ndarray) -> np.ndarray:
        h = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)  # ReLU
        c, height, width = self.image_shape
        mean_logits = h[:, : c * height * width]  # gaussian-learned: the first C channels are the mean
        return (1.0 / (1.0 + np.exp(-mean_logits))).reshape(-1, c, height, width)  # sigmoid


def expected_shapes(cfg: ModelConfig) -> list[tuple[int, int]]:
    """(out, in) of each decoder Linear, in order, for an MLP config."""
    sizes = [cfg.latent_dim, *reversed(cfg.hidden), PARAMS_PER_PIXEL[cfg.likelihood] * cfg.num_pixels]
    return [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def mlp_decoder_from_arrays(cfg: ModelConfig, tensors: dict[str, np.ndarray], source: str) -> MLPDecoder | None:
    if cfg.arch != "mlp":
        return None
    weights, biases = [], []
    for layer, (n_out, n_in) in enumerate(expected_shapes(cfg)):
        prefix = f"decoder.{2 * layer}"  # Sequential(Linear, ReLU, Linear, ...): Linears at even indices
        w, b = tensors.get(f"{prefix}.weight"), tensors.get(f"{prefix}.bias")
        if w is None or b is None:
            raise UserError(f"The weights in {source} do not match the config: {prefix} is missing.")
        if w.shape != (n_out, n_in) or b.shape != (n_out,):
            raise UserError(f"The weights in {source} do not match the config: {prefix} has shape "
                            f"{w.shape}, the config needs {(n_out, n_in)}.")
        if w.dtype != np.float32 or b.dtype != np.float32:
            raise UserError(f"The weights in {source} have dtype {w.dtype} for {prefix}; expected float32.")
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise UserError(f"The weights in {source} contain NaN or infinite values ({prefix}).")
        weights.append(w)
        biases.append(b)
    return MLPDecoder(tuple(weights), tuple(biases), tuple(cfg.image_shape))


def load_mlp_decoder(run_dir: str | Path) -> MLPDecoder | None:
    """The decoder of RUN_DIR as numpy arrays (None for conv models); never imports torch."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if config.model.arch != "mlp":
        return None
    check_model(config.model)
    check_weights_file(config.model, (run_dir / WEIGHTS).stat().st_size, str(run_dir / WEIGHTS))
    try:
        tensors = st_load_numpy((run_dir / WEIGHTS).read_bytes())
    except Exception as err:  # any malformation of the file
        raise UserError(f"{run_dir / WEIGHTS} is not a valid safetensors file ({str(err).splitlines()[0]}).") from None
    return mlp_decoder_from_arrays(config.model, tensors, str(run_dir / WEIGHTS))
