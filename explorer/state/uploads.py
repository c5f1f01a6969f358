"""Saving an uploaded model after validating every byte of it: a run (config.json + model.safetensors, as two
files, or one .zip holding also its history, step log and snapshots) or an ONNX model (a .zip of
encoder.onnx, decoder.onnx and model.json).

Nothing is written unless the whole upload is valid: the name is checked, the config parsed,
the model built and the weights loaded into it (safetensors only, never pickle) first; a zip's history,
step log and snapshots are read by the very readers the pages use (``read_history``, ``read_steps``,
``snapshots.load`` into the model). The run is then assembled in a hidden temporary folder and renamed
into place in one step. A zip downloaded from the Models page comes back as the same run: every file
byte for byte (the weights are re-serialised from the validated tensors, with the epoch of the history's
last record, which gives the same bytes).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from training.core.config import FOLDER_PREFIX
from training.core.errors import UserError, run_exists
from training.runs import archive, snapshots
from training.runs.checkpoint import load_model_from_bytes, weights_bytes
from training.runs.layout import (CONFIG, HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, STEPS, WEIGHTS,
                                  publish_run, read_history, run_path)
from training.runs.step_log import read_steps
from training.vae.model import VAE

MAX_UPLOAD_MB = 64  # as server.maxUploadSize in explorer/.streamlit/config.toml, which guards the server itself
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024**2


def save_uploaded_run(config_bytes: bytes, weights: bytes, root: str | Path, name: str,
                      more: dict[str, bytes] | None = None) -> Path:
    """Validate the upload and save it as ROOT/NAME; returns the new run folder or raises UserError. MORE: the
    run's other files from its zip (history.jsonl, steps.csv, snapshots/...), by their path in the folder."""
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
    extra = checked_run_files(more or {}, config)
    epoch = max((rec["epoch"] for rec in read_history_bytes(extra.get(HISTORY, b""))), default=0)
    publish_run(target, {CONFIG: config.to_json().encode(),
                         WEIGHTS: weights_bytes(model, epoch=epoch),  # re-serialised: only what was validated
                         HISTORY: b"", **extra})
    return target


def checked_run_files(files: dict[str, bytes], config) -> dict[str, bytes]:
    """FILES (a run's history, step log and snapshots), each read first by the reader its pages use, in a
    scratch folder; refused with that reader's sentence."""
    with tempfile.TemporaryDirectory(prefix="vae-upload-") as scratch:
        folder = Path(scratch)
        (folder / snapshots.SNAPSHOTS).mkdir()
        for path, data in files.items():
            (folder / path).write_bytes(data)
        try:
            read_history(folder)
            read_steps(folder)
            model = VAE(config.model)
            for epoch in snapshots.kept_epochs(folder):
                try:
                    model.load_state_dict(snapshots.load(folder, config.model, epoch), strict=True)
                except RuntimeError:
                    raise UserError("The zip's snapshot of epoch {epoch} does not fit the model its config "
                                    "describes.", epoch=epoch) from None
        except UserError as err:  # the reader's sentence, naming the file as the zip does, not the scratch folder
            raise UserError(err.template, **{k: _inside(v, folder) for k, v in err.values.items()}) from None
    return {path: data for path, data in files.items() if path in (HISTORY, STEPS)
            or path.startswith(snapshots.SNAPSHOTS + "/")}


def _inside(value: object, folder: Path) -> object:
    """VALUE, or its path relative to FOLDER if it is a path inside it."""
    if isinstance(value, (str, Path)) and Path(value).is_relative_to(folder):
        return Path(value).relative_to(folder).as_posix()
    return value


def read_history_bytes(data: bytes) -> list[dict]:
    """The epoch records of a history file's bytes, already checked by ``read_history``."""
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def save_uploaded_zip(data: bytes, root: str | Path, name: str) -> Path:
    """A .zip as the Models page downloads it (a run), or an ONNX model's: read with every check of
    training/runs/archive.py, then validated like the separate files and saved as ROOT/NAME."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError("The uploaded file is {size} MB; the limit is {limit} MB.",
                        size=f"{len(data) / 1024**2:.1f}", limit=MAX_UPLOAD_MB)
    files = archive.read(data, MAX_UPLOAD_BYTES)
    if CONFIG in files and WEIGHTS in files:
        more = {path: data for path, data in files.items() if path not in (CONFIG, WEIGHTS)}
        return save_uploaded_run(files.pop(CONFIG), files.pop(WEIGHTS), root, name, more)
    if ONNX_ENCODER in files and ONNX_DECODER in files:
        from training.models.onnx_runtime import check_upload

        target = run_path(root, name)
        if target.exists():
            raise run_exists(name, target.parent)
        return publish_run(target, check_upload(files[ONNX_ENCODER], files[ONNX_DECODER], files.get(ONNX_META)))
    raise UserError("The zip holds neither a run (config.json and model.safetensors) nor an ONNX model "
                    "(encoder.onnx and decoder.onnx).")
