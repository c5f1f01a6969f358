"""What every page shares: the runs folder, the current model, and cached loaders.

Models are cached with ``st.cache_resource`` keyed by the run folder and the SHA-256 of its
weights file, so a retrained or replaced run is reloaded and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from explorer import DEMOS
from explorer.i18n import _, error_text
from explorer.state import serving
from training.core.config import RunConfig
from training.core.environment import ADAPTER_ENV
from training.core.errors import UserError
from training.core.files import open_regular
from training.models.base import NO_DATASET
from training.models.catalogue import RunSummary, list_runs
from training.models.open import RUN, load_decoder, model_files, model_kind, read_config
from training.runs.layout import HISTORY, read_history
from training.vae.array_decoder import ArrayDecoder

if TYPE_CHECKING:  # torch-backed; imported on first use so the first image need not wait for torch
    from training.data import Dataset
    from training.models.base import Run

DEMO_RUN = DEMOS / "mnist5k-z16"  # the default model, unless one's own model was named (default_run)
RUNS_ROOT_ENV = "VAE_EXPLORER_RUNS"


def own_model_spec() -> str | None:
    """`streamlit run explorer/app.py -- --model package.module:factory` (or $VAE_EXPLORER_MODEL): the person who
    started the app named their own model code (training/models/adapter.py); it is then the default model."""
    argv = sys.argv[1:]
    if "--model" in argv and argv.index("--model") + 1 < len(argv):
        return argv[argv.index("--model") + 1]
    return os.environ.get(ADAPTER_ENV) or None


def own_model_folder() -> Path | None:
    """The picker's folder of that model, or None (an unusable spec is said once in the sidebar)."""
    spec = own_model_spec()
    if spec is None:
        return None
    from training.models.adapter import folder_for

    try:
        return folder_for(spec)
    except UserError as err:
        st.sidebar.error(error_text(err), icon=":material/error:")
        return None


def default_run() -> Path:
    """The model shown until the visitor picks one: one's own model when the command line named a usable one,
    else the bundled demo. Its folder is written here, when first asked for, never on import."""
    spec = own_model_spec()
    if spec is not None:
        from training.models.adapter import folder_for

        try:
            return folder_for(spec)
        except UserError:
            pass
    return DEMO_RUN


def runs_root() -> Path:
    """The folder where trainings are saved and runs are listed (Models page can change it; served to
    others, only to one of the folders the operator lists: explorer/state/serving.py)."""
    chosen = st.session_state.get("runs_root")
    if serving.served():
        allowed = serving.runs_folders()
        if chosen is None or Path(chosen).expanduser().resolve() not in allowed:
            st.session_state["runs_root"] = str(allowed[0])
    elif chosen is None:
        st.session_state["runs_root"] = os.environ.get(RUNS_ROOT_ENV, "runs")
    return Path(st.session_state["runs_root"])


def available_runs() -> list[RunSummary]:
    """The runs offered as models: demos and runs with trained weights (not queued, failed or interrupted)."""
    return [run for run in all_runs() if run.ready]


def all_runs() -> list[RunSummary]:
    """One's own model (if the command line named one), the bundled demos, then every run of the runs folder,
    in every state."""
    own = own_model_folder()
    runs = list_runs(runs_root(), bundled=DEMOS)
    if own is not None:
        from training.models.catalogue import summarize_run

        try:
            runs = [summarize_run(own, False)] + runs
        except UserError as err:  # its code failed: said once, the other models stay offered
            st.sidebar.error(error_text(err), icon=":material/error:")
    return runs


CHOSEN_MESSAGE = "model_chosen_message"


def same_run(a: str | Path, b: str | Path) -> bool:
    """Whether two spellings of a run folder ("runs/x", "/abs/runs/x", a link) are the same run."""
    return canonical(a) == canonical(b)


def canonical(path: str | Path) -> str:
    """The one spelling of a run folder the app stores and compares: absolute, links resolved."""
    return str(Path(path).expanduser().resolve())


def current_run_path() -> Path:
    if "run_path" in st.session_state:
        return Path(st.session_state["run_path"])
    return Path(canonical(default_run()))


def select_run(path: str | Path) -> None:
    """Make ``path`` the model every page uses (as a widget callback: the sidebar picker, Use)."""
    st.session_state["run_path"] = canonical(path)


def choose_run(path: str | Path, message: str | None = None) -> None:
    """Make ``path`` the model every page uses, from a page's own code (an upload, a button inside a
    fragment), and redraw the whole app at once so the sidebar, the cards and the page all show it;
    ``message`` is shown by ``chosen_message`` after the redraw."""
    select_run(path)
    if message:
        st.session_state[CHOSEN_MESSAGE] = message
    st.rerun()


def chosen_message() -> str | None:
    """The sentence a ``choose_run`` left for this redraw (once)."""
    return st.session_state.pop(CHOSEN_MESSAGE, None)


@st.cache_data(max_entries=64, show_spinner=False)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    with open_regular(path, "a model file") as f:  # never a FIFO or a device: the page must not hang on one
        return hashlib.file_digest(f, "sha256").hexdigest()


