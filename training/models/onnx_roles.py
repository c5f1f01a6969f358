"""How a foreign ONNX pair's inputs and outputs are read, by role and not by name: ``GraphRoles``, the one
home of that mapping, resolved once (``graph_roles``) from the checked graphs (training/models/onnx_graph.py)
and model.json (``OnnxMeta``), and used by the runtime and its worker (training/models/onnx_runtime.py,
sandbox.py), the in-browser decoder (onnx_decoder.py) and, through the model, every page and ``evaluate``.

The rule (README, "Models from elsewhere"):

    encoder.onnx   one input: images, float32 (B, C, H, W) or channels-last (B, H, W, C), in [0, 1]
                   two outputs (B, Z): mu, logvar (E3: the mean and ln sigma^2), in that order unless named;
                   or three, the one named z / sample (else the one the others' names leave, else the third)
                   the sampled z, which is ignored
    decoder.onnx   one input z (B, Z); one output: the image (B, C, H, W), (B, H, W, C) or, grayscale only,
                   (B, H*W); probabilities in [0, 1], or logits (a sigmoid is then applied)

Outputs named like z_mean / mean / mu / loc and z_log_var / logvar / log_var / log_variance are read by their
names in any order; one named like a standard deviation (std, sigma, scale, log_sigma, log_std) is refused,
not converted: whether it holds sigma, ln sigma or a softplus is not in its name. The layout comes from the
shapes (C in {1, 3}, H == W); a shape that reads both ways needs model.json's "layout". A decoder gives logits
when model.json says so, probabilities when its graph ends in a Sigmoid, else it is decided on a fixed batch of
prior samples (``detect_z``): any value outside [0, 1] means logits. No torch and no onnx import here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from training.core.config import MAX_IMAGE_SIDE, MAX_LATENT_DIM
from training.core.errors import UserError
from training.runs.layout import ONNX_DECODER, ONNX_ENCODER

FORMAT = "vae-explorer/onnx"
DETECT_BATCH = 64  # prior samples (seed 0) on which a decoder's output range is looked at
NAMES = {  # an output's name, lower case, letters and digits only -> its role
    "mu": {"mu", "mean", "zmean", "zmu", "loc", "zloc", "qmean", "posteriormean"},
    "logvar": {"logvar", "zlogvar", "logvariance", "zlogvariance", "lnvar", "logsigma2", "logsigmasq"},
    "z": {"z", "sample", "zsample", "samplez", "sampledz", "zsampled", "sampling"},
    "sigma": {"std", "zstd", "stddev", "sigma", "zsigma", "scale", "zscale", "logsigma", "zlogsigma", "logstd",
              "zlogstd", "logscale"},
}


class OnnxMeta(BaseModel):
    """model.json: what the graphs do not say (all optional but the format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["vae-explorer/onnx"] = FORMAT
    version: Literal[1] = 1
    dataset: str | None = Field(None, max_length=4096)
    dataset_size: int | None = Field(None, ge=1)  # shapes only: the size its run was trained on (fit --dataset-size)
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    sigma: float | None = Field(None, gt=0.0, le=100.0)  # the Gaussian's sigma~ (E6); read for gaussian only
    image_shape: tuple[int, int, int] | None = None  # written by export; checked against the graphs
    latent_dim: int | None = None
    decoder_output: Literal["probabilities", "logits", "detect"] = "detect"
    layout: Literal["nchw", "nhwc"] | None = None  # only needed when the shapes read both ways


@dataclass(frozen=True)
class GraphRoles:
    """How a pair's inputs and outputs map onto E3's encoder and the decoder's mean: resolved once here
    (``graph_roles``), used by the runtime, its worker, the in-browser decoder and every page. A name of None
    means "the graph's first input" or "its outputs in order" (a pair built by hand)."""

    encoder_input: str | None = None
    encoder_outputs: tuple[str, str] | None = None  # (mu, logvar)
    ignored: tuple[str, ...] = ()  # outputs recognised and not used: the sampled z
    decoder_input: str | None = None
    decoder_image: str | None = None
    layout: Literal["nchw", "nhwc"] = "nchw"  # the encoder's images
    decoder_layout: Literal["nchw", "nhwc", "flat"] = "nchw"
    decoder_output: Literal["probabilities", "logits", "detect"] = "probabilities"  # "detect": not yet run

    def to_graph(self, x: np.ndarray) -> np.ndarray:
        """Images (B, C, H, W) as the encoder takes them."""
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if self.layout == "nhwc" else x, np.float32)

    def decoder_shape(self, n: int, image: tuple[int, int, int]) -> tuple[int, ...]:
        c, h, w = image
        return {"nchw": (n, c, h, w), "nhwc": (n, h, w, c), "flat": (n, c * h * w)}[self.decoder_layout]

    def from_graph(self, out: np.ndarray, image: tuple[int, int, int]) -> np.ndarray:
        """The decoder's output as images (B, C, H, W), still probabilities or logits as it gave them."""
        if self.decoder_layout == "nhwc":
            out = out.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out.reshape(len(out), *image))


