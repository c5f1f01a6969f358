"""Your own model class in the explorer and in ``evaluate``: a factory in your own Python code.

    streamlit run explorer/app.py -- --model mypackage.vae:make      (or VAE_EXPLORER_MODEL=mypackage.vae:make)
    python -m training evaluate --model mypackage.vae:make

``make()`` returns an object with ``encode(x) -> (mu, logvar)`` (x: float32 (B, C, H, W) in [0, 1], torch
tensor; mu and logvar (B, Z), torch tensors or numpy arrays) and ``decode(z) -> image`` (z (B, Z) -> the
decoder's mean image (B, C, H, W) in [0, 1]), and says its image shape: an attribute ``image_shape``
(C, H, W), or ``dataset`` naming a data set of this library (its images' shape is then used). Optional:
``dataset`` (the test images of the map and of evaluate), ``likelihood`` ("bernoulli" or "gaussian") and
``sigma``.

THIS RUNS THAT CODE, with the rights of whoever started the app or the command: it is for the person who
runs the app on their own model. Only the spec given on that person's command line (or environment) is
ever imported: a folder's adapter.json naming any other spec is refused, so no file in a runs folder can
make the app import anything. The model appears in the model picker as a folder under the cache folder
($VAE_EXPLORER_CACHE/adapters/NAME, holding only adapter.json).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path

import numpy as np
import torch

from training.core.config import ModelConfig, RunConfig
from training.core.environment import ADAPTER_ENV, cache_root
from training.core.errors import Phrase, UserError
from training.core.files import atomic_write
from training.data.registry import native_shape
from training.models.base import NO_DATASET, Run
from training.models.onnx_runtime import ForeignModel
from training.runs.layout import ADAPTER_FILE, read_bounded

ENV = ADAPTER_ENV
SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_TRUSTED: set[str] = set()


def check_spec(spec: str) -> str:
    spec = (spec or "").strip()
    if not SPEC.match(spec):
        raise UserError("A model is named as package.module:factory, like mypackage.vae:make, not {spec!r}.", spec=spec)
    return spec


def trust(spec: str) -> str:
    """Allow SPEC to be imported in this process (the command line or the environment named it)."""
    spec = check_spec(spec)
    _TRUSTED.add(spec)
    return spec


def folder_for(spec: str, cache: str | Path | None = None) -> Path:
    """The picker's folder for SPEC (only adapter.json in it), written if missing, and only once the model was
    made and checked (``checked_config``): a spec that fails leaves nothing behind."""
    spec = trust(spec)
    checked_config(spec)
    folder = (Path(cache).expanduser() if cache else cache_root()) / "adapters" / re.sub(r"[^\w.-]", "-", spec)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ADAPTER_FILE
    text = json.dumps({"spec": spec}) + "\n"
    if not path.is_file() or read_bounded(path, 4096, "an adapter file", follow_links=True) != text.encode("utf-8"):
        atomic_write(path, text.encode("utf-8"), durable=False)  # two servers may write it at once
    return folder


def spec_of(folder: str | Path) -> str:
    path = Path(folder) / ADAPTER_FILE
    try:
        spec = json.loads(read_bounded(path, 4096, Phrase("an adapter file"))).get("spec")
    except (ValueError, AttributeError):
        spec = None
    if not isinstance(spec, str) or check_spec(spec) not in _TRUSTED:
        raise UserError("{path} names a model that was not given on this app's command line; it is not imported.",
                        path=path)
    return spec


@functools.lru_cache(maxsize=8)
def instance(spec: str):
    """The object the factory returns (made once per process)."""
    if spec not in _TRUSTED:
        raise UserError("The model {spec} was not given on the command line; it is not imported.", spec=spec)
    module_name, attr = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise UserError("{spec} cannot be imported: {why}", spec=spec, why=str(err).rstrip(".") + ".") from None
    except (Exception, SystemExit) as err:  # its module's own code failed (or exited) while importing
        raise _failed(spec, "importing it", err) from None
    try:
        obj = factory()
    except (Exception, SystemExit) as err:  # one's own code: any failure, sys.exit() included, is one sentence
        raise _failed(spec, f"{spec}()", err) from None
    if not (callable(getattr(obj, "encode", None)) and callable(getattr(obj, "decode", None))):
        raise UserError("{spec}() must return an object with encode(x) and decode(z).", spec=spec)
    return obj


def _image_shape(obj, spec: str) -> tuple[int, int, int]:
    shape = getattr(obj, "image_shape", None)
    if shape is None and getattr(obj, "dataset", None):
        shape = native_shape(obj.dataset)
    if shape is None or len(tuple(shape)) != 3:
        raise UserError("{spec}() must say its image shape: an attribute image_shape (C, H, W), or dataset.", spec=spec)
    return tuple(int(v) for v in shape)


def _failed(spec: str, what: str, err: BaseException) -> UserError:
    """The sentence for one's own code that raised ERR (or exited) while doing WHAT."""
    if isinstance(err, SystemExit):
        return UserError("The model {spec} tried to end the program while {what} ran; its factory must return "
                         "the model.", spec=spec, what=what)
    why = (str(err).splitlines() or [""])[0][:200]
    return UserError("The model {spec} failed: {what} raised {kind} ({why}).", spec=spec, what=what,
                     kind=type(err).__name__, why=why or "no message")


