"""The run folder: its layout, safe names, writing, reading and listing. No torch needed.

    RUN_DIR/config.json              RunConfig (validated on load)
    RUN_DIR/model.safetensors        weights only (what the explorer loads and users share)
    RUN_DIR/history.jsonl            one JSON object per finished epoch
    RUN_DIR/checkpoint.safetensors   what --resume needs (written and read by training/checkpoint.py)
    RUN_DIR/status.json              the training's state, progress and owner (training/run_status.py)
    RUN_DIR/steps.csv                per-step recon, KL and beta for the live charts (training/step_log.py)
    RUN_DIR/stop                     present: someone asked the training to stop
    RUN_DIR/.lock                    held (flock) by the one process that writes the run (training/run_lock.py)
    RUN_DIR/train.log                what a training started by the app printed

A beta sweep NAME (training/sweep.py) is one manifest beside its runs and one ordinary run per beta:

    ROOT/NAME.sweep.json             its name, betas and run names (``sweep_manifest_path``)
    ROOT/NAME-beta0.5, NAME-beta1    its runs (``sweep_run_name``)

Run names typed by users are checked here: a name is one path component of letters, digits,
'-', '_' and '.', so nothing can point outside its runs folder. Writes are atomic (a reader sees
the old file or the new one) and a new run appears all at once (``publish_run``); reads check a
file's size before reading it. The summaries and the listing are what model pickers and cards show.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from training.config import RunConfig
from training.errors import UserError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.safetensors"
# A model trained elsewhere, as two ONNX graphs (training/onnx_model.py): a folder with these files and no
# config.json is a model too, read through training/onnx_model.py.
ONNX_ENCODER, ONNX_DECODER, ONNX_META = "encoder.onnx", "decoder.onnx", "model.json"
NO_DATASET = "(none)"  # the config's data set when a model from elsewhere names none (its data pages say so)
# A model of one's own Python code (training/adapter.py): a folder with only this file, naming the factory.
ADAPTER_FILE = "adapter.json"
ADAPTER_ENV = "VAE_EXPLORER_MODEL"  # the environment's way to name it, beside `-- --model` on the app's command line
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
        raise UserError("{path} is {size:,} bytes; {what} is at most {limit:,}.",
            path=path, size=size, what=what, limit=limit)
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UserError("{path} is over {limit:,} bytes; {what} is at most {limit:,}.",
            path=path, limit=limit, what=what)
    return data


def is_onnx_folder(run_dir: str | Path) -> bool:
    """An ONNX model folder: encoder.onnx and decoder.onnx, and no config.json of a run."""
    run_dir = Path(run_dir)
    return (run_dir / ONNX_DECODER).is_file() and (run_dir / ONNX_ENCODER).is_file() and not (run_dir / CONFIG).is_file()


def is_adapter_folder(run_dir: str | Path) -> bool:
    """A model of one's own code: adapter.json, and no config.json of a run."""
    run_dir = Path(run_dir)
    return (run_dir / ADAPTER_FILE).is_file() and not (run_dir / CONFIG).is_file()


def weights_path(run_dir: str | Path) -> Path:
    """The file that stands for the model's weights: model.safetensors, an ONNX folder's decoder.onnx, or an
    adapter's adapter.json."""
    run_dir = Path(run_dir)
    if is_adapter_folder(run_dir):
        return run_dir / ADAPTER_FILE
    return run_dir / ONNX_DECODER if is_onnx_folder(run_dir) else run_dir / WEIGHTS


def read_config(run_dir: str | Path):
    """RUN_DIR/config.json, validated (``RunConfig.from_json``), its size checked before it is read; for an
    ONNX model folder, the config it stands for (shapes from its graphs, training/onnx_model.py)."""
    if is_onnx_folder(run_dir):
        from training.onnx_model import config_of

        return config_of(run_dir)
    if is_adapter_folder(run_dir):
        from training.adapter import config_of as adapter_config

        return adapter_config(run_dir)
    path = Path(run_dir) / CONFIG
    return RunConfig.from_json(read_bounded(path, MAX_CONFIG_BYTES, "a run config"), source=str(path))


def read_history(run_dir: str | Path) -> list[dict]:
    """The per-epoch records of RUN_DIR (empty if it has none yet)."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_HISTORY_BYTES:
        raise UserError("{path} is over {value} MB; that is not a training history.",
            path=path, value=MAX_HISTORY_BYTES // 1024**2)
    try:
        text = path.read_bytes().decode("utf-8")
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
        for name, data in files.items():
            atomic_write(staging / name, data)
        os.chmod(staging, 0o777 & ~_UMASK)
        if target.exists():  # rename() would silently replace an empty folder
            raise FileExistsError(errno.EEXIST, "exists")
        os.rename(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, FileExistsError) or target.exists():
            raise UserError("A run named {name!r} already exists in {parent}; choose another name.",
                name=target.name, parent=target.parent) from None
        raise UserError("The run could not be saved in {parent} ({strerror}).",
            parent=target.parent, strerror=err.strerror) from None
    return target


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_run_name(name: str) -> str:
    """A run name is one safe path component; anything else is refused with one sentence."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
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


SWEEP_SUFFIX = ".sweep.json"


