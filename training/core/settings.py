"""A RunConfig from flat settings (``latent_dim=8, lr=1e-3, ...``): one builder for the command line and
the Train form, and one translator of validation errors that names the setting in its caller's words.

The config models (training/core/config.py) declare every setting once: name, type, default, bounds,
``title`` (the label people see) and ``description`` (its help). ``add_flags`` generates the command
line's flags from them (``--latent-dim``, type, choices, help with the default); the Train form takes its
labels, bounds, defaults and help from the same fields. The command line names a setting by its flag, the
form by its title ('Latent dimensions'); both hand ``build_run_config`` a ``name_of`` that says which.
Neither builds the other's objects.

Why not pydantic-settings' CLI generator: the flags are a public interface (kept exactly as they were,
with ``--resume``'s rule that untyped flags keep the run's settings, hence defaults of None, and the
one-line errors), and the form needs the same metadata as widgets, not as argv; reading ``model_fields``
here is a few lines for both, with no new dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import ValidationError

from training.core.config import FOLDER_PREFIX, ModelConfig, RunConfig, TrainConfig
from training.core.errors import UserError, bound_phrase

DEFAULT_HIDDEN = {"mlp": "400", "conv": "32,64"}
MODEL_KEYS = ("latent_dim", "likelihood", "sigma", "min_sigma")
TRAIN_KEYS = ("dataset_size", "epochs", "batch_size", "lr", "lr_schedule", "decoder_start", "beta", "warmup_epochs", "cycles",
              "free_bits", "samples", "binarize", "seed")

NameOf = Callable[[str], str]  # how a caller names a setting in its sentences: flag_name, title_of


SETTING_KEYS = ("arch", "latent_dim", "hidden", "likelihood", "sigma", "min_sigma", "beta", "warmup_epochs", "cycles",
                "free_bits", "samples", "binarize", "epochs", "batch_size", "lr", "lr_schedule", "decoder_start",
                "seed")


def field_of(key: str):
    """The config field (pydantic FieldInfo) that declares setting KEY."""
    return ModelConfig.model_fields.get(key) or TrainConfig.model_fields[key]


def add_flags(parser, extra_help: Mapping[str, str] | None = None, skip: tuple[str, ...] = ()) -> None:
    """One command-line flag per setting, generated from its field: name (--latent-dim), type, choices
    and help with the default. Their default is None, so a caller can tell what was typed. SKIP: settings
    the caller declares its own way (``sweep`` takes --beta as a list)."""
    from typing import Literal, get_args, get_origin

    for key in (k for k in SETTING_KEYS if k not in skip):
        field = field_of(key)
        if key == "hidden":
            default = f"{DEFAULT_HIDDEN['mlp']} for mlp, {DEFAULT_HIDDEN['conv']} for conv"
        else:
            default = field.default
        text = f"{field.description or field.title}; comma-separated" if key == "hidden" else \
            (field.description or field.title)
        if text[:1].isupper() and text[1:2].islower():  # a sentence in the form's help; a phrase here
            text = text[0].lower() + text[1:]
        note = f"; {extra_help[key]}" if extra_help and key in extra_help else ""
        kwargs: dict = {"help": f"{text.rstrip('.')}{note} (default {default})".replace("%", "%%")}  # argparse's %
        if field.annotation is bool:
            kwargs.update(action="store_true", default=None)
        elif get_origin(field.annotation) is Literal:
            kwargs["choices"] = get_args(field.annotation)
        elif field.annotation in (int, float):
            kwargs["type"] = field.annotation
        parser.add_argument(flag_name(key), **kwargs)


def flag_name(key: str) -> str:
    """How the command line names a setting: its flag."""
    return f"--{key.replace('_', '-')}"


def title_of(key: str) -> str:
    """How the Train form names a setting: the title declared on its field."""
    for section in (ModelConfig, TrainConfig):
        field = section.model_fields.get(key)
        if field is not None and field.title:
            return field.title
    return key.replace("_", " ")


def safe_name(name: str) -> str:
    """A data set's name as a folder-name part: its last path component, letters, digits, - and _."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.split("/")[-1])[:40] or "data"


def default_run_name(config: RunConfig, when: float | None = None) -> str:
    """The run name when none is given: data set, architecture, latent size and the time."""
    import time

    return time.strftime(f"{safe_name(config.train.dataset)}-{config.model.arch}-z{config.model.latent_dim}"
                         "-%Y%m%d-%H%M%S", time.localtime(when))


def parse_hidden(text: str, name_of: NameOf = flag_name) -> tuple[int, ...]:
    """'512,256' -> (512, 256)."""
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise UserError("{field} must be comma-separated whole numbers like 512,256, not {text!r}.",
                        field=name_of("hidden"), text=text) from None
    if not sizes:
        raise UserError("{field} needs at least one size.", field=name_of("hidden"))
    return sizes


def build_run_config(settings: Mapping[str, object], image_shape: tuple[int, int, int],
                     name_of: NameOf = flag_name) -> RunConfig:
    """The RunConfig that SETTINGS describe (None or absent: the field's default); any invalid value is
    one UserError naming the setting as ``name_of`` does."""
    arch = settings.get("arch") or "mlp"
    hidden = parse_hidden(str(settings.get("hidden") or DEFAULT_HIDDEN[arch]), name_of)
    model: dict = {"image_shape": image_shape, "arch": arch, "hidden": hidden}
    dataset = str(settings.get("dataset") or "mnist5k")
    if dataset.startswith(FOLDER_PREFIX):  # stored absolute, so the run loads from any working directory
        dataset = FOLDER_PREFIX + str(Path(dataset[len(FOLDER_PREFIX):].strip()).expanduser().resolve())
    train: dict = {"dataset": dataset}
    for keys, section in ((MODEL_KEYS, model), (TRAIN_KEYS, train)):
        for key in keys:
            if settings.get(key) is not None:
                section[key] = settings[key]
    try:
        return RunConfig(model=model, train=train)
    except ValidationError as err:
        raise setting_sentence(err, name_of) from None


def setting_sentence(err: ValidationError, name_of: NameOf = flag_name) -> UserError:
    """The first problem of a validation error as one sentence (a UserError with its template and values,
    so that the app can put it in the visitor's language), naming the setting as ``name_of`` does."""
    first = err.errors()[0]
    key = str(first["loc"][-1]) if first["loc"] else ""
    ctx = first.get("ctx") or {}
    inner = ctx.get("error")  # our validators raise UserError: its template travels inside
    if key not in ModelConfig.model_fields and key not in TrainConfig.model_fields:
        if isinstance(inner, UserError):
            return inner
        msg = first["msg"].removeprefix("Value error, ")
        return UserError("{why}.", why=msg.rstrip("."))
    value = first.get("input")
    field, shown = name_of(key), ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value
    why = bound_phrase(first) or (inner if isinstance(inner, UserError) else None)
    if why is None:
        msg = first["msg"].removeprefix("Value error, ")
        why = f"{msg[0].lower()}{msg[1:]}"
    return UserError("{field} {value} is not allowed: {why}.", field=field, value=shown, why=why)
