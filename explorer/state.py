"""What every page shares: the runs folder, the current model, and cached loaders.

Models are cached with ``st.cache_resource`` keyed by the run folder and the SHA-256 of its
weights file, so a retrained or replaced run is reloaded and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from training.checkpoint import WEIGHTS, Run, load_run
from training.data import Dataset, load_dataset
from training.errors import UserError
from training.runs import BUNDLED_DEMOS, RunSummary, list_runs

DEFAULT_RUN = BUNDLED_DEMOS / "mnist5k-z16"
RUNS_ROOT_ENV = "VAE_EXPLORER_RUNS"


def runs_root() -> Path:
    """The folder where trainings are saved and runs are listed (Models page can change it)."""
    if "runs_root" not in st.session_state:
        st.session_state["runs_root"] = os.environ.get(RUNS_ROOT_ENV, "runs")
    return Path(st.session_state["runs_root"])


def available_runs() -> list[RunSummary]:
    return list_runs(runs_root())


def current_run_path() -> Path:
    return Path(st.session_state.get("run_path", str(DEFAULT_RUN)))


def select_run(path: str | Path) -> None:
    """Make ``path`` the model every page uses."""
    st.session_state["run_path"] = str(Path(path))


@st.cache_data(max_entries=64, show_spinner=False)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_digest(run_dir: Path) -> str:
    stat = (run_dir / WEIGHTS).stat()
    return _file_digest(str(run_dir / WEIGHTS), stat.st_mtime_ns, stat.st_size)


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_run(path: str, digest: str) -> Run:
    return load_run(path)


def current_run() -> Run:
    """The chosen model (falling back to the bundled default if it vanished)."""
    path = current_run_path()
    try:
        return _load_run(str(path), weights_digest(path))
    except (UserError, OSError):
        if path != DEFAULT_RUN:
            st.warning(f"The run {path} could not be loaded; showing the bundled demo instead.")
            select_run(DEFAULT_RUN)
            return _load_run(str(DEFAULT_RUN), weights_digest(DEFAULT_RUN))
        raise


@st.cache_resource(max_entries=4, show_spinner="Loading the data set...")
def dataset_for(name: str, channels: int, side: int, seed: int) -> Dataset:
    return load_dataset(name, image_size=side, channels=channels, seed=seed)


def current_data(run: Run) -> Dataset:
    """The data set the current model was trained on (cached)."""
    c, h, _ = run.config.model.image_shape
    return dataset_for(run.config.train.dataset, c, h, run.config.train.seed)
