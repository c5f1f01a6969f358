"""An ONNX model folder run by ONNX Runtime on the CPU, as a model the library's pages and estimators use
(:class:`OnnxVAE`: ``encode``, ``decode_mean`` and, for the loss, ``decode`` = logit(mu~) with the
likelihood its model.json names, Bernoulli by default, so a foreign model is scored by the same estimators
as a run); and the checks of an uploaded one. The graphs are read and checked by training/models/onnx_graph.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError

from training.core.config import FOLDER_PREFIX, ModelConfig
from training.core.errors import UserError
from training.models.base import Run
from training.models.foreign import ForeignModel
from training.models.onnx_graph import MAX_META_BYTES, OnnxMeta, config_of, graph_shapes, parse_graph, read_graph
from training.runs.layout import HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, read_history


class OnnxVAE(ForeignModel):
    """The pair, run by ONNX Runtime on the CPU, with the methods the library's pages and estimators use."""

    def __init__(self, cfg: ModelConfig, encoder_bytes: bytes, decoder_bytes: bytes):
        super().__init__(cfg)
        import onnxruntime as ort  # a second or two: only when an ONNX model is opened

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, torch.get_num_threads()))
        options.log_severity_level = 3
        try:
            self._encoder = ort.InferenceSession(encoder_bytes, options, providers=["CPUExecutionProvider"])
            self._decoder = ort.InferenceSession(decoder_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime's own refusal: an operator it lacks, a graph it cannot type
            raise UserError("ONNX Runtime cannot run this model: {why}", why=str(err).splitlines()[0][:300]) from None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E3 through the encoder graph: x (B, C, H, W) -> mu, logvar, each (B, Z)."""
        mu, logvar = self._encoder.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)})
        return torch.from_numpy(mu), torch.from_numpy(logvar)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """mu~(z) through the decoder graph, (..., C, H, W) in [0, 1]."""
        lead = z.shape[:-1]
        flat = np.ascontiguousarray(z.detach().cpu().reshape(-1, z.shape[-1]).numpy(), np.float32)
        (x_mean,) = self._decoder.run(None, {"z": flat})
        return torch.from_numpy(x_mean).reshape(*lead, *x_mean.shape[1:])


def load_folder(folder: str | Path, dataset: str | None = None) -> Run:
    """An ONNX folder as a ``Run`` (its history, if it has one; else empty); DATASET overrides its model.json's."""
    folder = Path(folder)
    config = config_of(folder, dataset)
    _, encoder_bytes = read_graph(folder / ONNX_ENCODER, "encoder")
    _, decoder_bytes = read_graph(folder / ONNX_DECODER, "decoder")
    model = OnnxVAE(config.model, encoder_bytes, decoder_bytes).eval()
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
        try:
            meta = OnnxMeta.model_validate_json(meta_bytes[:MAX_META_BYTES + 1])
        except ValidationError as err:
            first = err.errors()[0]
            raise UserError("The uploaded {name} is not a valid model description: {field} {why}.", name=ONNX_META,
                            field=".".join(str(p) for p in first["loc"]) or "it", why=first["msg"].lower()) from None
    if (meta.dataset or "").startswith(FOLDER_PREFIX):
        raise UserError("Uploaded models must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders.")
    cfg = ModelConfig(image_shape=image, latent_dim=z_dim, likelihood=meta.likelihood, sigma=meta.sigma, hidden=(1,))
    model = OnnxVAE(cfg, encoder_bytes, decoder_bytes)
    with torch.no_grad():
        mu, _ = model.encode(torch.zeros(1, *image))
        if tuple(mu.shape) != (1, z_dim) or tuple(model.decode_mean(mu).shape) != (1, *image):
            raise UserError("The uploaded model does not give the shapes its graphs declare.")
    return {ONNX_ENCODER: encoder_bytes, ONNX_DECODER: decoder_bytes,
            ONNX_META: json.dumps(meta.model_dump(), indent=2).encode() + b"\n"}
