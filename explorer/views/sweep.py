"""Sweep: the runs of one beta sweep (training/runs/sweep.py) side by side.

Every run of a sweep has the same settings but beta, so what differs between them is what beta did:
where each lands on the rate-distortion plane (rate = test KL, distortion = test -ln q(x|z), E1), how
well its code separates the data's known factors (MIG, training/analysis/disentangle.py), and what each of its
dimensions draws (the same traversal from z = 0 for each run). Only finished runs are drawn; the others
are listed with the state their run folder records, and the page redraws while any of them is active.

Besides the sweeps of the runs folder, the page offers the bundled example (explorer/demos/sweeps/, made by
``make demos``: three tiny runs on 16-pixel shapes), so that it shows what it does before anyone trains; it is
only read, never written (its runs are summarised as bundled, like the demo models).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from explorer import DEMOS
from explorer.figures import images, sweep_figures
from explorer.i18n import _, error_text
from explorer.state import dim_names, serving, shared
from explorer.widgets import downloads, run_actions
from training.core.errors import UserError
from training.models.catalogue import RunSummary, summarize_run
from training.models.open import is_model_folder
from training.runs import sweep
from training.runs.layout import HISTORY, file_stamp
from training.runs.status import ACTIVE, FINISHED, RUNNING
from training.vae import latent_space

PICK_KEY = "sweep_pick"
LIVE_KEY = "sweep_live"
EVERY_S = 1.0
STEPS = 7  # traversal images from -3 to +3 per dimension
GRID_WIDTH = 300  # pixels a traversal grid is upscaled towards
BUNDLED = DEMOS / "sweeps"  # the bundled example sweeps: read-only
EXAMPLE = "example:"  # the picker's value of a bundled sweep ("example:NAME"; a run name has no colon)


@dataclass(frozen=True)
class Member:
    """One run of the sweep: its beta, its folder, and what the folder says (None: missing or unreadable)."""

    beta: float
    path: Path
    summary: RunSummary | None

    @property
    def finished(self) -> bool:
        s = self.summary
        return (s is not None and s.state == FINISHED and s.ready and s.test_kl is not None
                and s.test_recon is not None)


def members(root: Path, sw: sweep.Sweep) -> list[Member]:
    found = []
    bundled = root.resolve() == BUNDLED.resolve()
    for beta, path in zip(sw.betas, sw.run_dirs(root)):
        try:
            summary = summarize_run(path, bundled) if is_model_folder(path) else None
        except (UserError, OSError):  # damaged or deleted meanwhile
            summary = None
        found.append(Member(beta, path, summary))
    return found


# -- choosing a sweep -----------------------------------------------------------------------------
def default_sweep(root: Path, names: list[str]) -> str:
    """The sweep the current run belongs to, if it lies in this runs folder; else the newest."""
    current = shared.current_run_path()
    mine = sweep.sweep_of(current) if current.parent.resolve() == root.resolve() else None
    return mine if mine in names else names[0]


def pick_sweep(root: Path, names: list[str]) -> str:
    shared.on_new_model("sweep", lambda: st.session_state.update({PICK_KEY: default_sweep(root, names)}))
    if st.session_state.get(PICK_KEY) not in names:  # a new runs folder, or the sweep is gone
        st.session_state[PICK_KEY] = default_sweep(root, names)
    return st.selectbox(_("Sweep"), names, key=PICK_KEY,
                        format_func=lambda n: _("{name} (bundled example)").format(name=n[len(EXAMPLE):])
                        if n.startswith(EXAMPLE) else n,
                        help=_("The β sweeps of this runs folder, newest first, then the bundled example; the "
                               "default is the sweep of the current model, if it belongs to one."))


# -- the runs and their states ----------------------------------------------------------------------
def state_lines(ms: list[Member]) -> None:
    lines = []
    for m in ms:
        s = m.summary
        if s is None:
            lines.append(f"- :material/help: β = {m.beta:g} · `{m.path.name}` · "
                         + _("missing: its run folder was deleted or cannot be read"))
            continue
        detail = ""
        if s.state == RUNNING and s.status is not None:
            detail = " · " + _("epoch {epoch} of {epochs}").format(epoch=max(s.status.epoch, 1), epochs=s.status.epochs)
        elif m.finished:
            detail = " · " + _("KL {kl} · recon {recon} nats").format(kl=f"{s.test_kl:.2f}", recon=f"{s.test_recon:.2f}")
        elif s.state != FINISHED:
            reason = run_actions.reason_text(s.status)
            detail = f" · {reason}" if reason else ""
        lines.append(f"- {run_actions.STATE_ICONS.get(s.state, '')} β = {m.beta:g} · `{m.path.name}` · "
                     f"{run_actions.state_word(s.state)}{detail}")
    st.markdown("\n".join(lines))


def follow(root: Path, sw: sweep.Sweep, ms: list[Member]) -> None:
    """While a run of the sweep is queued or training: redraw the page when one changes state or ends an epoch."""
    if not any(m.summary is not None and m.summary.state in ACTIVE for m in ms):
        return

    def stamp() -> tuple:
        return tuple((m.summary.state if m.summary else None, file_stamp(m.path / HISTORY))
                     for m in members(root, sw))

    st.session_state[LIVE_KEY] = stamp()
    st.caption(_("Runs of this sweep are still queued or training: the page redraws as they go, and each joins the "
                 "view when it finishes."))

    @st.fragment(run_every=EVERY_S)
    def watch() -> None:
        if stamp() != st.session_state.get(LIVE_KEY):
            st.rerun()

    watch()


# -- what beta did --------------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner=False)
def _mig(path: str, digest: str, test_set: str, factor_names: tuple[str, ...], _model, _x, _factors) -> float:
    """MIG of the run's code mu(x) on the test images (cached per weights file and test set)."""
    from training.analysis import disentangle, latent

    mu = latent.encode_dataset(_model, _x)
    return disentangle.factor_information(mu, _factors, list(factor_names)).mig