def config_of(folder: str | Path, dataset: str | None = None) -> RunConfig:
    return checked_config(spec_of(folder), dataset)


@functools.lru_cache(maxsize=8)
def checked_config(spec: str, dataset: str | None = None) -> RunConfig:
    """The config of SPEC's model, made and checked: its image shape said, one image encoded (once per process,
    as the model is made once: the app asks on every rerun)."""
    obj = instance(spec)
    image = _image_shape(obj, spec)
    try:
        encoded = obj.encode(torch.zeros(1, *image))
    except (Exception, SystemExit) as err:
        raise _failed(spec, "encode(x)", err) from None
    mu, _ = _as_tensors(encoded, spec)
    model = ModelConfig(image_shape=image, latent_dim=int(mu.shape[-1]), arch="mlp", hidden=(1,),
                        likelihood=getattr(obj, "likelihood", "bernoulli"), sigma=float(getattr(obj, "sigma", 0.1)))
    return RunConfig(model=model, train={"dataset": dataset or getattr(obj, "dataset", None) or NO_DATASET,
                                         "epochs": 1})


def _as_tensors(pair, spec: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        mu, logvar = (torch.as_tensor(np.asarray(v.detach().cpu() if torch.is_tensor(v) else v), dtype=torch.float32)
                      for v in pair)
    except (TypeError, ValueError):
        raise UserError("{spec}: encode(x) must return (mu, logvar).", spec=spec) from None
    return mu, logvar


class AdapterVAE(ForeignModel):
    """The object, with the methods the library's pages and estimators use (as ``OnnxVAE``)."""

    def __init__(self, cfg: ModelConfig, spec: str):
        super().__init__(cfg)
        self.spec, self.obj = spec, instance(spec)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _as_tensors(self.obj.encode(x.float()), self.spec)

    @torch.no_grad()
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        out = self.obj.decode(z.reshape(-1, z.shape[-1]).float())
        image = torch.as_tensor(np.asarray(out.detach().cpu() if torch.is_tensor(out) else out), dtype=torch.float32)
        return image.clamp(0.0, 1.0).reshape(*lead, *self.cfg.image_shape)


def load_folder(folder: str | Path, dataset: str | None = None) -> Run:
    """FOLDER (only adapter.json) as a ``Run`` of its trusted spec's model; DATASET overrides the model's own."""
    config = config_of(folder, dataset)
    return Run(Path(folder), config, AdapterVAE(config.model, spec_of(folder)).eval(), [])
