"""An ONNX model folder run by ONNX Runtime on the CPU, in a limited worker process (training/models/sandbox.py),
as a model the library's pages and estimators use (:class:`OnnxVAE`: ``encode``, ``decode_mean`` and, for the loss, ``decode`` = logit(mu~) with the
likelihood its model.json names, Bernoulli by default, so a foreign model is scored by the same estimators
as a run); and the checks of an uploaded one. The graphs are read and checked by training/models/onnx_graph.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.core.config import FOLDER_PREFIX, ModelConfig
from training.core.costs import images_per_chunk
from training.core.errors import Phrase, UserError
from training.models.base import Run
from training.models.foreign import ForeignModel
from training.models.sandbox import GraphWorker
from training.models.onnx_graph import (MAX_META_BYTES, OnnxMeta, config_of, graph_shapes, meta_of, parse_graph,
                                        read_graph)
from training.runs.layout import HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, read_history

CHECK_MOST = 256  # the largest chunk a foreign pair is checked at and then called with


class OnnxVAE(ForeignModel):
    """The pair, run by ONNX Runtime in a limited worker process (training/models/sandbox.py), with the methods
    the library's pages and estimators use. Every call goes in chunks of at most ``chunk`` images, the batch
    size the pair was checked at, so a cost that grows with the batch never grows past what the check paid;
    every output is checked for its declared shape and for finite values."""

    def __init__(self, cfg: ModelConfig, encoder_bytes: bytes, decoder_bytes: bytes):
        super().__init__(cfg)
        self._worker = GraphWorker(encoder_bytes, decoder_bytes, threads=max(1, min(4, torch.get_num_threads())))
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
        x = np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)
        z = self.cfg.latent_dim
        parts = [self._run("encoder", x[s:s + self.chunk], [(len(x[s:s + self.chunk]), z)] * 2)
                 for s in range(0, len(x), self.chunk)]
        if not parts:
            return torch.zeros(0, z), torch.zeros(0, z)
        return (torch.from_numpy(np.concatenate([p[0] for p in parts])),
                torch.from_numpy(np.concatenate([p[1] for p in parts])))

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """mu~(z) through the decoder graph, (..., C, H, W) in [0, 1]."""
        lead, image = z.shape[:-1], tuple(self.cfg.image_shape)
        flat = np.ascontiguousarray(z.detach().cpu().reshape(-1, z.shape[-1]).numpy(), np.float32)
        parts = [self._run("decoder", flat[s:s + self.chunk], [(len(flat[s:s + self.chunk]), *image)])[0]
                 for s in range(0, len(flat), self.chunk)]
        x_mean = np.concatenate(parts) if parts else np.zeros((0, *image), np.float32)
        return torch.from_numpy(x_mean).reshape(*lead, *image)

    def check(self) -> None:
        """Run the pair at a batch of 1 and at ``chunk`` (images in [0, 1], then their codes plus noise), as
        an upload and an opened folder are checked before any page uses them."""
        rng = np.random.default_rng(0)
        with torch.no_grad():
            for n in sorted({1, self.chunk}):
                mu, _ = self.encode(torch.from_numpy(rng.random((n, *self.cfg.image_shape), np.float32)))
                self.decode_mean(mu + torch.from_numpy(rng.standard_normal(mu.shape, np.float32)))


def load_folder(folder: str | Path, dataset: str | None = None) -> Run:
    """An ONNX folder as a ``Run`` (its history, if it has one; else empty); DATASET overrides its model.json's."""
    folder = Path(folder)
    config = config_of(folder, dataset)
    _, encoder_bytes = read_graph(folder / ONNX_ENCODER, "encoder")
    _, decoder_bytes = read_graph(folder / ONNX_DECODER, "decoder")
    model = OnnxVAE(config.model, encoder_bytes, decoder_bytes).eval()
    model.check()
    history = read_history(folder) if (folder / HISTORY).is_file() else []
    return Run(folder, config, model, history)


def check_upload(encoder_bytes: bytes, decoder_bytes: bytes, meta_bytes: bytes | None) -> dict[str, bytes]:
    """The files of an uploaded ONNX model, after every check a folder gets and a first run in ONNX Runtime;
    a folder: data set is refused (opening it would make the server read one of its folders)."""
    encoder = parse_graph(encoder_bytes, "encoder", "the uploaded " + ONNX_ENCODER)
    decoder = parse_graph(decoder_bytes, "decoder", "the uploaded " + ONNX_DECODER)
    image, z_dim = graph_shapes(encoder, decoder, Path("the upload"))
    meta = OnnxMeta()
    if meta_bytes is not None:
        meta = meta_of(meta_bytes[:MAX_META_BYTES + 1], Phrase("the uploaded model description"))
    if (meta.dataset or "").startswith(FOLDER_PREFIX):
        raise UserError("Uploaded models must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders.")
    cfg = ModelConfig(image_shape=image, latent_dim=z_dim, likelihood=meta.likelihood, sigma=meta.sigma, hidden=(1,))
    model = OnnxVAE(cfg, encoder_bytes, decoder_bytes)
    try:
        model.check()
    finally:
        model.close()
    return {ONNX_ENCODER: encoder_bytes, ONNX_DECODER: decoder_bytes,
            ONNX_META: json.dumps(meta.model_dump(), indent=2).encode() + b"\n"}
