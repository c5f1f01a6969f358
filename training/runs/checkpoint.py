"""A run folder's tensors: weights and the resume state, written atomically, loaded with validation,
never pickle. The folder's layout, names and reads are in training/runs/layout.py (no torch); this is the
half that needs torch, for this library's own runs (opening any model folder, ONNX and adapter included, is
``training.models.open.load_run``):

    RUN_DIR/model.safetensors        weights only (what the explorer loads and users share)
    RUN_DIR/checkpoint.safetensors   the resume state: weights, optimizer state, RNG states,
                                     with epoch and history in its metadata

Every file is written to a temporary file in the same folder and renamed over the old one, so a
process killed at any moment leaves the previous complete file. ``checkpoint.safetensors`` alone
is enough to resume; the weights, history and config files are views of it, rewritten from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from training.core import costs
from training.core.config import RunConfig
from training.core.errors import Phrase, UserError, sentence
from training.runs import snapshots
from training.runs.background import BackgroundWriter
from training.runs.layout import CHECKPOINT, CONFIG, HISTORY, WEIGHTS, atomic_write, read_bounded, read_run_config
from training.vae.model import VAE

MAX_WEIGHTS_BYTES = 2 * 1024**3


def _state_dict_cpu(module: torch.nn.Module, copy: bool = False) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=copy).contiguous() for k, v in module.state_dict().items()}


def weights_bytes(model: VAE | dict[str, torch.Tensor], epoch: int) -> bytes:
    """model.safetensors content: the weights (a model, or its state dict on the cpu), with the epoch in the
    metadata."""
    weights = model if isinstance(model, dict) else _state_dict_cpu(model)
    return st_save(weights, metadata={"format": "vae-explorer/weights", "epoch": str(epoch)})


def history_text(history: list[dict]) -> str:
    return "".join(json.dumps(rec) + "\n" for rec in history)


@dataclass
class TrainingState:
    """What a checkpoint holds of the model and optimizer, as tensors on the cpu (copies, with ``capture(...,
    copy=True)``: written on another thread while the training goes on)."""

    tensors: dict[str, torch.Tensor]          # model.*, optim.<i>.*, rng.*
    param_groups: list[dict]
    opt_scalars: dict[str, dict[str, object]]

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return {k[6:]: v for k, v in self.tensors.items() if k.startswith("model.")}


def capture(model: VAE, optimizer: torch.optim.Optimizer, rng: dict[str, torch.Tensor],
            copy: bool = False) -> TrainingState:
    tensors = {f"model.{k}": v for k, v in _state_dict_cpu(model, copy).items()}
    opt = optimizer.state_dict()
    opt_scalars: dict[str, dict[str, object]] = {}
    for idx, state in opt["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value.detach().to("cpu", copy=copy).contiguous()
            else:
                opt_scalars.setdefault(str(idx), {})[key] = value
    for name, state in rng.items():
        tensors[f"rng.{name}"] = state.to("cpu", copy=copy).contiguous()
    return TrainingState(tensors, opt["param_groups"], opt_scalars)


def save_checkpoint(run_dir: Path, config: RunConfig, model: VAE, optimizer: torch.optim.Optimizer,
                    epoch: int, history: list[dict], rng: dict[str, torch.Tensor],
                    data_fingerprint: str | None = None) -> None:
    """Write the resume checkpoint first, then its views (weights, history, config). The data set's
    fingerprint goes with it, so that a resume on different data can be refused."""
    write_checkpoint(run_dir, config, capture(model, optimizer, rng), epoch, history, data_fingerprint)


def write_checkpoint(run_dir: Path, config: RunConfig, state: TrainingState, epoch: int, history: list[dict],
                     data_fingerprint: str | None = None) -> None:
    """``save_checkpoint`` from a captured STATE (on any thread)."""
    run_dir = Path(run_dir)  # never created here: a run folder removed mid-training stays removed
    metadata = {
        "format": "vae-explorer/checkpoint",
        "epoch": str(epoch),
        "config": config.model_dump_json(),
        "param_groups": json.dumps(state.param_groups),
        "optim_scalars": json.dumps(state.opt_scalars),
        "history": json.dumps(history),
    }
    if data_fingerprint is not None:
        metadata["data"] = data_fingerprint
    atomic_write(run_dir / CHECKPOINT, st_save(state.tensors, metadata=metadata))
    write_views(run_dir, config, state.weights, epoch, history)


def save_in_background(writer: BackgroundWriter, run_dir: Path, config: RunConfig, model: VAE,
                       optimizer: torch.optim.Optimizer, epoch: int, history: list[dict], rng: dict[str, torch.Tensor],
                       data_fingerprint: str | None, before_write: Callable[[], None]) -> None:
    """``save_checkpoint`` and the epoch's snapshot on WRITER's thread, from copies taken now (the training goes
    on meanwhile); ``before_write`` (the owner check) runs on that thread first."""
    state, history = capture(model, optimizer, rng, copy=True), list(history)

    def write() -> None:
        before_write()
        write_checkpoint(run_dir, config, state, epoch, history, data_fingerprint)
        snapshots.save(run_dir, config.model, state.weights, epoch, config.train.epochs)

    writer.submit(write)


def write_views(run_dir: Path, config: RunConfig, model: VAE | dict[str, torch.Tensor], epoch: int,
                history: list[dict]) -> None:
    atomic_write(run_dir / WEIGHTS, weights_bytes(model, epoch))
    atomic_write(run_dir / HISTORY, history_text(history).encode())
    atomic_write(run_dir / CONFIG, config.to_json().encode())


@dataclass
class ResumeState:
    epoch: int
    history: list[dict]
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    data_fingerprint: str | None = None  # of the data it was trained on (None: written before fingerprints)


def load_resume_state(run_dir: Path, config: RunConfig, model: VAE,
                      optimizer: torch.optim.Optimizer) -> ResumeState:
    """Restore weights, optimizer and RNG from checkpoint.safetensors into the given objects."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise UserError("{run_dir} has no {checkpoint} to resume from; start a new run instead.",
            run_dir=run_dir, checkpoint=CHECKPOINT)
    tensors, meta = _read_safetensors(path)
    try:
        saved = RunConfig.model_validate_json(meta["config"])
        epoch = int(meta["epoch"])
        param_groups = json.loads(meta["param_groups"])
        opt_scalars = json.loads(meta["optim_scalars"])
        history = json.loads(meta["history"])
        if epoch < 0 or not isinstance(history, list) or not all(
                isinstance(h, dict) and isinstance(h.get("epoch"), int) for h in history):
            raise ValueError("its epoch or history is malformed")
    except (KeyError, ValueError) as err:  # pydantic's ValidationError is a ValueError too
        raise UserError("{path} is not a checkpoint written by this project ({value}).",
            path=path, value=str(err).splitlines()[0]) from None
    if saved.model != config.model:
        raise UserError("{path} was written for a different model than {run_dir}/{config} describes.",
            path=path, run_dir=run_dir, config=CONFIG)
    _load_weights_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    try:
        state: dict[int, dict[str, object]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                state.setdefault(int(idx), {})[name] = value
        for idx, scalars in opt_scalars.items():
            state.setdefault(int(idx), {}).update(scalars)
        optimizer.load_state_dict({"state": state, "param_groups": param_groups})
        _check_optimizer_state(optimizer)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError("{path} is not a checkpoint written by this project (its optimizer state: {first}).",
            path=path, first=first) from None
    rng = {k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}
    fingerprint = meta.get("data")
    return ResumeState(epoch=epoch, history=[h for h in history if h["epoch"] <= epoch], rng=rng,
                       data_fingerprint=fingerprint if isinstance(fingerprint, str) else None)


def _check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Each loaded per-parameter tensor (Adam's moments) must match its parameter's shape."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for name, value in optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and value.dim() > 0 and value.shape != param.shape:
                    raise ValueError(f"{name} has shape {tuple(value.shape)}, the parameter {tuple(param.shape)}")


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    data = read_bounded(path, MAX_WEIGHTS_BYTES, "a weights file")  # a regular file, not a link; bounded
    return read_safetensors_bytes(data, path.name)


def read_safetensors_bytes(data: bytes, name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Parse a safetensors blob (never pickle); any malformation becomes one UserError."""
    if len(data) < 8:
        raise UserError("{name} is not a safetensors file (it is only {data} bytes).",
            name=name, data=len(data))
    header_len = int.from_bytes(data[:8], "little")
    if header_len > min(len(data) - 8, 100_000_000):
        raise UserError("{name} is not a valid safetensors file (its header claims {header_len:,} bytes).",
            name=name, header_len=header_len)
    try:
        meta = json.loads(data[8:8 + header_len]).get("__metadata__") or {}
        tensors = st_load(data)
    except Exception as err:  # safetensors raises its own error types for every malformation
        raise UserError("{name} is not a valid safetensors file ({value}).",
            name=name, value=str(err).splitlines()[0]) from None
    return tensors, meta


def _load_weights_into(model: VAE, weights: dict[str, torch.Tensor], source: object) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        what = f"lacks {missing[0]}" if missing else f"has an unexpected tensor {extra[0]}"
        raise UserError("The weights in {source} do not match the config: the file {what}.",
            source=source, what=what)
    for name, ref in expected.items():
        got = weights[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise UserError(
                "The weights in {source} do not match the config: {name} has shape {shape}, the config "
                    "needs {shape_2}.",
                    source=source, name=name, shape=tuple(got.shape), shape_2=tuple(ref.shape)
            )
        if got.dtype != ref.dtype:
            raise UserError("The weights in {source} have dtype {dtype} for {name}; expected {dtype_2}.",
                source=source, dtype=got.dtype, name=name, dtype_2=ref.dtype)
        if not torch.isfinite(got).all():
            raise UserError("The weights in {source} contain NaN or infinite values ({name}).",
                source=source, name=name)
    model.load_state_dict(weights)


def load_model_from_bytes(config_text: str | bytes, weights: bytes, source: str = "upload") -> tuple[RunConfig, VAE]:
    """Validate a config, build its model, and load safetensors weights into it."""
    config_name, file_name, weights_name = _names(source)
    config = RunConfig.from_json(config_text, source=config_name)
    costs.check_model(config.model)
    costs.check_weights_file(config.model, len(weights), file_name)
    tensors, _ = read_safetensors_bytes(weights, weights_name)
    model = VAE(config.model)
    _load_weights_into(model, tensors, weights_name)
    return config, model.eval()


UPLOADED = (sentence("uploaded config"), sentence("the uploaded weights file"), sentence("uploaded weights"))


def _names(source: str) -> tuple[str, str, str]:
    """How sentences name the config, the weights file and the weights of SOURCE (an upload: in words the
    app translates)."""
    if source == "uploaded":
        return tuple(Phrase(name) for name in UPLOADED)
    return f"{source} config", f"the {source} weights file", f"{source} weights"


def load_native(run_dir: Path, device: str | torch.device = "cpu") -> tuple[RunConfig, VAE]:
    """The config and the model (eval mode, on DEVICE) of RUN_DIR, a run of this library (config.json +
    model.safetensors), with full validation: the config's cost and the file's size before anything is read."""
    run_dir = Path(run_dir)
    for name in (CONFIG, WEIGHTS):
        if not (run_dir / name).is_file():
            raise UserError("{run_dir} is not a run folder: it has no {name}.",
                run_dir=run_dir, name=name)
    config = read_run_config(run_dir)
    costs.check_model(config.model)  # the config's cost and the file's size first: nothing built or read yet
    costs.check_weights_file(config.model, (run_dir / WEIGHTS).stat().st_size, str(run_dir / WEIGHTS))
    tensors, _ = _read_safetensors(run_dir / WEIGHTS)
    model = VAE(config.model)
    _load_weights_into(model, tensors, run_dir / WEIGHTS)
    return config, model.to(device).eval()
