"""The one place that says what kind of model a folder holds, and opens it whatever its kind.

    run      a run of this library: config.json (+ model.safetensors once trained)    training/runs/
    onnx     encoder.onnx and decoder.onnx, no config.json                            training/models/onnx_*.py
    adapter  adapter.json naming one's own model code, no config.json                 training/models/adapter.py

``model_kind`` answers the question; ``read_config``, ``weights_path``, ``load_run``, ``load_decoder`` and
``load_encoder`` dispatch on it, so that nothing below this layer knows models from elsewhere and a new kind is
one module plus a line in each of these. Importing this module and opening a run's config or its numpy decoder never
imports torch (the first image of the app is drawn before PyTorch has loaded); the modules that run a
model are imported when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.numpy import load as st_load_numpy

from training.core.config import RunConfig
from training.core.costs import check_model, check_weights_file
from training.core.errors import UserError
from training.models import onnx_decoder, onnx_graph
from training.models.base import Run
from training.runs.layout import (ADAPTER_FILE, CONFIG, ONNX_DECODER, ONNX_ENCODER, WEIGHTS, read_bounded,
                                  read_history, read_run_config)
from training.vae.array_decoder import ArrayDecoder, decoder_from_arrays
from training.vae.array_encoder import ArrayEncoder, encoder_from_arrays

RUN, ONNX, ADAPTER = "run", "onnx", "adapter"
KINDS = (RUN, ONNX, ADAPTER)


def is_onnx_folder(run_dir: str | Path) -> bool:
    """An ONNX model folder: encoder.onnx and decoder.onnx, and no config.json of a run."""
    run_dir = Path(run_dir)
    return (run_dir / ONNX_DECODER).is_file() and (run_dir / ONNX_ENCODER).is_file() and not (run_dir / CONFIG).is_file()


def is_adapter_folder(run_dir: str | Path) -> bool:
    """A model of one's own code: adapter.json, and no config.json of a run."""
    run_dir = Path(run_dir)
    return (run_dir / ADAPTER_FILE).is_file() and not (run_dir / CONFIG).is_file()


def model_kind(run_dir: str | Path) -> str:
    """ONNX, ADAPTER, or RUN: a run of this library (or a folder that is none of these yet)."""
    if is_onnx_folder(run_dir):
        return ONNX
    return ADAPTER if is_adapter_folder(run_dir) else RUN


def is_model_folder(run_dir: str | Path) -> bool:
    """Whether RUN_DIR holds a model of some kind (a run's config, ONNX graphs or an adapter file)."""
    return model_kind(run_dir) != RUN or (Path(run_dir) / CONFIG).is_file()


def weights_path(run_dir: str | Path) -> Path:
    """The file that stands for the model's weights: model.safetensors, an ONNX folder's decoder.onnx, or an
    adapter's adapter.json."""
    run_dir = Path(run_dir)
    kind = model_kind(run_dir)
    if kind == ADAPTER:
        return run_dir / ADAPTER_FILE
    return run_dir / ONNX_DECODER if kind == ONNX else run_dir / WEIGHTS


def model_files(run_dir: str | Path) -> list[Path]:
    """The files whose bytes are the model (what a cache of it is keyed by): ``weights_path``, and an ONNX
    folder's encoder.onnx too."""
    run_dir = Path(run_dir)
    return [weights_path(run_dir)] + ([run_dir / ONNX_ENCODER] if model_kind(run_dir) == ONNX else [])


def read_config(run_dir: str | Path) -> RunConfig:
    """The config a model folder stands for: a run's config.json, validated, its size checked before it is
    read; for an ONNX folder, shapes from its graphs; for an adapter, what its model says (it runs it)."""
    kind = model_kind(run_dir)
    if kind == ONNX:
        return onnx_graph.config_of(run_dir)
    if kind == ADAPTER:
        from training.models import adapter  # torch, and the user's own code

        return adapter.config_of(run_dir)
    return read_run_config(run_dir)


def load_run(run_dir: str | Path, device: str = "cpu", dataset: str | None = None) -> Run:
    """Open RUN_DIR whatever its kind, with full validation. DEVICE is where a run's model goes (models from
    elsewhere run on the CPU); DATASET, for those, overrides the data set they name."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError("There is no run folder at {run_dir}.",
            run_dir=run_dir)
    kind = model_kind(run_dir)
    if kind == ONNX:  # a model trained elsewhere, as ONNX graphs
        from training.models import onnx_runtime  # torch and ONNX Runtime

        return onnx_runtime.load_folder(run_dir, dataset)
    if kind == ADAPTER:  # one's own code, named on the command line
        from training.models import adapter

        return adapter.load_folder(run_dir, dataset)
    from training.runs.checkpoint import load_native  # torch

    config, model = load_native(run_dir, device)
    return Run(run_dir, config, model, read_history(run_dir))


def _native_tensors(run_dir: Path) -> tuple[RunConfig, dict]:
    """A native run's config and its weights as numpy arrays, sizes checked before anything is read."""
    config = read_config(run_dir)
    check_model(config.model)
    size = (run_dir / WEIGHTS).stat().st_size
    check_weights_file(config.model, size, str(run_dir / WEIGHTS))
    data = read_bounded(run_dir / WEIGHTS, size, "a weights file")  # a regular file, not a link, no more than checked
    try:
        return config, st_load_numpy(data)
    except Exception as err:  # any malformation of the file
        raise UserError("{value} is not a valid safetensors file ({value_2}).",
            value=run_dir / WEIGHTS, value_2=str(err).splitlines()[0]) from None


def load_decoder(run_dir: str | Path) -> ArrayDecoder:
    """The decoder of RUN_DIR as numpy arrays; never imports torch. Sizes are checked before reading. An ONNX
    model folder's decoder graph, when it is a network of this kind (else one sentence saying what it lacks)."""
    run_dir = Path(run_dir)
    if model_kind(run_dir) == ONNX:
        return onnx_decoder.array_decoder(run_dir)
    config, tensors = _native_tensors(run_dir)
    return decoder_from_arrays(config.model, tensors, str(run_dir / WEIGHTS))


def load_encoder(run_dir: str | Path) -> ArrayEncoder | None:
    """The encoder of RUN_DIR, a run of this library, as numpy arrays (never imports torch; sizes checked before
    reading); None for a model from elsewhere (ONNX graphs, one's own code): only the server runs its encoder."""
    run_dir = Path(run_dir)
    if model_kind(run_dir) != RUN:
        return None
    config, tensors = _native_tensors(run_dir)
    return encoder_from_arrays(config.model, tensors, str(run_dir / WEIGHTS))
