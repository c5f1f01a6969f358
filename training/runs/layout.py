"""The run folder's layout and its safe reads and writes: file names, run names, atomic writes, bounded
reads, a new run published all at once. No torch needed.

    RUN_DIR/config.json              RunConfig (validated on load)
    RUN_DIR/model.safetensors        weights only (what the explorer loads and users share)
    RUN_DIR/history.jsonl            one JSON object per finished epoch
    RUN_DIR/checkpoint.safetensors   what --resume needs (written and read by training/runs/checkpoint.py)
    RUN_DIR/status.json              the training's state, progress and owner (training/runs/status.py)
    RUN_DIR/steps.csv                per-step recon, KL and beta for the live charts (training/runs/step_log.py)
    RUN_DIR/stop                     present: someone asked the training to stop
    RUN_DIR/.lock                    held (flock) by the one process that writes the run (training/runs/lock.py)
    RUN_DIR/train.log                what a training started by the app printed

A folder may also hold a model from elsewhere (ONNX graphs, or one's own code named in adapter.json); their
file names are here, but which kind a folder holds is decided in one place, training/models/open.py. A
beta sweep's manifest sits beside its runs (training/runs/sweep.py).

Run names typed by users are checked here: a name is one path component of letters, digits,
'-', '_' and '.', so nothing can point outside its runs folder. Writes are atomic (a reader sees
the old file or the new one) and a new run appears all at once (``publish_run``); reads go through
``training.core.files.read_bounded``: a regular file, not a link, its size checked before it is read.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from training.core.config import RunConfig
from training.core.errors import UserError, run_exists
from training.core.files import UMASK as _UMASK
from training.core.files import atomic_write  # noqa: F401 (its old home: callers import it from here)
from training.core.files import read_bounded  # noqa: F401 (likewise; the one checked reader of a folder's files)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.safetensors"
# A model trained elsewhere, as two ONNX graphs (training/models/onnx_graph.py): a folder with these files and
# no config.json is a model too.
ONNX_ENCODER, ONNX_DECODER, ONNX_META = "encoder.onnx", "decoder.onnx", "model.json"
# A model of one's own Python code (training/models/adapter.py): a folder with only this file, naming the factory.
ADAPTER_FILE = "adapter.json"
STATUS = "status.json"
STEPS = "steps.csv"
STOP = "stop"
LOCK = ".lock"
LOG = "train.log"
MAX_HISTORY_BYTES = 64 * 1024**2


MAX_CONFIG_BYTES = 1_000_000  # a run config is a few hundred bytes


def read_run_config(run_dir: str | Path) -> RunConfig:
    """RUN_DIR/config.json, validated (``RunConfig.from_json``), its size checked before it is read. (The config
    of any model folder, ONNX and adapter included, is ``training.models.open.read_config``.)"""
    path = Path(run_dir) / CONFIG
    return RunConfig.from_json(read_bounded(path, MAX_CONFIG_BYTES, "a run config"), source=str(path))


def read_history(run_dir: str | Path) -> list[dict]:
    """The per-epoch records of RUN_DIR (empty if it has none yet)."""
    path = Path(run_dir) / HISTORY
    try:
        data = read_bounded(path, MAX_HISTORY_BYTES, "a training history", too_large=lambda size: UserError(
            "{path} is over {value} MB; that is not a training history.", path=path, value=MAX_HISTORY_BYTES // 1024**2))
    except FileNotFoundError:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError("{path} is not a text file (byte {start} is not UTF-8).",
            path=path, start=err.start) from None
    history = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise UserError("{path} line {n} is not valid JSON.",
                path=path, n=n) from None
        if not isinstance(rec, dict) or not isinstance(rec.get("epoch"), int):
            raise UserError("{path} line {n} is not an epoch record.",
                path=path, n=n)
        history.append(rec)
    return history


def publish_run(target: str | Path, files: dict[str, bytes]) -> Path:
    """Create the new run folder TARGET holding ``files``, all at once: they are written into a hidden
    staging folder beside it, which is then renamed. A reader never sees a half-made run, and a name
    taken meanwhile is refused rather than merged."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    except OSError as err:
        raise UserError("The runs folder {parent} cannot be written ({strerror}).",
            parent=target.parent, strerror=err.strerror) from None
    try:
        for name, data in files.items():  # a name may hold one folder ("snapshots/epoch-0004.safetensors")
            (staging / name).parent.mkdir(exist_ok=True)
            atomic_write(staging / name, data)
        os.chmod(staging, 0o777 & ~_UMASK)
        if target.exists():  # rename() would silently replace an empty folder
            raise FileExistsError(errno.EEXIST, "exists")
        os.rename(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, FileExistsError) or target.exists():
            raise run_exists(target.name, target.parent) from None
        raise UserError("The run could not be saved in {parent} ({strerror}).",
            parent=target.parent, strerror=err.strerror) from None
    return target


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def is_run_name(name: object) -> bool:
    """Whether NAME is one safe path component (``check_run_name`` without the sentence)."""
    return isinstance(name, str) and bool(_NAME.match(name)) and ".." not in name


def check_run_name(name: str) -> str:
    """A run name is one safe path component; anything else is refused with one sentence."""
    if not is_run_name(name):
        raise UserError(
            "{name!r} is not a valid run name; use up to 100 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit.",
                name=name
        )
    return name


def run_path(root: str | Path, name: str) -> Path:
    """ROOT/NAME, refusing any name that would leave ROOT."""
    root = Path(root).resolve()
    path = (root / check_run_name(name)).resolve()
    if path.parent != root:
        raise UserError("The run {name!r} would lie outside {root}.",
            name=name, root=root)
    return path


def file_stamp(path: str | Path) -> tuple[int, int]:
    """A file's version, (mtime in ns, size), without reading it; (0, 0) when it does not exist."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)

