"""Finding saved runs on disk: listing, safe names, and a short summary card for each.

Run names typed by users are checked here: a name is one path component of letters, digits,
'-', '_' and '.', so nothing can point outside its runs folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from training.config import RunConfig
from training.errors import UserError
from training.run_files import CHECKPOINT, CONFIG, HISTORY, WEIGHTS, read_config, read_history

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_run_name(name: str) -> str:
    """A run name is one safe path component; anything else is refused with one sentence."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise UserError(
            f"{name!r} is not a valid run name; use up to 100 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )
    return name


def run_path(root: str | Path, name: str) -> Path:
    """ROOT/NAME, refusing any name that would leave ROOT."""
    root = Path(root).resolve()
    path = (root / check_run_name(name)).resolve()
    if path.parent != root:
        raise UserError(f"The run {name!r} would lie outside {root}.")
    return path


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

    @property
    def label(self) -> str:
        tag = "demo" if self.bundled else "run"
        live = "" if self.state == "finished" else f" · {self.state}"
        return f"{self.name} ({tag}: {self.dataset}, z={self.latent_dim}, {self.likelihood}, beta={self.beta:g}){live}"


def _stamp(path: Path) -> tuple[int, int]:
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
    config, last = _config_and_last_epoch(str(path), _stamp(path / CONFIG), _stamp(path / HISTORY))
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
        active_units=last.get("active_units"), state=state, status=status,
        has_weights=(path / WEIGHTS).is_file(), has_checkpoint=has_checkpoint,
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
        runs.sort(key=lambda p: _stamp(p / CONFIG)[0], reverse=True)
        folders += [(p, False) for p in runs]
    for folder, bundled in folders:
        if not (folder / CONFIG).is_file():
            continue
        try:
            found.append(summarize_run(folder, bundled))
        except (UserError, OSError):
            continue
    return found
