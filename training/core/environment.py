"""The one place that reads the environment: the operator's limits and the folders the library keeps.

    VAE_EXPLORER_MAX_WEIGHTS_MB   a model's weights                   default 1024 MB (training/core/costs.py)
    VAE_EXPLORER_MAX_STEP_MB      one training step                   default 4096 MB
    VAE_EXPLORER_PASS_MB          one chunk of a model pass           default 256 MB
    VAE_EXPLORER_SNAPSHOT_MB      a run's snapshots together          default 64 MB, 0 turns them off
    VAE_EXPLORER_MAX_TRAININGS    the app's trainings at once         default one per CPU core
    VAE_EXPLORER_TRAINING_NICE    the app's trainings' CPU priority   default 10 (0-19)
    VAE_EXPLORER_FOREIGN_MB       a foreign graph's worker process    default 1024 MB of address space
    VAE_EXPLORER_FOREIGN_SECONDS  one call of a foreign graph         default 30 s of CPU and of wall time
    VAE_EXPLORER_MAX_QUEUED       a served app's trainings queued or running in a runs folder, together
                                                                      default 4 x VAE_EXPLORER_MAX_TRAININGS
    VAE_EXPLORER_MAX_DATA_MB      building one data set (its peak)    default 2048 MB (training/data/budget.py)
    VAE_EXPLORER_DATA_CACHE_MB    the data sets kept built in memory  default 1024 MB, 0 keeps none
    VAE_EXPLORER_RAY_ADDRESS      trainings on Ray instead of local processes (training/jobs/ray_launcher.py)
    VAE_EXPLORER_MODEL            one's own model code for the app (training/models/adapter.py)
    VAE_EXPLORER_DATA             downloaded data sets                default ~/.cache/vae-explorer/data
    VAE_EXPLORER_CACHE            what the app derives (maps, adapters) default ~/.cache/vae-explorer
    VAE_EXPLORER_UPLOADS_PER_HOUR        a served app's uploads per visitor address an hour      default 20
    VAE_EXPLORER_UPLOAD_MB_PER_HOUR      their megabytes per visitor address an hour             default 256
    VAE_EXPLORER_FOLDER_UPLOADS_PER_HOUR a served app's uploads into one runs folder an hour     default 100
    VAE_EXPLORER_FOLDER_UPLOAD_MB_PER_HOUR their megabytes per runs folder an hour               default 1024
    VAE_EXPLORER_MIN_FREE_MB      free disk kept under a runs folder: below it uploads and trainings are refused
                                  (training/core/quota.py)           default 1024 when served, else 0

Each reader refuses a value that is not what it must be with one sentence naming the variable, when the
value is needed (never at import). No torch here.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.core.errors import UserError
from training.core.numbers import whole_number

WEIGHTS_ENV, STEP_ENV, PASS_ENV = "VAE_EXPLORER_MAX_WEIGHTS_MB", "VAE_EXPLORER_MAX_STEP_MB", "VAE_EXPLORER_PASS_MB"
DEFAULT_MB = {WEIGHTS_ENV: 1024, STEP_ENV: 4096, PASS_ENV: 256}
SNAPSHOT_ENV = "VAE_EXPLORER_SNAPSHOT_MB"
SNAPSHOT_DEFAULT_MB = 64
MAX_TRAININGS_ENV = "VAE_EXPLORER_MAX_TRAININGS"
TRAINING_NICE_ENV = "VAE_EXPLORER_TRAINING_NICE"
DEFAULT_NICE = 10
MAX_QUEUED_ENV = "VAE_EXPLORER_MAX_QUEUED"
QUEUED_PER_TRAINING = 4
MAX_DATA_ENV, DATA_CACHE_ENV = "VAE_EXPLORER_MAX_DATA_MB", "VAE_EXPLORER_DATA_CACHE_MB"
DEFAULT_DATA_MB = {MAX_DATA_ENV: 2048, DATA_CACHE_ENV: 1024}
RAY_ADDRESS_ENV = "VAE_EXPLORER_RAY_ADDRESS"
ADAPTER_ENV = "VAE_EXPLORER_MODEL"  # the environment's way to name it, beside `-- --model` on the app's command line
DATA_ENV = "VAE_EXPLORER_DATA"
FOREIGN_MB_ENV, FOREIGN_SECONDS_ENV = "VAE_EXPLORER_FOREIGN_MB", "VAE_EXPLORER_FOREIGN_SECONDS"
FOREIGN_DEFAULTS = (1024, 30)
CACHE_ENV = "VAE_EXPLORER_CACHE"


def _text(name: str) -> str:
    return os.environ.get(name, "").strip()


# -- limits ----------------------------------------------------------------------------------------
def limit_mb(name: str) -> int:
    """One of the memory limits (WEIGHTS_ENV, STEP_ENV, PASS_ENV) in megabytes."""
    text = _text(name)
    if not text:
        return DEFAULT_MB[name]
    value = whole_number(text)
    if value is None or value < 1:
        raise UserError("{name} must be a whole number of megabytes, at least 1, not {text!r}.",
            name=name, text=text)
    return value


def snapshot_mb() -> int:
    """The byte budget of a run's snapshots, in megabytes (0: no snapshots)."""
    text = _text(SNAPSHOT_ENV)
    if not text:
        return SNAPSHOT_DEFAULT_MB
    value = whole_number(text)
    if value is None:
        raise UserError("{name} must be a whole number of megabytes (0 turns snapshots off), not {text!r}.",
                        name=SNAPSHOT_ENV, text=text)
    return value


