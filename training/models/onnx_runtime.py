"""An ONNX model folder run by ONNX Runtime on the CPU, in a limited worker process (training/models/sandbox.py),
as a model the library's pages and estimators use (:class:`OnnxVAE`: ``encode``, ``decode_mean`` and, for the
loss, ``decode`` = logit(mu~) with the likelihood its model.json names, Bernoulli by default, so a foreign model
is scored by the same estimators as a run); and the checks of an uploaded one. The graphs are read and checked
by training/models/onnx_graph.py, their inputs and outputs read by role by training/models/onnx_roles.py: here
channels-last images are transposed at the boundary and a decoder's logits go through a sigmoid, so that every
caller sees (B, C, H, W) in [0, 1]. Also :class:`ForeignModel`, what ONNX and adapter models share.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from training.core.config import FOLDER_PREFIX, ModelConfig
from training.core.costs import images_per_chunk
from training.core.errors import Phrase, UserError
from training.models.base import Run
from training.models.sandbox import GraphWorker
from training.models.onnx_graph import MAX_META_BYTES, OnnxMeta, meta_of, model_config, open_pair, parse_graph
from training.models.onnx_roles import GraphRoles, detect_output, detect_z, graph_roles
from training.runs.layout import HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, read_history
from training.vae.likelihoods import make_likelihood

CHECK_MOST = 256  # the largest chunk a foreign pair is checked at and then called with


class ForeignModel(torch.nn.Module):
    """What a model from elsewhere (ONNX graphs, one's own code) needs to stand in for the library's VAE: its
    config and likelihood, its latent size, a parameter that says its device and dtype, and ``decode`` as
    logit(mu~) so the library's estimators score it like a run. Subclasses give ``encode`` and ``decode_mean``
    (training/models/base.py has the interface)."""

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


class OnnxVAE(ForeignModel):
    """The pair, run by ONNX Runtime in a limited worker process (training/models/sandbox.py), with the methods
    the library's pages and estimators use. Every call goes in chunks of at most ``chunk`` images, the batch
    size the pair was checked at, so a cost that grows with the batch never grows past what the check paid;
    every output is checked for its declared shape and for finite values. ``roles`` (a GraphRoles) says how its
    inputs and outputs were read: ``roles.layout`` "nchw" or "nhwc", ``roles.decoder_output`` "probabilities"
    or "logits" (resolved by ``check`` when its model.json does not say and its graph does not end in a
    Sigmoid)."""

    def __init__(self, cfg: ModelConfig, encoder_bytes: bytes, decoder_bytes: bytes, roles: GraphRoles | None = None):
        super().__init__(cfg)
        self.roles = roles or GraphRoles()
        roles = self.roles
        feeds = {"encoder": roles.encoder_input, "decoder": roles.decoder_input}
        fetches = {"encoder": roles.encoder_outputs, "decoder": roles.decoder_image and [roles.decoder_image]}
        self._worker = GraphWorker(encoder_bytes, decoder_bytes, threads=max(1, min(4, torch.get_num_threads())),
                                   feeds=feeds, fetches=fetches)
        self.chunk = max(1, min(CHECK_MOST, images_per_chunk(cfg)))

    def close(self) -> None:
        """End the worker process now (it ends anyway when the model is collected)."""
        self._worker.close()

    def _run(self, graph: str, array: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        outputs = self._worker.run(graph, array)
        if [tuple(o.shape) for o in outputs] != shapes:
            raise UserError("The foreign model's {graph} gave outputs of shapes {got} for a batch of {n}, not the "
                            "{want} its graph declares.", graph=graph, got=[tuple(o.shape) for o in outputs],
                            n=len(array), want=shapes)
        if not all(np.isfinite(o).all() for o in outputs):
            raise UserError("The foreign model's {graph} gave values that are not finite numbers (NaN or "
                            "infinity) for a batch of {n}.", graph=graph, n=len(array))
        return outputs

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E3 through the encoder graph: x (B, C, H, W) -> mu, logvar, each (B, Z)."""
        x = self.roles.to_graph(x.detach().cpu().numpy())
        z = self.cfg.latent_dim
        parts = [self._run("encoder", x[s:s + self.chunk], [(len(x[s:s + self.chunk]), z)] * 2)
                 for s in range(0, len(x), self.chunk)]
        if not parts:
            return torch.zeros(0, z), torch.zeros(0, z)
        return (torch.from_numpy(np.concatenate([p[0] for p in parts])),
                torch.from_numpy(np.concatenate([p[1] for p in parts])))

    def _decode_graph(self, flat: np.ndarray) -> np.ndarray:
        """The decoder graph's own output for z (N, Z), as images (N, C, H, W): probabilities or logits."""
        image = tuple(self.cfg.image_shape)
        parts = [self.roles.from_graph(self._run("decoder", flat[s:s + self.chunk],
                                                 [self.roles.decoder_shape(len(flat[s:s + self.chunk]), image)])[0],
                                       image) for s in range(0, len(flat), self.chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, *image), np.float32)

    def _decoded(self, z: torch.Tensor) -> torch.Tensor:
        flat = np.ascontiguousarray(z.detach().cpu().reshape(-1, z.shape[-1]).numpy(), np.float32)
        return torch.from_numpy(self._decode_graph(flat)).reshape(*z.shape[:-1], *self.cfg.image_shape)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """mu~(z) through the decoder graph, (..., C, H, W) in [0, 1] (the sigmoid of a logits decoder's output)."""
        out = self._decoded(z)
        return torch.sigmoid(out) if self.roles.decoder_output == "logits" else out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """logit(mu~): a logits decoder's own output, else that of its probabilities (ForeignModel)."""
        return self._decoded(z) if self.roles.decoder_output == "logits" else super().decode(z)

    def check(self) -> None:
        """Run the pair at a batch of 1 and at ``chunk`` (images in [0, 1], then their codes plus noise), as
        an upload and an opened folder are checked before any page uses them; a decoder that does not say
        what it gives is then read on ``detect_z`` (onnx_roles.py)."""
        rng = np.random.default_rng(0)
        with torch.no_grad():
            for n in sorted({1, self.chunk}):
                mu, _ = self.encode(torch.from_numpy(rng.random((n, *self.cfg.image_shape), np.float32)))
                self._decoded(mu + torch.from_numpy(rng.standard_normal(mu.shape, np.float32)))
            if self.roles.decoder_output == "detect":
                values = self._decode_graph(detect_z(self.cfg.latent_dim))
                self.roles = replace(self.roles, decoder_output=detect_output(values))


def load_folder(folder: str | Path, dataset: str | None = None) -> Run:
    """An ONNX folder as a ``Run`` (its history, if it has one; else empty); DATASET overrides its model.json's.
    ``Run.roles`` says how its graphs were read (channels-last, logits)."""
    folder = Path(folder)
    config, roles, encoder_bytes, decoder_bytes = open_pair(folder, dataset)
    model = OnnxVAE(config.model, encoder_bytes, decoder_bytes, roles).eval()
    model.check()
    history = read_history(folder) if (folder / HISTORY).is_file() else []
    return Run(folder, config, model, history, model.roles)


def check_upload(encoder_bytes: bytes, decoder_bytes: bytes, meta_bytes: bytes | None) -> dict[str, bytes]:
    """The files of an uploaded ONNX model, after every check a folder gets and a first run in ONNX Runtime;
    a folder: data set is refused (opening it would make the server read one of its folders). The model.json
    kept says what its decoder gives, as the check found it."""
    encoder = parse_graph(encoder_bytes, "encoder", "the uploaded " + ONNX_ENCODER)
    decoder = parse_graph(decoder_bytes, "decoder", "the uploaded " + ONNX_DECODER)
    meta = OnnxMeta()
    if meta_bytes is not None:
        meta = meta_of(meta_bytes[:MAX_META_BYTES + 1], Phrase("the uploaded model description"))
    roles, image, z_dim = graph_roles(encoder, decoder, meta, Path("the upload"))
    if (meta.dataset or "").startswith(FOLDER_PREFIX):
        raise UserError("Uploaded models must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders.")
    model = OnnxVAE(model_config(meta, image, z_dim), encoder_bytes, decoder_bytes, roles)
    try:
        model.check()
    finally:
        model.close()
    meta = meta.model_copy(update={"decoder_output": model.roles.decoder_output})
    return {ONNX_ENCODER: encoder_bytes, ONNX_DECODER: decoder_bytes,
            ONNX_META: json.dumps(meta.model_dump(exclude_none=True), indent=2).encode() + b"\n"}
