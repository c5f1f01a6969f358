"""Validated configuration of a run: the model (what is built) and the training (how it learns).

A run folder's ``config.json`` is exactly ``RunConfig.model_dump_json()``. Loading goes through
``RunConfig.from_json`` which checks types, ranges and known keys before any model is built, and
turns every problem into one ``UserError`` sentence.
"""

from __future__ import annotations

import json
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from training.core.errors import UserError, bound_phrase

FORMAT = "vae-explorer/run"
FORMAT_VERSION = 1

Arch = Literal["mlp", "conv"]
Likelihood = Literal["bernoulli", "gaussian", "gaussian-learned"]
LrSchedule = Literal["wsd", "cosine", "constant"]
DecoderStart = Literal["mean", "random"]
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
LR_SCHEDULES: tuple[str, ...] = get_args(LrSchedule)
DECODER_STARTS: tuple[str, ...] = get_args(DecoderStart)
# Decoder outputs per pixel and channel for each likelihood: a mean (Bernoulli, Gaussian with a fixed sigma~),
# or a mean and a sigma~ (learned). training/vae/likelihoods.py implements them; costs and decoders read this.
PARAMS_PER_PIXEL: dict[str, int] = {"bernoulli": 1, "gaussian": 1, "gaussian-learned": 2}
ARCHS: tuple[str, ...] = get_args(Arch)

# Bounds on everything a user sets (CLI, app and uploaded configs alike).
MAX_LATENT_DIM = 512
MAX_HIDDEN_WIDTH = 8192
MAX_HIDDEN_LAYERS = 8
MAX_IMAGE_SIDE = 256
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 65_536