def detect_output(values: np.ndarray) -> str:
    """The rule for a decoder that does not say what it gives: logits if any value lies outside [0, 1]."""
    return "logits" if float(values.min()) < -1e-6 or float(values.max()) > 1 + 1e-6 else "probabilities"


def detect_z(latent_dim: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((DETECT_BATCH, latent_dim)).astype(np.float32)


def tensor_dims(value_info) -> list[int | str | None]:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


# -- the pair, by role --------------------------------------------------------------------------------
def _name_role(name: str) -> str | None:
    keys = {re.sub(r"[^a-z0-9]", "", part.lower()) for part in [name, *re.split(r"[/:]", name)]}
    return next((role for role, names in NAMES.items() if keys & names), None)


def _io(model) -> tuple[list, list]:
    stored = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in stored], list(model.graph.output)


def _encoder_outputs(outputs, path) -> tuple[tuple[str, str], tuple[str, ...]]:
    names = [o.name for o in outputs]
    roles = [_name_role(n) for n in names]
    if len(names) not in (2, 3):
        raise UserError("The encoder in {path} has {n} outputs ({found}); it should have two, mu and logvar (in that "
                        "order, or named like z_mean and z_log_var), or three with the sampled z.", path=path,
                        n=len(names), found=", ".join(names) or "none")
    if "sigma" in roles:
        raise UserError("The encoder in {path} gives {name}, by its name a standard deviation or its log; the explorer "
                        "reads ln sigma^2: export logvar = 2 ln sigma instead.", path=path,
                        name=names[roles.index("sigma")])
    ignored = ()
    if len(names) == 3:  # the sampled z: by its name, else the one the others' names leave, else the third
        left = [i for i, r in enumerate(roles) if r not in ("mu", "logvar")]
        z = [i for i, r in enumerate(roles) if r == "z"]
        i = z[0] if len(z) == 1 else left[0] if len(left) == 1 else 2
        ignored = (names[i],)
        names, roles = names[:i] + names[i + 1:], roles[:i] + roles[i + 1:]
    if roles.count("mu") > 1 or roles.count("logvar") > 1 or "z" in roles:
        raise UserError("The encoder in {path} has the outputs {found}, which do not read as mu and logvar (in that "
                        "order, or named like z_mean and z_log_var) and perhaps the sampled z.", path=path,
                        found=", ".join(o.name for o in outputs))
    if roles[0] == "logvar" or roles[1] == "mu":
        names = names[::-1]
    return (names[0], names[1]), ignored


def _readings(dims: list) -> list[tuple[str, tuple[int, int, int]]]:
    """The ways an image shape (after the batch) reads: channels first, channels last."""
    if len(dims) != 3:
        return []
    a, b, c = dims
    return ([("nchw", (a, b, c))] if a in (1, 3) and b == c else []) + \
           ([("nhwc", (c, a, b))] if c in (1, 3) and a == b else [])


def _ends_in_sigmoid(model, output: str) -> bool:
    producers = {o: n for n in model.graph.node for o in n.output}
    node = producers.get(output)
    while node is not None and node.op_type in ("Reshape", "Transpose", "Identity", "Flatten"):
        node = producers.get(node.input[0])
    return node is not None and node.op_type == "Sigmoid"