@st.cache_data(max_entries=32, show_spinner=False)
def _traversal_grid(path: str, digest: str, dims: tuple[int, ...], n: int, _model) -> np.ndarray:
    """From z = 0, each dimension of DIMS in turn from -3 to +3: one row each, tiled into one image."""
    from training.analysis import latent

    z0 = np.zeros(_model.latent_dim, np.float32)
    z = latent_space.traversal_latents(z0, list(dims), np.linspace(-3.0, 3.0, n))
    decoded = latent.decode_images(_model, z.reshape(-1, z.shape[-1]))
    return images.image_grid(decoded, ncols=n, pad=1)


def rate_distortion(sw: sweep.Sweep, done: list[Member]) -> None:
    st.subheader(_("Rate and distortion"))
    st.plotly_chart(sweep_figures.rate_distortion_curve(
        [m.beta for m in done], [m.summary.test_kl for m in done], [m.summary.test_recon for m in done],
        [m.path.name for m in done]), key="sweep_rd", config=downloads.chart_config(f"{sw.name}-rate-distortion"))
    st.caption(_("One point per finished run, joined in order of β: rate is the test KL, distortion the test −ln "
                 "q(x|z), both in nats per image from the last epoch. A larger β buys a smaller rate with a larger "
                 "distortion."))


def mig_against_beta(sw: sweep.Sweep, done: list[Member]) -> None:
    st.subheader(_("MIG against β"))
    first = shared.load_run_of(done[0].path)  # the runs differ only in beta: one data set, one test set
    try:
        data = shared.data_of(first)
    except UserError as err:
        st.warning(_("The MIG needs the runs' data set, which cannot be loaded: {why}").format(why=error_text(err)))
        return
    if not (data.labels_are_factors and data.factor_names):
        st.caption(_("The MIG needs a data set whose images come with their true factors (such as shapes); {dataset} "
                     "has none.").format(dataset=first.config.train.dataset))
        return
    factors, names = data.y_test.numpy(), tuple(data.factor_names)
    # Each run recorded its last epoch's MIG (training/analysis/disentangle.py, same test images, same
    # weights): read it; only runs from before that record are encoded here.
    mig = [m.summary.mig for m in done]
    if any(v is None for v in mig):
        x, test_set = shared.current_test_images(first, data), shared.test_set_id(first)
        with st.spinner(_("Encoding the test images with each run...")):
            for k, m in enumerate(done):
                if mig[k] is None:
                    run = shared.load_run_of(m.path)
                    mig[k] = _mig(str(m.path), shared.weights_digest(m.path), test_set, names, run.model, x, factors)
    st.plotly_chart(sweep_figures.mig_curve([m.beta for m in done], mig), key="sweep_mig",
                    config=downloads.chart_config(f"{sw.name}-mig"))
    st.caption(_("The mutual information gap of each run's code μ(x) on the test images, averaged over the factors "
                 "{factors}: 1 when each factor lives in one dimension alone, 0 when it is spread over several.").format(
        factors=", ".join(dim_names.factor_title(f) for f in names)))


