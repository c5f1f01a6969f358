"""The epoch scrubber: Latent map, Latent sliders and Samples show the model as it was at any kept epoch.

A run keeps snapshots of its weights at a schedule of epochs (training/runs/snapshots.py). When the current run
has two or more, these pages draw a slider over the kept epochs ("latest" is the run's own weights) and a
Play toggle that steps through them about once a second. ``shown(run)`` is the run as the visitor chose to
see it: the same config and history, the snapshot's weights, and a digest that names the epoch, so that
every cached projection and decode is kept apart per epoch.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.state import shared
from training.runs import snapshots
from training.runs.layout import file_stamp

KEY, PLAY, PLAY_AT = "epoch_shown", "epoch_play", "epoch_play_at"
LATEST = -1
PLAY_EVERY_S = 1.0


def kept(run_dir: Path) -> list[int]:
    return snapshots.kept_epochs(run_dir)


def chosen(run_dir: Path) -> int | None:
    """The kept epoch the visitor picked for this run, or None for its latest weights."""
    epoch = st.session_state.get(KEY, LATEST)
    return epoch if epoch != LATEST and epoch in kept(run_dir) else None


def scrubber(page: str) -> None:
    """The slider over kept epochs and the Play toggle (nothing when the run has fewer than two)."""
    run_dir = shared.current_run_path()
    epochs = kept(run_dir)
    shared.on_new_model("epochs", lambda: st.session_state.update({KEY: LATEST, PLAY: False}))  # all pages: one epoch
    if len(epochs) < 2:
        return
    options = [*epochs, LATEST]
    if st.session_state.get(KEY, LATEST) not in options:
        st.session_state[KEY] = LATEST
    widget = f"{KEY}_{page}"  # each page's own widget shows the one chosen epoch, shared by the pages
    st.session_state[widget] = st.session_state[KEY]
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    left.select_slider(_("Epoch"), options, key=widget, format_func=lambda e: _("latest") if e == LATEST else str(e),
                       on_change=lambda: st.session_state.update({KEY: st.session_state[widget]}),
                       help=_("Weights kept during training ({n} epochs): see the latent space as it formed.").format(
                           n=len(epochs)))
    right.toggle(_("Play"), key=PLAY, help=_("Step through the kept epochs, about one a second."))

    @st.fragment(run_every=PLAY_EVERY_S if st.session_state.get(PLAY) else None)
    def step() -> None:
        # A fragment also runs in every full run of the page, including the one its own st.rerun() starts:
        # advancing there would rerun again before the page is drawn, and the page would never show the
        # epoch. So it advances at most once per period, whichever run it is.
        if not st.session_state.get(PLAY) or time.monotonic() - st.session_state.get(PLAY_AT, 0.0) < 0.8 * PLAY_EVERY_S:
            return
        st.session_state[PLAY_AT] = time.monotonic()
        now = st.session_state.get(KEY, LATEST)
        at = options.index(now) if now in options else len(options) - 1
        st.session_state[KEY] = options[(at + 1) % len(options)]
        st.rerun()

    step()


@st.cache_resource(max_entries=16, show_spinner=False)
def _model_at(path: str, epoch: int, stamp: tuple):
    from training.vae.model import VAE

    run = shared.load_run_of(path)
    model = VAE(run.config.model)
    model.load_state_dict(snapshots.load(path, run.config.model, epoch), strict=True)
    return model.eval()


def _stamp(path: Path, epoch: int) -> tuple:
    return file_stamp(snapshots.path_of(path, epoch))


def shown(run):
    """RUN as the scrubber shows it: its snapshot's model at the chosen epoch (else RUN itself)."""
    epoch = chosen(Path(run.path))
    if epoch is None:
        return run
    return replace(run, model=_model_at(str(run.path), epoch, _stamp(Path(run.path), epoch)))


def digest(run) -> str:
    """The cache key of the weights RUN is shown with: the weights file's digest, and the epoch if any."""
    epoch = chosen(Path(run.path))
    base = shared.weights_digest(Path(run.path))
    return base if epoch is None else f"{base}@{epoch}"


def decoder(path: Path):
    """The numpy decoder of the shown weights (Latent sliders' first image needs no torch otherwise)."""
    epoch = chosen(path)
    if epoch is None:
        return shared.current_decoder()
    from training.vae.array_decoder import decoder_from_arrays

    run = shared.load_run_of(path)
    arrays = {k: v.numpy() for k, v in _model_at(str(path), epoch, _stamp(path, epoch)).state_dict().items()}
    return decoder_from_arrays(run.config.model, arrays, f"epoch {epoch}")
