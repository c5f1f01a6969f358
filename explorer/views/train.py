"""Train: a form that starts a training in the background, and a live view of this session's trainings.

The trainings live in ``explorer.jobs.shared_manager()``, not in this page, so they keep running
while other pages are used; this page only reads their snapshots, refreshing once a second.
"""

from __future__ import annotations

import time
from argparse import Namespace

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import state
from explorer.jobs import DONE, FAILED, QUEUED, RUNNING, STOPPED, JobManager, JobView, shared_manager
from explorer.train_figures import beta_figure, loss_figure
from training.cli import DEFAULT_HIDDEN, config_from_flags, safe_name
from training.config import ARCHS, LIKELIHOODS, ModelConfig, RunConfig, TrainConfig
from training.data import DATASET_NAMES, list_datasets
from training.data.registry import FOLDER_PREFIX, IMAGE_SIZE_RANGE
from training.errors import UserError
from training.runs import run_path

FOLDER_CHOICE = "folder:PATH"
MAX_JS_INT = 2**53 - 1  # number inputs travel through JavaScript numbers
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page and comes back
STATUS_ICONS = {QUEUED: ":material/hourglass_top:", RUNNING: ":material/play_circle:", DONE: ":material/check_circle:",
                STOPPED: ":material/stop_circle:", FAILED: ":material/error:"}


# -- the form -------------------------------------------------------------------------------
def limits(section: type, field: str, floor: float | None = None) -> tuple:
    """(min, max) of a config field from its pydantic bounds; ``floor`` stands in for an exclusive 0."""
    info = section.model_fields[field]
    low = high = None
    for rule in info.metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
        if getattr(rule, "gt", None) is not None:
            low = floor
    return low, high


def number(label: str, section: type, field: str, key: str, floor: float | None = None, **kwargs):
    low, high = limits(section, field, floor)
    default = section.model_fields[field].default
    if isinstance(default, int):
        high = min(high, MAX_JS_INT)
    else:
        low, high, default = float(low), float(high), float(default)
    return st.number_input(label, min_value=low, max_value=high, value=default, key=key, **KEEP, **kwargs)


def dataset_label(name: str) -> str:
    info = DATASET_INFO.get(name)
    return f"{name} (needs a download)" if info is not None and not info.available else name


def config_from_form(f: dict) -> RunConfig:
    """The RunConfig the form describes, built by the same code as the command line's flags."""
    if f["dataset"] == FOLDER_CHOICE:
        path = f["folder"].strip()
        if not path:
            raise UserError("Type the image folder's path in the 'Image folder' field to train on a folder.")
        dataset, shape = FOLDER_PREFIX + path, (f["channels"], f["image_size"], f["image_size"])
    elif f["folder"].strip():
        raise UserError(f"An image folder is typed in, but the data set is {f['dataset']}; choose 'folder:PATH' "
                        "to train on the folder, or clear the 'Image folder' field.")
    elif f["dataset"] == "shapes":
        dataset, shape = "shapes", (1, f["image_size"], f["image_size"])
    else:
        dataset, shape = f["dataset"], DATASET_INFO[f["dataset"]].image_shape
    flags = Namespace(
        dataset=dataset, arch=f["arch"], hidden=f["hidden"].strip() or None, latent_dim=f["latent_dim"],
        likelihood=f["likelihood"], sigma=f["sigma"] if f["likelihood"] == "gaussian" else None, min_sigma=None,
        beta=f["beta"], warmup_epochs=f["warmup"], cycles=f["cycles"], free_bits=f["free_bits"], samples=None,
        binarize=None, epochs=f["epochs"], batch_size=f["batch_size"], lr=f["lr"], seed=f["seed"],
    )
    return config_from_flags(flags, shape)


def default_run_name(config: RunConfig) -> str:
    return time.strftime(f"{safe_name(config.train.dataset)}-{config.model.arch}-z{config.model.latent_dim}-%Y%m%d-%H%M%S")


