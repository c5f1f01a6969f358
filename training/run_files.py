"""Names of the files in a run folder, and reading its history: no torch needed.

    RUN_DIR/config.json              RunConfig (validated on load)
    RUN_DIR/model.safetensors        weights only (what the explorer loads and users share)
    RUN_DIR/history.jsonl            one JSON object per finished epoch
    RUN_DIR/checkpoint.safetensors   what --resume needs
    RUN_DIR/status.json              the training's state, progress and owner (training/run_status.py)
    RUN_DIR/steps.csv                per-step recon, KL and beta for the live charts (training/step_log.py)
    RUN_DIR/stop                     present: someone asked the training to stop
    RUN_DIR/.lock                    held (flock) by the one process that writes the run (training/run_lock.py)
    RUN_DIR/train.log                what a training started by the app printed
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from training.errors import UserError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.safetensors"
STATUS = "status.json"
STEPS = "steps.csv"
STOP = "stop"
LOCK = ".lock"
LOG = "train.log"
MAX_HISTORY_BYTES = 64 * 1024**2
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    ``durable`` also fsyncs before the rename (checkpoints); a status file rewritten every second
    only needs the rename to be atomic.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


MAX_CONFIG_BYTES = 1_000_000  # a run config is a few hundred bytes


def read_bounded(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of PATH, refused from its size before any is read (a sparse 3 GB file costs nothing),
    and never more than ``limit`` read even if it grows meanwhile."""
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise UserError(f"{path} is {size:,} bytes; {what} is at most {limit:,}.")
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{path} is over {limit:,} bytes; {what} is at most {limit:,}.")
    return data


def read_config(run_dir: str | Path):
    """RUN_DIR/config.json, validated (``RunConfig.from_json``), its size checked before it is read."""
    from training.config import RunConfig

    path = Path(run_dir) / CONFIG
    return RunConfig.from_json(read_bounded(path, MAX_CONFIG_BYTES, "a run config"), source=str(path))


def read_history(run_dir: str | Path) -> list[dict]:
    """The per-epoch records of RUN_DIR (empty if it has none yet)."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_HISTORY_BYTES:
        raise UserError(f"{path} is over {MAX_HISTORY_BYTES // 1024**2} MB; that is not a training history.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not a text file (byte {err.start} is not UTF-8).") from None
    history = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise UserError(f"{path} line {n} is not valid JSON.") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("epoch"), int):
            raise UserError(f"{path} line {n} is not an epoch record.")
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
        raise UserError(f"The runs folder {target.parent} cannot be written ({err.strerror}).") from None
    try:
        for name, data in files.items():
            atomic_write(staging / name, data)
        os.chmod(staging, 0o777 & ~_UMASK)
        if target.exists():  # rename() would silently replace an empty folder
            raise FileExistsError(errno.EEXIST, "exists")
        os.rename(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, FileExistsError) or target.exists():
            raise UserError(f"A run named {target.name!r} already exists in {target.parent}; choose another name.") from None
        raise UserError(f"The run could not be saved in {target.parent} ({err.strerror}).") from None
    return target