def max_trainings_from_env() -> int:
    """$VAE_EXPLORER_MAX_TRAININGS, or one training per CPU core."""
    text = _text(MAX_TRAININGS_ENV)
    if not text:
        return max(1, os.cpu_count() or 1)
    value = whole_number(text)
    if value is None or value < 1:
        raise UserError("{max_trainings_env} must be a whole number of at least 1, not {text!r}.",
            max_trainings_env=MAX_TRAININGS_ENV, text=text)
    return value


def training_nice_from_env() -> int:
    """$VAE_EXPLORER_TRAINING_NICE (0-19), or DEFAULT_NICE."""
    text = _text(TRAINING_NICE_ENV)
    if not text:
        return DEFAULT_NICE
    value = whole_number(text)
    if value is None or not 0 <= value <= 19:
        raise UserError("{training_nice_env} must be a whole number from 0 to 19, not {text!r}.",
            training_nice_env=TRAINING_NICE_ENV, text=text)
    return value


def foreign_limits() -> tuple[int, int]:
    """(megabytes, seconds) a foreign ONNX graph may use in its worker (training/models/sandbox.py)."""
    limits = []
    for name, default, least in ((FOREIGN_MB_ENV, FOREIGN_DEFAULTS[0], 64), (FOREIGN_SECONDS_ENV, FOREIGN_DEFAULTS[1], 1)):
        text = _text(name)
        value = whole_number(text) if text else default
        if value is None or value < least:
            raise UserError("{name} must be a whole number of at least {least}, not {text!r}.",
                            name=name, least=least, text=text)
        limits.append(value)
    return limits[0], limits[1]


def max_queued_from_env() -> int:
    """$VAE_EXPLORER_MAX_QUEUED: a served app's trainings queued or running in one runs folder, together;
    or QUEUED_PER_TRAINING x the trainings at once."""
    text = _text(MAX_QUEUED_ENV)
    if not text:
        return QUEUED_PER_TRAINING * max_trainings_from_env()
    value = whole_number(text)
    if value is None or value < 1:
        raise UserError("{max_queued_env} must be a whole number of at least 1, not {text!r}.",
            max_queued_env=MAX_QUEUED_ENV, text=text)
    return value


def data_mb(name: str) -> int:
    """MAX_DATA_ENV (the most building one data set may take) or DATA_CACHE_ENV (the data sets kept built in
    memory together; 0 keeps none), in megabytes."""
    text = _text(name)
    if not text:
        return DEFAULT_DATA_MB[name]
    value = whole_number(text)
    smallest = 1 if name == MAX_DATA_ENV else 0
    if value is None or value < smallest:
        raise UserError("{name} must be a whole number of megabytes, at least {smallest}, not {text!r}.",
            name=name, smallest=smallest, text=text)
    return value


# -- folders ---------------------------------------------------------------------------------------
def data_root(root: str | Path | None = None) -> Path:
    """The data sets' download folder: ``root`` if given, else $VAE_EXPLORER_DATA, else
    ~/.cache/vae-explorer/data."""
    if root is None:
        root = os.environ.get(DATA_ENV) or Path.home() / ".cache" / "vae-explorer" / "data"
    return Path(root).expanduser().resolve()


def cache_root() -> Path:
    """$VAE_EXPLORER_CACHE, default ~/.cache/vae-explorer: what the app derives and keeps between restarts."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vae-explorer").expanduser()


# -- a served app's uploads and disk (training/core/quota.py) -------------------------------------------
UPLOADS_PER_HOUR_ENV = "VAE_EXPLORER_UPLOADS_PER_HOUR"
UPLOAD_MB_PER_HOUR_ENV = "VAE_EXPLORER_UPLOAD_MB_PER_HOUR"
FOLDER_UPLOADS_PER_HOUR_ENV = "VAE_EXPLORER_FOLDER_UPLOADS_PER_HOUR"
FOLDER_UPLOAD_MB_PER_HOUR_ENV = "VAE_EXPLORER_FOLDER_UPLOAD_MB_PER_HOUR"
UPLOAD_QUOTA_DEFAULTS = {UPLOADS_PER_HOUR_ENV: 20, UPLOAD_MB_PER_HOUR_ENV: 256,
                         FOLDER_UPLOADS_PER_HOUR_ENV: 100, FOLDER_UPLOAD_MB_PER_HOUR_ENV: 1024}
MIN_FREE_ENV = "VAE_EXPLORER_MIN_FREE_MB"
SERVED_MIN_FREE_MB = 1024


def upload_quota(name: str) -> int:
    """One of a served app's upload quotas (the four *_PER_HOUR variables): a count or megabytes an hour."""
    text = _text(name)
    if not text:
        return UPLOAD_QUOTA_DEFAULTS[name]
    value = whole_number(text)
    if value is None or value < 1:
        raise UserError("{name} must be a whole number of at least 1, not {text!r}.", name=name, text=text)
    return value


def min_free_mb(served: bool) -> int:
    """$VAE_EXPLORER_MIN_FREE_MB: the megabytes kept free on a runs folder's disk (0: no floor); by default
    SERVED_MIN_FREE_MB for a served app and 0 on one's own machine."""
    text = _text(MIN_FREE_ENV)
    if not text:
        return SERVED_MIN_FREE_MB if served else 0
    value = whole_number(text)
    if value is None:
        raise UserError("{name} must be a whole number of megabytes (0: no floor), not {text!r}.",
                        name=MIN_FREE_ENV, text=text)
    return value