# What a run saved before a training setting existed did: a config.json without "lr_schedule" was trained at a
# constant learning rate from PyTorch's initialisation, and resumes (or trains again) so.
SETTINGS_BEFORE_THEY_EXISTED = {"lr_schedule": "constant", "decoder_start": "random"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ModelConfig(_Strict):
    """What the network is: enough to rebuild it and load its weights."""

    image_shape: tuple[int, int, int] = Field((1, 28, 28), title="Image size", description="(C, H, W) of the data")
    arch: Arch = Field("mlp", title="Architecture", description="the network: mlp or conv")
    latent_dim: int = Field(16, ge=1, le=MAX_LATENT_DIM, title="Latent dimensions",
                            description="dimensions of z")
    hidden: tuple[int, ...] = Field(
        (400,), title="Hidden sizes", description="MLP: hidden widths (encoder order); conv: channels per stride-2 layer"
    )
    likelihood: Likelihood = Field("bernoulli", title="Likelihood", description="the decoder's q(x|z)")
    sigma: float = Field(0.1, gt=0.0, le=100.0, title="Decoder σ̃ (pixel noise)",
                         description="the constant σ̃ of the gaussian decoder, the noise of every pixel (E6)")
    min_sigma: float = Field(
        0.01, gt=0.0, le=1.0, title="Smallest learned σ̃",
        description="lower bound on the learned σ̃ for 'gaussian-learned' (E5)"
    )

    @field_validator("image_shape")
    @classmethod
    def _check_image_shape(cls, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c, h, w = shape
        if c not in (1, 3):
            raise UserError("images must have 1 or 3 channels, not {c}", c=c)
        if not (4 <= h <= MAX_IMAGE_SIDE and 4 <= w <= MAX_IMAGE_SIDE):
            raise UserError("image sides must be between 4 and {most} pixels, not {h}x{w}", most=MAX_IMAGE_SIDE, h=h, w=w)
        return shape

    @field_validator("hidden")
    @classmethod
    def _check_hidden(cls, hidden: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS:
            raise UserError("give between 1 and {most} hidden sizes, not {n}", most=MAX_HIDDEN_LAYERS, n=len(hidden))
        if any(not 1 <= h <= MAX_HIDDEN_WIDTH for h in hidden):
            raise UserError("hidden sizes must be between 1 and {most}", most=MAX_HIDDEN_WIDTH)
        return hidden

    @model_validator(mode="after")
    def _check_conv_fits(self) -> "ModelConfig":
        if self.arch == "conv":
            _, h, w = self.image_shape
            factor = 2 ** len(self.hidden)
            if h % factor or w % factor:
                raise UserError("A conv model with {layers} stride-2 layers needs image sides divisible by {factor}, "
                                "but the images are {h}x{w}; give fewer hidden sizes.",
                                layers=len(self.hidden), factor=factor, h=h, w=w)
        return self

    @property
    def num_pixels(self) -> int:
        c, h, w = self.image_shape
        return c * h * w


# The data sets by name (training/data/registry.py loads them; kept here, torch-free, for the command line's help).
DATASET_NAMES: tuple[str, ...] = ("mnist5k", "digits", "shapes", "mnist", "fashion-mnist", "kmnist", "cifar10")
FOLDER_PREFIX = "folder:"  # a data set named "folder:PATH" is the images of that folder (training/data/folder.py)
# How many images a shapes set may have (training/data/shapes.py): at most dSprites' own, 3 x 6 x 40 x 32 x 32.
SHAPES_SIZE_RANGE = (10, 737_280)
SHAPES_DEFAULT_SIZE = 10_000  # when none is asked for: 8,000 train / 2,000 test


class TrainConfig(_Strict):
    """How the model is trained: objective options (E1/E7 with beta) and the optimiser."""

    dataset: str = Field("mnist5k", title="Data set")
    dataset_size: int | None = Field(
        None, ge=SHAPES_SIZE_RANGE[0], le=SHAPES_SIZE_RANGE[1], title="Number of images",
        description="shapes only: how many images to generate (default 10,000), one in five for the test split")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, title="Epochs", description="epochs to train")
    batch_size: int = Field(128, ge=1, le=MAX_BATCH_SIZE, title="Batch size", description="images per step")
    lr: float = Field(5e-3, gt=0.0, le=10.0, title="Learning rate", description="Adam's learning rate")
    lr_schedule: LrSchedule = Field(
        "wsd", title="Learning-rate schedule",
        description="wsd: warm up linearly over the first 5% of the steps to the learning rate, hold it, then "
                    "decay it linearly towards 0 over the last 30%; cosine: the same warm-up, then a cosine decay "
                    "towards 0; constant: the learning rate at every step")
    decoder_start: DecoderStart = Field(
        "mean", title="Decoder's starting output",
        description="mean: the untrained decoder's output starts at the training images' mean image (the bias of "
                    "its last layer); random: PyTorch's default initialisation")
    beta: float = Field(1.0, ge=0.0, le=1000.0, title="β (weight of the KL term)",
                      description="the weight β of the KL term in the loss (E1)")
    warmup_epochs: float = Field(0.0, ge=0.0, le=MAX_EPOCHS, title="Warm-up epochs",
                                 description="Raise β linearly from 0 over this many epochs (0 = off).")
    cycles: int = Field(0, ge=0, le=1000, title="Cyclical annealing cycles",
                        description="Repeat a 0-to-β ramp this many times (0 = off); not together with warm-up.")
    free_bits: float = Field(0.0, ge=0.0, le=100.0, title="Free bits (nats per dimension)",
                             description="per-dimension KL floor in nats")
    samples: int = Field(1, ge=1, le=1000, title="Samples of z per image",
                         description="z samples per x in training (E7 uses 1)")
    binarize: bool = Field(False, title="Binarise the images",
                           description="draw binary images from the grey levels at every step")
    seed: int = Field(0, ge=0, le=2**63 - 1, title="Seed", description="random seed")

    @field_validator("dataset")
    @classmethod
    def _check_dataset(cls, name: str) -> str:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError("the data set's folder path is not valid UTF-8 text; rename the folder") from None
        if not 1 <= len(name) <= 4096:
            raise UserError("the data set's name must be 1 to 4096 characters")
        return name

    @model_validator(mode="after")
    def _check_dataset_size(self) -> "TrainConfig":
        if self.dataset_size is not None and self.dataset.strip().lower() != "shapes":
            raise UserError("Only the shapes data set takes a size; {name} comes with its own number of images.",
                            name=self.dataset)
        return self

    @model_validator(mode="after")
    def _check_schedule(self) -> "TrainConfig":
        if self.cycles and self.warmup_epochs:
            raise UserError("Choose either a linear warm-up or cyclical annealing, not both.")
        return self


class RunConfig(_Strict):
    """Everything ``config.json`` holds."""

    format: Literal["vae-explorer/run"] = FORMAT
    version: Literal[1] = FORMAT_VERSION
    model: ModelConfig
    train: TrainConfig

    @model_validator(mode="after")
    def _check_binarize(self) -> "RunConfig":
        if self.train.binarize and self.model.likelihood != "bernoulli":
            raise UserError("Binarised images only make sense with the bernoulli likelihood.")
        return self

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "config") -> "RunConfig":
        """Parse and validate; any problem becomes one UserError sentence."""
        if len(text) > 1_000_000:
            raise UserError("The {source} is {text:,} bytes; a run config is a few hundred bytes.",
                source=source, text=len(text))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:  # our words: Python's own ("Expecting property name ...") are not
            raise UserError("The {source} is not valid JSON (its first error is at line {line}, column {column}).",
                source=source, line=err.lineno, column=err.colno) from None
        except UnicodeDecodeError as err:
            raise UserError("The {source} is not valid JSON: byte {start} is not UTF-8 text.",
                source=source, start=err.start) from None
        except RecursionError:
            raise UserError("The {source} is not valid JSON: its brackets nest too deeply.",
                source=source) from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: object, source: str = "config") -> "RunConfig":
        if isinstance(data, dict) and isinstance(data.get("train"), dict):  # written before a setting existed
            data = {**data, "train": {**SETTINGS_BEFORE_THEY_EXISTED, **data["train"]}}
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise UserError("The {source} is invalid: {err}.",
                source=source, err=describe_validation_error(err)) from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def describe_validation_error(err: ValidationError) -> "UserError":
    """The first problem pydantic found, as a phrase (a UserError to nest in a sentence): 'model.latent_dim
    = 0: it must be at least 1'."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "value"
    if first["type"] == "missing":
        return UserError("{where} is missing", where=where)
    if first["type"] == "extra_forbidden":
        return UserError("{where} is not a known setting", where=where)
    value = first.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = len(err.errors()) - 1
    inner = (first.get("ctx") or {}).get("error")
    why = bound_phrase(first) or (inner if isinstance(inner, UserError) else first["msg"].removeprefix("Value error, "))
    if more:
        return UserError("{where} = {shown}: {why} (and {more} more)", where=where, shown=shown, why=why, more=more)
    return UserError("{where} = {shown}: {why}", where=where, shown=shown, why=why)