"""Saving an uploaded run (config.json + model.safetensors) after validating every byte of it.

Nothing is written unless the whole upload is valid: the name is checked, the config parsed,
the model built and the weights loaded into it (safetensors only, never pickle) first. The run is
then assembled in a hidden temporary folder and renamed into place in one step.
"""

from __future__ import annotations

from pathlib import Path

from training.checkpoint import load_model_from_bytes, weights_bytes
from training.run_folder import CONFIG, HISTORY, WEIGHTS, publish_run, run_path
from training.errors import UserError

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
        raise UserError("A run named {name!r} already exists in {folder}; choose another name.", name=name,
                        folder=target.parent)
    config, model = load_model_from_bytes(config_bytes, weights, source="uploaded")
    if config.train.dataset.startswith("folder:"):  # else opening it would make the server read that folder
        raise UserError("Uploaded runs must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders (train such a model on the Train page instead).")
    publish_run(target, {CONFIG: config.to_json().encode(),
                         WEIGHTS: weights_bytes(model, epoch=0),  # re-serialised: only what was validated
                         HISTORY: b""})
    return target
