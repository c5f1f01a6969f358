"""Export: a run of this library written as an ONNX model folder (encoder.onnx, decoder.onnx, model.json),
which any ONNX runtime, and this library's training/models/onnx_runtime.py, can run.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import torch

from training.core.errors import UserError
from training.models.onnx_graph import OnnxMeta
from training.models.open import load_run
from training.runs.layout import ONNX_DECODER, ONNX_ENCODER, ONNX_META


class _Method(torch.nn.Module):
    """One method of the VAE as the module torch.onnx exports: encode (x -> mu, logvar) or decode_mean."""

    def __init__(self, vae, method: str):
        super().__init__()
        self.vae, self.method = vae, method

    def forward(self, x):
        return getattr(self.vae, self.method)(x)


def export_run(run_dir: str | Path, out: str | Path) -> Path:
    """Write RUN_DIR's model as encoder.onnx, decoder.onnx and model.json into OUT (a new or empty folder)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("{out} already exists and is not an empty folder; choose a new one.", out=out)
    run = load_run(run_dir)
    cfg = run.config.model
    batch = torch.export.Dim("batch", min=1, max=65536)
    tmp = out.with_name(f".{out.name}.exporting")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Method(run.model, "encode").eval(), (torch.rand(2, *cfg.image_shape),), str(tmp / ONNX_ENCODER),
                              input_names=["x"], output_names=["mu", "logvar"], dynamic_shapes=({0: batch},),
                              dynamo=True, external_data=False, verbose=False)
            torch.onnx.export(_Method(run.model, "decode_mean").eval(), (torch.randn(2, cfg.latent_dim),), str(tmp / ONNX_DECODER),
                              input_names=["z"], output_names=["x_mean"], dynamic_shapes=({0: batch},),
                              dynamo=True, external_data=False, verbose=False)
        gaussian = cfg.likelihood.startswith("gaussian")
        meta = OnnxMeta(dataset=run.config.train.dataset, dataset_size=run.config.train.dataset_size, likelihood="gaussian" if gaussian else "bernoulli",
                        sigma=cfg.sigma if gaussian else None, image_shape=cfg.image_shape,
                        latent_dim=cfg.latent_dim, decoder_output="probabilities")
        (tmp / ONNX_META).write_text(json.dumps(meta.model_dump(exclude_none=True), indent=2) + "\n", encoding="utf-8")
        for leftover in tmp.glob("*.data"):  # no external data, ever
            leftover.unlink()
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


