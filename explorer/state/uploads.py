"""Saving an uploaded model after validating every byte of it: a run (config.json + model.safetensors, as two
files or one .zip) or an ONNX model (a .zip of encoder.onnx, decoder.onnx and model.json).

Nothing is written unless the whole upload is valid: the name is checked, the config parsed,
the model built and the weights loaded into it (safetensors only, never pickle) first. The run is
then assembled in a hidden temporary folder and renamed into place in one step.
"""

from __future__ import annotations

from pathlib import Path

from training.core.config import FOLDER_PREFIX
from training.core.errors import UserError, run_exists
from training.runs import archive
from training.runs.checkpoint import load_model_from_bytes, weights_bytes
from training.runs.layout import (CONFIG, HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, WEIGHTS, publish_run,
                                  run_path)

MAX_UPLOAD_MB = 64  # as server.maxUploadSize in explorer/.streamlit/config.toml, which guards the server itself
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024**2


def save_uploaded_run(config_bytes: bytes, weights: bytes, root: str | Path, name: str) -> Path:
    """Validate the upload and save it as ROOT/NAME; returns the new run folder or raises UserError."""
    if len(weights) > MAX_UPLOAD_BYTES:
        raise UserError("The uploaded weights file is {size} MB; the limit is {limit} MB.",
                        size=f"{len(weights) / 1024**2:.1f}", limit=MAX_UPLOAD_MB)
    if len(config_bytes) > MAX_UPLOAD_BYTES:
        raise UserError("The uploaded config file is {size} MB; the limit is {limit} MB.",
                        size=f"{len(config_bytes) / 1024**2:.1f}", limit=MAX_UPLOAD_MB)
    target = run_path(root, name)
    if target.exists():
        raise run_exists(name, target.parent)
    config, model = load_model_from_bytes(config_bytes, weights, source="uploaded")
    if config.train.dataset.startswith(FOLDER_PREFIX):  # else opening it would make the server read that folder
        raise UserError("Uploaded runs must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders (train such a model on the Train page instead).")
    publish_run(target, {CONFIG: config.to_json().encode(),
                         WEIGHTS: weights_bytes(model, epoch=0),  # re-serialised: only what was validated
                         HISTORY: b""})
    return target


def save_uploaded_zip(data: bytes, root: str | Path, name: str) -> Path:
    """A .zip as the Models page downloads it (a run), or an ONNX model's: read with every check of
    training/runs/archive.py, then validated like the separate files and saved as ROOT/NAME."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError("The uploaded file is {size} MB; the limit is {limit} MB.",
                        size=f"{len(data) / 1024**2:.1f}", limit=MAX_UPLOAD_MB)
    files = archive.read(data, MAX_UPLOAD_BYTES)
    if CONFIG in files and WEIGHTS in files:
        return save_uploaded_run(files[CONFIG], files[WEIGHTS], root, name)
    if ONNX_ENCODER in files and ONNX_DECODER in files:
        from training.models.onnx_runtime import check_upload

        target = run_path(root, name)
        if target.exists():
            raise run_exists(name, target.parent)
        return publish_run(target, check_upload(files[ONNX_ENCODER], files[ONNX_DECODER], files.get(ONNX_META)))
    raise UserError("The zip holds neither a run (config.json and model.safetensors) nor an ONNX model "
                    "(encoder.onnx and decoder.onnx).")