def traversals(sw: sweep.Sweep, done: list[Member]) -> None:
    st.subheader(_("The same traversal for each β"))
    z_dim = done[0].summary.latent_dim
    rows = 1 if z_dim < 2 else st.slider(_("Dimensions per run (largest KL first)"), 1, z_dim, min(z_dim, 6),
                                         key=f"sweep_rows_{z_dim}")
    h = shared.load_run_of(done[0].path).config.model.image_shape[1]
    factor = max(1, min(8, round(GRID_WIDTH / max(1, STEPS * (h + 1)))))
    with st.container(key="sweep_traversals"):
        for col, m in zip(st.columns(len(done)), done):
            run = shared.load_run_of(m.path)
            _kl, _active, order = latent_space.ranked_dims(run.history, run.config.model.latent_dim)
            dims = tuple(int(k) for k in order[:rows])
            grid = _traversal_grid(str(m.path), shared.weights_digest(m.path), dims, STEPS, run.model)
            with col:
                st.image(images.upscale_nearest(images.squeeze_gray(images.to_uint8(grid)), factor))
                st.caption(_("β = {beta} · rows: {dims}").format(beta=f"{m.beta:g}",
                                                                  dims=", ".join(f"z_{k}" for k in dims)))
                downloads.image_button(grid, f"{m.path.name}-traversal", f"sweep_traversal_{m.path.name}")
    st.caption(_("Each grid starts from z = 0 and moves one dimension at a time from −3 to +3, one row per "
                 "dimension, the run's own dimensions in order of their KL (largest first)."))


def main() -> None:
    st.title(_("Sweep"))
    st.caption(_("A β sweep trains one run per value of β with every other setting equal, so its runs show what β "
                 "does: how the rate (KL) trades against the distortion, how well the code separates known factors, "
                 "and what each dimension draws."))
    root = shared.runs_root()
    names = sweep.sweep_names(root)
    examples = [EXAMPLE + n for n in sweep.sweep_names(BUNDLED)]
    if not names:
        st.info(_("No β sweep in this runs folder yet. Start one on the Train page (fill in 'β sweep'), or from the "
                  "command line: {command}.").format(
            command=f"`python -m training sweep --beta 0.5,1,2,4,8 --out {serving.shown_path(root)}/NAME`")
                + (" " + _("Meanwhile, here is the bundled example.") if examples else ""))
    if not names + examples:
        return
    name = pick_sweep(root, names + examples)
    if name.startswith(EXAMPLE):
        root, name = BUNDLED, name[len(EXAMPLE):]
        st.caption(_("A bundled example, read-only: three small runs (16-pixel shapes, 6 latent dimensions, 32 hidden "
                     "units, 40 epochs each) that differ only in β; `make demos` trains them again."))
    try:
        sw = sweep.read_sweep(root, name)
    except UserError as err:
        st.error(error_text(err))
        return
    ms = members(root, sw)
    follow(root, sw, ms)
    state_lines(ms)
    done = [m for m in ms if m.finished]
    if not done:
        st.info(_("No run of this sweep has finished yet: the curves and traversals appear as they finish."))
        return
    rate_distortion(sw, done)
    mig_against_beta(sw, done)
    traversals(sw, done)


main()