def training_form() -> dict | None:
    """The form's values once submitted, else None."""
    with st.form("train_form"):
        data_col, model_col, objective_col = st.columns(3)
        with data_col:
            st.markdown("**Data**")
            dataset = st.selectbox("Data set", [*DATASET_NAMES, FOLDER_CHOICE], format_func=dataset_label,
                                   key="train_dataset", **KEEP)
            folder = st.text_input("Image folder", key="train_folder", placeholder="/path/to/images", **KEEP,
                                   help="For the data set 'folder:PATH': a folder of images (sub-folders = classes).")
            image_size = st.number_input("Image size (pixels)", *IMAGE_SIZE_RANGE, value=28, key="train_image_size",
                                         help="Side of 'shapes' (at most 128) and folder images; other sets are fixed.",
                                         **KEEP)
            channels = st.radio("Channels (folders)", (1, 3), horizontal=True, key="train_channels", **KEEP,
                                format_func=lambda c: "grey" if c == 1 else "colour")
            name = st.text_input("Run name", key="train_name", placeholder="automatic: dataset-arch-zN-time",
                                 help=f"Saved as a folder under {state.runs_root()}.")
        with model_col:
            st.markdown("**Model**")
            arch = st.radio("Architecture", ARCHS, horizontal=True, key="train_arch", **KEEP)
            latent_dim = number("Latent dimensions", ModelConfig, "latent_dim", "train_latent_dim")
            hidden = st.text_input("Hidden sizes", key="train_hidden", **KEEP,
                                   placeholder=f"mlp: {DEFAULT_HIDDEN['mlp']}; conv: {DEFAULT_HIDDEN['conv']}",
                                   help="Comma-separated widths (mlp) or channels per stride-2 layer (conv).")
            likelihood = st.selectbox("Likelihood", LIKELIHOODS, key="train_likelihood", **KEEP)
            sigma = number("Decoder sigma~ (gaussian only)", ModelConfig, "sigma", "train_sigma", floor=0.001,
                           step=0.01, format="%.3f")
        with objective_col:
            st.markdown("**Objective and optimiser**")
            beta = number("beta (KL weight)", TrainConfig, "beta", "train_beta", step=0.1)
            warmup = number("Warm-up epochs", TrainConfig, "warmup_epochs", "train_warmup", step=1.0,
                            help="Raise beta linearly from 0 over this many epochs (0 = off).")
            cycles = number("Cyclical annealing cycles", TrainConfig, "cycles", "train_cycles",
                            help="Repeat a 0-to-beta ramp this many times (0 = off); not together with warm-up.")
            free_bits = number("Free bits (nats per dimension)", TrainConfig, "free_bits", "train_free_bits", step=0.1)
            epochs = number("Epochs", TrainConfig, "epochs", "train_epochs")
            batch_size = number("Batch size", TrainConfig, "batch_size", "train_batch_size")
            lr = number("Learning rate", TrainConfig, "lr", "train_lr", floor=1e-6, step=1e-4, format="%.6f")
            seed = number("Seed", TrainConfig, "seed", "train_seed")
        if not st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
            return None
    return dict(dataset=dataset, folder=folder, image_size=int(image_size), channels=channels, name=name, arch=arch,
                latent_dim=latent_dim, hidden=hidden, likelihood=likelihood, sigma=sigma, beta=beta, warmup=warmup,
                cycles=cycles, free_bits=free_bits, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


def start_training(manager: JobManager, session: str, form: dict) -> None:
    config = config_from_form(form)
    run_dir = run_path(state.runs_root(), form["name"].strip() or default_run_name(config))
    manager.start(session, config, run_dir)


# -- the live view --------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_text(job: JobView) -> str:
    if job.steps_per_epoch == 0:
        return "Loading the data set..."
    return f"Epoch {max(job.epoch, 1)} of {job.epochs}, step {job.step} of {job.steps_per_epoch}"


def use_button(job: JobView) -> None:
    if job.active or not job.has_model:
        return
    in_use = state.current_run_path() == job.run_dir
    if st.button("In use" if in_use else "Use this model", key=f"use_{job.id}", disabled=in_use,
                 icon=":material/check:", type="primary" if job.status == DONE else "secondary"):
        state.select_run(job.run_dir)
        st.rerun()  # the whole app, so the sidebar shows the new model


def stop_button(manager: JobManager, job: JobView) -> None:
    if not job.active:
        return
    label = "Cancel" if job.status == QUEUED else ("Stopping..." if job.stop_requested else "Stop")
    st.button(label, key=f"stop_{job.id}", icon=":material/stop:", disabled=job.stop_requested,
              on_click=manager.stop, args=(job.id,))


def job_detail(manager: JobManager, job: JobView) -> None:
    st.subheader(f"{job.name}", anchor=False)
    st.caption(f"{STATUS_ICONS[job.status]} {job.status} · {job.config.train.dataset}, {job.config.model.arch}, "
               f"z = {job.config.model.latent_dim}, {job.config.model.likelihood}, beta = {job.config.train.beta:g} · "
               f"saved in `{job.run_dir}`")
    if job.status == QUEUED:
        others = sum(j.status == RUNNING and j.session != job.session for j in manager.jobs())
        st.info(f"Waiting for a free slot: number {job.queue_position} in the queue; {manager.max_running} "
                f"training(s) run at a time" + (f", {others} of them started in other sessions." if others else "."))
    elif job.status == RUNNING:
        st.progress(job.fraction, text=progress_text(job))
    elif job.status == DONE:
        st.success(f"Finished {job.epochs} epochs in {duration(job.elapsed)}.")
    elif job.status == STOPPED:
        st.warning(job.message or "Stopped.")
    else:
        st.error(job.error or "The training failed.")
    cols = st.columns(5)
    last = job.records[-1] if job.records else {}
    cols[0].metric("Elapsed", duration(job.elapsed))
    cols[1].metric("Time left", duration(job.eta) if job.status == RUNNING else "-")
    cols[2].metric("beta now", f"{job.steps[-1].beta:.3g}" if job.steps else "-")
    cols[3].metric("Test -ELBO", f"{last['test_neg_elbo']:.2f}" if "test_neg_elbo" in last else "-")
    cols[4].metric("Active units", f"{last['active_units']} of {job.config.model.latent_dim}"
                   if "active_units" in last else "-")
    with st.container(horizontal=True):
        stop_button(manager, job)
        use_button(job)
    if job.status == QUEUED:
        return
    left, right = st.columns(2)
    left.plotly_chart(loss_figure("recon", job.steps, job.records, job.steps_per_epoch), key=f"recon_{job.id}")
    right.plotly_chart(loss_figure("kl", job.steps, job.records, job.steps_per_epoch), key=f"kl_{job.id}")
    left.plotly_chart(beta_figure(job.steps, job.steps_per_epoch), key=f"beta_{job.id}")


def job_row(manager: JobManager, job: JobView) -> None:
    with st.container(border=True):
        name, status, stop, use = st.columns([3, 3, 1, 1], vertical_alignment="center")
        name.markdown(f"{STATUS_ICONS[job.status]} **{job.name}**")
        if job.status == RUNNING:
            status.progress(job.fraction, text=progress_text(job))
        elif job.status == QUEUED:
            status.write(f"queued, number {job.queue_position}")
        else:
            status.write(job.error or job.message or job.status)
        with stop:
            stop_button(manager, job)
        with use:
            use_button(job)


def jobs_view(manager: JobManager, session: str) -> None:
    """This session's trainings; refreshes itself once a second while any of them is queued or running."""
    any_active = any(job.active for job in manager.jobs(session))

    @st.fragment(run_every=1.0 if any_active else None)
    def live() -> None:
        jobs = manager.jobs(session)
        if any_active and not any(job.active for job in jobs):
            st.rerun()  # all finished: redraw the page once (the sidebar lists the new runs) and stop ticking
        if not jobs:
            st.info("No training in this session yet: fill in the form and press **Start training**.")
            return
        job_detail(manager, jobs[0])
        if len(jobs) > 1:
            st.markdown("**Earlier trainings in this session**")
            for job in jobs[1:]:
                job_row(manager, job)

    live()


# -- the page -------------------------------------------------------------------------------
st.title("Train a VAE")
st.caption("Trainings run in the background: other pages stay usable, and leaving this page does not stop them. "
           "Each epoch's checkpoint is saved, so Stop keeps the last complete epoch.")
DATASET_INFO = {info.name: info for info in list_datasets()}
ctx = get_script_run_ctx()
SESSION = ctx.session_id if ctx is not None else "local"
try:
    MANAGER = shared_manager()
except UserError as err:
    st.error(str(err))
    st.stop()

form = training_form()
if form is not None:
    try:
        start_training(MANAGER, SESSION, form)
    except UserError as err:
        st.error(str(err))
jobs_view(MANAGER, SESSION)
