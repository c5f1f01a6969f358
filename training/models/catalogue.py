"""The catalogue of models: what a card shows of each (``RunSummary``) and the listing of a runs folder with
an application's bundled demos (``list_runs``), in every state. No torch: pages list runs every second
while one trains, so each folder's files are parsed once per version.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from training.core.config import RunConfig
from training.core.errors import UserError
from training.models.open import is_model_folder, read_config, weights_path
from training.runs.layout import CHECKPOINT, CONFIG, HISTORY, file_stamp, read_history
from training.runs.status import FINISHED, INTERRUPTED, RunStatus, observed_state, read_status


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
    mig: float | None = None       # the mutual information gap (training/analysis/disentangle.py), known factors
    state: str = "finished"        # observed: queued, running, finished, stopped, failed, interrupted
    status: RunStatus | None = None  # None for runs without one (demos, uploads, models from elsewhere)
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


@lru_cache(maxsize=512)
def _config_and_last_epoch(path: str, config_stamp: tuple, history_stamp: tuple) -> tuple[RunConfig, dict]:
    """Parsed once per version of the files (pages list runs every second while one trains)."""
    config = read_config(path)
    history = read_history(path)
    return config, dict(history[-1]) if history else {}


def summarize_run(path: str | Path, bundled: bool = False) -> RunSummary:
    """RUN's card: its config, its last epoch's figures and its state as a reader observes it now."""
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
        if not is_model_folder(folder):
            continue
        try:
            found.append(summarize_run(folder, bundled))
        except (UserError, OSError):
            continue
    return found
