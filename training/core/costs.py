"""What a model costs, computed from its config alone, before anything is built, read or allocated.

Parameters and weight bytes are exact (the layer plan of ``training/core/layers.py``, counted; a test checks the
count against torch for every architecture). Memory is an estimate from the layers' output sizes:

    training step  = 6 x the weights (weights, gradients, Adam's two moments, Adam's and the
                       initialisation's temporaries)
                     + 3 x batch x (input + every layer's output, kept for backward, with the
                       decoder's and the loss's run once per z sample) x 4 bytes (the saved
                       activations, their gradients, and the backward's temporaries)

                   Checked (tests/test_costs.py) to cover the weights, gradients, Adam's moments and
                   every tensor autograd saves on a real forward pass, and to stay within 6x of
                   that; the peak RSS of real steps measured 0.34x .. 1.35x the estimate (RSS
                   of the same conv step varied 237-531 MB between runs).
    model pass     = images x (the largest layer input + output) x 4 bytes, without gradients

Limits (an operator raises them with environment variables, read by training/core/environment.py; every
check names the variable):

    VAE_EXPLORER_MAX_WEIGHTS_MB   the model's weights       default 1024 MB
    VAE_EXPLORER_MAX_STEP_MB      one training step         default 4096 MB
    VAE_EXPLORER_PASS_MB          one chunk of a model pass default 256 MB: passes over many images
                                  (evaluation, latent maps, reconstructions) go in chunks of this size
"""

from __future__ import annotations

from training.core.config import PARAMS_PER_PIXEL, ModelConfig, RunConfig
from training.core.environment import PASS_ENV, STEP_ENV, WEIGHTS_ENV, limit_mb
from training.core.errors import UserError
from training.core.layers import LayerSpec, decoder_plan, encoder_plan

FLOAT_BYTES = 4
MB = 1024**2
SAFETENSORS_HEADER_MAX = 1 * MB  # names, shapes and offsets of a few dozen tensors: a few KB in practice


def _params_per_pixel(cfg: ModelConfig) -> int:
    return PARAMS_PER_PIXEL[cfg.likelihood]


def encoder_layers(cfg: ModelConfig) -> list[LayerSpec]:
    return encoder_plan(cfg)


def decoder_layers(cfg: ModelConfig) -> list[LayerSpec]:
    return decoder_plan(cfg, _params_per_pixel(cfg))


def parameter_count(cfg: ModelConfig) -> int:
    return sum(layer.parameters for layer in (*encoder_layers(cfg), *decoder_layers(cfg)))


def weight_bytes(cfg: ModelConfig) -> int:
    """float32 bytes of the weights: the tensor data of ``model.safetensors`` (its header comes on top)."""
    return parameter_count(cfg) * FLOAT_BYTES


def _kept(layers: list[LayerSpec]) -> int:
    """Floats autograd keeps per image: one tensor per layer (a ReLU keeps its output, which is also
    the next layer's saved input, so the pair counts once)."""
    return sum(layer.outputs for layer in layers)


def step_bytes(config: RunConfig) -> int:
    """Estimated peak memory of one training step (see the module's docstring)."""
    m, samples = config.model, config.train.samples
    pixels = m.num_pixels
    per_image = pixels + _kept(encoder_layers(m)) + samples * (m.latent_dim * 3 + _kept(decoder_layers(m))
                                                               + 3 * _params_per_pixel(m) * pixels)
    return 6 * weight_bytes(m) + 3 * config.train.batch_size * per_image * FLOAT_BYTES


def pass_bytes_per_image(cfg: ModelConfig) -> int:
    """Peak floats of a forward pass without gradients, per image: the largest layer's input + output."""
    widest = max(layer.inputs + layer.outputs for layer in (*encoder_layers(cfg), *decoder_layers(cfg)))
    return widest * FLOAT_BYTES


def images_per_chunk(cfg: ModelConfig, most: int = 1000) -> int:
    """How many images one chunk of a model pass may hold within VAE_EXPLORER_PASS_MB (at least 1)."""
    return max(1, min(most, limit_mb(PASS_ENV) * MB // pass_bytes_per_image(cfg)))


def _size(n_bytes: float) -> str:
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:,.1f} GB"
    return f"{n_bytes / MB:,.0f} MB" if n_bytes >= MB else f"{n_bytes / 1024:,.0f} KB"


def _count(n: int) -> str:
    for unit, size in (("billion", 10**9), ("million", 10**6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,}"


def check_model(cfg: ModelConfig) -> None:
    """Refuse a model whose weights alone pass the limit, before it is built or its file read."""
    limit = limit_mb(WEIGHTS_ENV)
    need = weight_bytes(cfg)
    if need > limit * MB:
        raise UserError("This model would have {cfg} parameters ({need} of weights), more than the {value} "
            "allowed here: choose smaller hidden sizes, fewer latent dimensions or smaller images "
            "(an operator can raise {weights_env}).",
            cfg=_count(parameter_count(cfg)), need=_size(need), value=_size(limit * MB), weights_env=WEIGHTS_ENV)


def check_training(config: RunConfig) -> None:
    """Refuse a training whose model or whose step would pass the limits, before anything is allocated."""
    check_model(config.model)
    limit = limit_mb(STEP_ENV)
    need = step_bytes(config)
    if need > limit * MB:
        raise UserError("One training step of this model would need about {need} of memory (batch of "
            "{batch_size}, {samples} z sample(s) per image), more than the {value} allowed here: "
            "choose a smaller batch size, smaller hidden sizes or smaller images (an operator can "
            "raise {step_env}).",
            need=_size(need), batch_size=config.train.batch_size, samples=config.train.samples, value=_size(limit * MB), step_env=STEP_ENV)


def check_weights_file(cfg: ModelConfig, size: int, name: str) -> None:
    """A weights file's size must fit the config's weights before a byte of it is read."""
    need = weight_bytes(cfg)
    if not need <= size <= need + SAFETENSORS_HEADER_MAX:
        raise UserError("{name} does not match the config: it is {size:,} bytes, the config describes {need:,} bytes "
                        "of weights.", name=name, size=size, need=need)