def graph_roles(encoder, decoder, meta: OnnxMeta, path) -> tuple[GraphRoles, tuple[int, int, int], int]:
    """The roles of the pair's inputs and outputs, its image shape (C, H, W) and Z; one sentence when a layout
    fits no role or the two graphs do not fit together."""
    (x_in, enc_out), (z_in, dec_out) = _io(encoder), _io(decoder)
    found = lambda values: ", ".join(v.name for v in values) or "none"  # noqa: E731
    if len(x_in) != 1:
        raise UserError("{graph} in {path} has {n} inputs ({found}); an encoder takes one, the images.",
                        graph=ONNX_ENCODER, path=path, n=len(x_in), found=found(x_in))
    if len(z_in) != 1:
        raise UserError("{graph} in {path} has {n} inputs ({found}); a decoder takes one, z of shape (B, Z).",
                        graph=ONNX_DECODER, path=path, n=len(z_in), found=found(z_in))
    if len(dec_out) != 1:
        raise UserError("{graph} in {path} has {n} outputs ({found}); a decoder gives one, the image.",
                        graph=ONNX_DECODER, path=path, n=len(dec_out), found=found(dec_out))
    (mu, logvar), ignored = _encoder_outputs(enc_out, path)
    by_name = {o.name: tensor_dims(o) for o in enc_out}
    x_dims, z_dims, out_dims = tensor_dims(x_in[0])[1:], tensor_dims(z_in[0])[1:], tensor_dims(dec_out[0])[1:]
    readings = [r for r in _readings(x_dims) if meta.layout in (None, r[0])]
    if len(readings) != 1:
        if len(readings) == 2:
            raise UserError("The images {dims} of {path} read as channels first and as channels last alike; say "
                            "which in model.json (\"layout\": \"nchw\" or \"nhwc\").", dims=tuple(x_dims), path=path)
        raise UserError("{path} holds a model of images {image}; the explorer takes square grayscale or RGB images, "
                        "(B, C, H, W) or (B, H, W, C), up to {side} pixels.", path=path, image=tuple(x_dims),
                        side=MAX_IMAGE_SIDE)
    layout, image = readings[0]
    c, h, w = image
    z_dim = by_name[mu][-1] if len(by_name[mu]) == 2 else -1
    fits = {"nchw": [c, h, w], "nhwc": [h, w, c], "flat": [c * h * w]}
    decoder_layout = layout if out_dims == fits[layout] else next((k for k, v in fits.items() if v == out_dims), None)
    if decoder_layout == "flat" and c != 1:
        raise UserError("The decoder in {path} gives flat images of {n} values; with {c} channels their order is "
                        "not known: give (B, C, H, W) or (B, H, W, C).", path=path, n=c * h * w, c=c)
    if decoder_layout is None or by_name[logvar] != by_name[mu] or z_dims != [z_dim]:
        raise UserError("The encoder and decoder in {path} do not fit together: images {image} and z of {z} in the "
                        "encoder, z of {z_dec} and images {image_dec} in the decoder.", path=path, image=image,
                        z=by_name[mu][1:], z_dec=z_dims, image_dec=tuple(out_dims))
    if not 1 <= h <= MAX_IMAGE_SIDE or not 1 <= z_dim <= MAX_LATENT_DIM:
        raise UserError("{path} holds a model of images {image} and {z} latent dimensions; the explorer takes square "
                        "grayscale or RGB images up to {side} pixels and 1 to {most} dimensions.", path=path,
                        image=image, z=z_dim, side=MAX_IMAGE_SIDE, most=MAX_LATENT_DIM)
    sigmoid = _ends_in_sigmoid(decoder, dec_out[0].name)
    if meta.decoder_output == "logits" and sigmoid:
        raise UserError("{path}: model.json says its decoder gives logits, but the decoder ends in a Sigmoid.",
                        path=path)
    output = meta.decoder_output if meta.decoder_output != "detect" else "probabilities" if sigmoid else "detect"
    return GraphRoles(x_in[0].name, (mu, logvar), ignored, z_in[0].name, dec_out[0].name, layout, decoder_layout,
                      output), image, z_dim