def sweep_manifest_path(root: str | Path, name: str) -> Path:
    """ROOT/NAME.sweep.json, the manifest of the beta sweep NAME; NAME is checked like a run name."""
    return run_path(root, name).with_name(check_run_name(name) + SWEEP_SUFFIX)


def sweep_run_name(name: str, beta: float) -> str:
    """The run of sweep NAME for BETA: 'NAME-beta0.5', 'NAME-beta1', 'NAME-beta1e-05' (six significant
    digits, so two betas that print alike share a name and are refused as one value typed twice)."""
    return check_run_name(f"{name}-beta{beta:g}".replace("+", ""))


def sweep_names_in(root: str | Path) -> list[str]:
    """The names of the sweeps whose manifest lies in ROOT, newest first (their contents unread)."""
    try:
        found = [p for p in Path(root).iterdir() if p.name.endswith(SWEEP_SUFFIX) and p.is_file()]
    except OSError:
        return []
    found.sort(key=lambda p: file_stamp(p)[0], reverse=True)
    names = [p.name[:-len(SWEEP_SUFFIX)] for p in found]
    return [n for n in names if _NAME.match(n) and ".." not in n]


@dataclass(frozen=True)
class RunSummary:
    """What a model card shows."""

    path: Path
    name: str
    bundled: bool
    dataset: str
    arch: str
    latent_dim: int
    likelihood: str
    beta: float
    epochs_done: int
    epochs_planned: int
    test_neg_elbo: float | None
    test_recon: float | None
    test_kl: float | None
    active_units: int | None
    mig: float | None = None       # the mutual information gap (training/disentangle.py), data with known factors
    state: str = "finished"        # observed: queued, running, finished, stopped, failed, interrupted
    status: object = None          # training.run_status.RunStatus, None for runs without one
    has_weights: bool = True
    has_checkpoint: bool = False

    @property
    def ready(self) -> bool:
        """Offered as a model to explore: it has weights that were trained (or uploaded) and did not fail."""
        if not self.has_weights or self.state in ("queued", "failed", "interrupted"):
            return False
        return self.status is None or self.epochs_done >= 1

    @property
    def resumable(self) -> bool:
        return self.state in ("stopped", "interrupted") and not self.bundled


def file_stamp(path: str | Path) -> tuple[int, int]:
    """A file's version, (mtime in ns, size), without reading it; (0, 0) when it does not exist."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=512)
def _config_and_last_epoch(path: str, config_stamp: tuple, history_stamp: tuple) -> tuple[RunConfig, dict]:
    """Parsed once per version of the files (pages list runs every second while one trains)."""
    config = read_config(path)
    history = read_history(path)
    return config, dict(history[-1]) if history else {}


def summarize_run(path: str | Path, bundled: bool = False) -> RunSummary:
    from training.run_status import FINISHED, INTERRUPTED, observed_state, read_status

    path = Path(path)
    described_by = path / CONFIG if (path / CONFIG).is_file() else weights_path(path)  # ONNX, adapter: their files
    config, last = _config_and_last_epoch(str(path), file_stamp(described_by), file_stamp(path / HISTORY))
    status = None if bundled else read_status(path)
    has_checkpoint = (path / CHECKPOINT).is_file()
    if status is not None:
        state = observed_state(path, status)
    else:  # no status file: a demo, an upload, or a run from before status files
        state = INTERRUPTED if has_checkpoint and last.get("epoch", 0) < config.train.epochs else FINISHED
    return RunSummary(
        path=path, name=path.name, bundled=bundled, dataset=config.train.dataset, arch=config.model.arch,
        latent_dim=config.model.latent_dim, likelihood=config.model.likelihood, beta=config.train.beta,
        epochs_done=last.get("epoch", 0), epochs_planned=config.train.epochs,
        test_neg_elbo=last.get("test_neg_elbo"), test_recon=last.get("test_recon"), test_kl=last.get("test_kl"),
        active_units=last.get("active_units"), mig=last.get("mig"), state=state, status=status,
        has_weights=weights_path(path).is_file(), has_checkpoint=has_checkpoint,
    )


def list_runs(root: str | Path | None, bundled: str | Path | None = None) -> list[RunSummary]:
    """The runs of the read-only BUNDLED folder first (an application's demos, if it has any), then the
    runs under ROOT (newest first), in every state (``.ready`` says which can be explored; a queued run
    has no weights yet).

    Unreadable folders are skipped, and so are hidden ones and symlinks leading out of ROOT.
    """
    found: list[RunSummary] = []
    folders: list[tuple[Path, bool]] = []
    if bundled is not None and Path(bundled).is_dir():
        folders += [(p, True) for p in sorted(Path(bundled).iterdir())]
    if root is not None and Path(root).is_dir():
        inside = Path(root).resolve()
        # a symlink in ROOT that points at a folder elsewhere is not one of ROOT's runs: skipped
        runs = [p for p in Path(root).iterdir()
                if not p.name.startswith(".") and p.is_dir() and p.resolve().parent == inside]
        runs.sort(key=lambda p: file_stamp(p / CONFIG)[0], reverse=True)
        folders += [(p, False) for p in runs]
    for folder, bundled in folders:
        if not (folder / CONFIG).is_file() and not is_onnx_folder(folder) and not is_adapter_folder(folder):
            continue
        try:
            found.append(summarize_run(folder, bundled))
        except (UserError, OSError):
            continue
    return found