def weights_digest(run_dir: Path) -> str:
    digest = ""
    for file in model_files(run_dir):  # an ONNX folder: the encoder's bytes count too
        stat = file.stat()
        digest += _file_digest(str(file), stat.st_mtime_ns, stat.st_size)
    return digest


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_run(path: str, digest: str) -> Run:
    from training.models.open import load_run

    return load_run(path)


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_decoder(path: str, digest: str) -> ArrayDecoder:
    return load_decoder(path)


@st.cache_data(max_entries=32, show_spinner=False)
def _config_and_history(path: str, digest: str, history_mtime_ns: int) -> tuple[RunConfig, list[dict]]:
    return read_config(path), read_history(path)


def current_config_and_history() -> tuple[RunConfig, list[dict]]:
    """The chosen run's config and history, without loading the model (no torch)."""
    path = current_run_path()
    try:
        history_file = path / HISTORY
        mtime = history_file.stat().st_mtime_ns if history_file.exists() else 0
        config, history = _config_and_history(str(path), weights_digest(path), mtime)
    except (UserError, OSError):
        return current_run().config, current_run().history  # falls back to the demo with a warning
    if not history and model_kind(path) != RUN:  # a model from elsewhere
        history = _measured_kl(str(path), weights_digest(path))  # no training history: order dims by measured KL
    return config, history


@st.cache_data(max_entries=8, show_spinner=False)
def _measured_kl(path: str, digest: str) -> list[dict]:
    """A model from elsewhere has no history to order its dimensions by: KL_k (E4) of its test images,
    measured once, as the one record the slider pages read ([] when its data set is not known)."""
    from training.vae.evaluate import elbo_terms, summarize

    run = load_run_of(path)
    if run.config.train.dataset == NO_DATASET:
        return []
    try:
        x = current_test_images(run, data_of(run))
    except UserError:
        return []
    return [{"kl_per_dim": summarize(elbo_terms(run.model, x))["kl_per_dim"]}]


def data_of(run: Run) -> Dataset:
    """The data set RUN was trained on, as its config names it (cached), or UserError."""
    c, h, _w = run.config.model.image_shape
    return dataset_for(run.config.train.dataset, c, h, run.config.train.seed, run.config.train.dataset_size)


def current_decoder() -> ArrayDecoder | None:
    """The chosen run's decoder as numpy arrays (either architecture): decodes without torch.

    None only when its files cannot be read (the page then falls back to the torch model's error)."""
    path = current_run_path()
    try:
        return load_decoder_of(path)
    except (UserError, OSError):
        return None


def load_run_of(path: str | Path) -> Run:
    """Any offered run, loaded (cached per weights file)."""
    return _load_run(str(path), weights_digest(Path(path)))


def load_decoder_of(path: str | Path) -> ArrayDecoder:
    """Any offered run's numpy decoder (cached per weights file)."""
    return _load_decoder(str(path), weights_digest(Path(path)))


def current_run() -> Run:
    """The chosen model (falling back to the bundled default if it vanished)."""
    path = current_run_path()
    try:
        return load_run_of(path)
    except (UserError, OSError):
        fallback = default_run()
        if path != fallback:
            st.warning(_("The run {path} could not be loaded; showing the bundled demo instead.").format(
                path=serving.shown_path(path)))
            select_run(fallback)
            return load_run_of(fallback)
        raise


@st.cache_resource(max_entries=4, show_spinner="Loading the data set...")
def dataset_for(name: str, channels: int, side: int, seed: int, size: int | None = None) -> Dataset:
    from training.data import load_dataset

    return load_dataset(name, image_size=side, channels=channels, seed=seed, dataset_size=size)


def on_new_model(page: str, reset: Callable[[], None]) -> None:
    """Run ``reset`` (a page's own defaults for a model) the first time PAGE shows the current model.

    Pages set their widgets' state there rather than delete it: the browser keeps showing a widget's
    old value unless the server sets a new one."""
    key, path = f"{page}_model", canonical(current_run_path())
    if st.session_state.get(key) != path:
        reset()
        st.session_state[key] = path


def current_test_images(run: Run, data: Dataset):
    """The test images as the current model is scored on them (binarised once, with a fixed seed, for
    a --binarize run): every page shows and encodes these, so all pages agree."""
    from training.vae.evaluate import test_images

    return test_images(run.config, data)


def test_set_id(run: Run) -> str:
    """A short name for the test images ``current_test_images`` gives RUN: equal names, equal images."""
    import hashlib

    c, h, _ = run.config.model.image_shape
    t = run.config.train
    size = "" if t.dataset_size is None else f"|{t.dataset_size}"  # the default size keeps the names it had
    return hashlib.sha1(f"{t.dataset}|{c}|{h}|{t.seed}|{t.binarize}{size}".encode()).hexdigest()[:16]


def current_data(run: Run) -> Dataset:
    """The data set the current model was trained on (cached); if it cannot be loaded (a folder that
    is gone, a download while offline), the page says so in one sentence and stops."""
    if run.config.train.dataset == NO_DATASET:  # a model from elsewhere that did not say
        st.info(_("This model does not name its data set, so this page, which needs its test images, cannot be "
                  "drawn: add \"dataset\" to its model.json (or, for your own code, a dataset attribute)."),
                icon=":material/info:")
        st.stop()
    try:
        return data_of(run)
    except UserError as err:
        st.error(_("This page needs the model's data set, which cannot be loaded: {why}").format(why=error_text(err)),
                 icon=":material/error:")
        st.stop()
