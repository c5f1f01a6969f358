"""Train: a form that queues a training, and the live view of every training in the runs folder.

A training is its own process (training/jobs/control.py); this page only starts it, signals it and reads
its run folder (status.json, steps.csv, history.jsonl). So every tab, every visitor, a reloaded tab,
a restarted server and a ``python -m training fit`` started by hand into the same runs folder all
show the same progress and the same Stop button. While any training is queued or running the view
rereads the folder once a second.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from explorer.figures.train_figures import beta_figure, loss_figure
from explorer.i18n import _, arch_word, error_text, likelihood_word, public
from explorer.state import serving, shared, trainings
from explorer.widgets import downloads, run_actions
from explorer.widgets.train_form import betas_from_form, config_from_form, sweep_name_of, training_form
from training.core.errors import UserError
from training.core.settings import default_run_name
from training.jobs.control import submit, start_sweep
from training.models.catalogue import RunSummary, summarize_run
from training.runs.layout import read_history
from training.runs.queue import queue_positions, scan
from training.runs.status import ACTIVE, FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, STOPPED
from training.runs.step_log import read_steps
from training.runs.sweep import MAX_BETAS

RECENT = 6  # ended trainings listed below the live ones
FOCUS_KEY = "train_focus"
CHARTS_EVERY = 3.0  # seconds between redraws of the loss curves while a training is active
# A sweep may bring a visitor's trainings queued or running up to this many (a single training: 4).
SWEEP_ACTIVE_PER_VISITOR = max(trainings.MAX_ACTIVE_PER_VISITOR, MAX_BETAS)
SWEEP_PAGE = Path(__file__).resolve().parent / "sweep.py"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return _("{s} s").format(s=seconds)
    if seconds < 3600:
        return _("{m} min {s} s").format(m=seconds // 60, s=f"{seconds % 60:02d}")
    return _("{h} h {m} min").format(h=seconds // 3600, m=f"{seconds % 3600 // 60:02d}")


@st.cache_data(max_entries=64, show_spinner=False)
def _steps(path: str, mtime_ns: int, size: int):
    return read_steps(path)


@st.cache_data(max_entries=64, show_spinner=False)
def _history(path: str, mtime_ns: int, size: int) -> list[dict]:
    return [{k: v for k, v in r.items() if isinstance(v, (int, float))} for r in read_history(path)]


def _cached(reader, path: Path, name: str):
    try:
        stat = (path / name).stat()
    except FileNotFoundError:
        return []
    try:
        return reader(str(path), stat.st_mtime_ns, stat.st_size)
    except UserError:
        return []


def trainings_of(root: Path) -> list[RunSummary]:
    """The folder's trainings (runs with a status file): every active one, then the newest others."""
    found = sorted(scan(root), key=lambda f: (f[2] not in ACTIVE, -(f[1].queued_at or 0.0)))
    shown = [f for i, f in enumerate(found) if f[2] in ACTIVE or i < RECENT + 1]
    runs = []
    for path, _status, _state in shown:
        try:
            runs.append(summarize_run(path))
        except (UserError, OSError):  # damaged or deleted meanwhile
            continue
    return runs


def progress_text(run: RunSummary) -> str:
    s = run.status
    if s.steps_per_epoch == 0:
        return _("Loading the data set...")
    return _("Epoch {epoch} of {epochs}, step {step} of {steps}").format(epoch=max(s.epoch, 1), epochs=s.epochs,
                                                                         step=s.step, steps=s.steps_per_epoch)


def state_line(run: RunSummary, positions: dict[Path, int], launcher) -> None:
    s = run.status
    if run.state == QUEUED:
        place = positions.get(run.path)
        slots = (_("{n} training(s) run at a time").format(n=launcher.max_running) if launcher.max_running
                 else _("the cluster decides"))
        st.info(_("Waiting for a free slot: number {place} in the queue; {slots}.").format(place=place or "-", slots=slots),
                icon=":material/hourglass_top:")
    elif run.state == RUNNING:
        st.progress(s.fraction, text=progress_text(run))
    elif run.state == FINISHED:  # in the time trained over all its sessions (Stop and Resume included)
        st.success(_("Finished {epochs} epochs in {took}.").format(epochs=s.epochs, took=duration(s.trained_seconds())))
    elif run.state == STOPPED:
        st.warning(run_actions.reason_text(s) or _("Stopped."))
    elif run.state == INTERRUPTED:
        st.error(_("Interrupted at epoch {done} of {planned}: its process ended without saying why (killed, or its "
                   "machine went down). Resume continues from the last saved epoch.").format(
            done=run.epochs_done, planned=run.epochs_planned), icon=":material/report:")
    elif run.state == FAILED:
        st.error(run_actions.reason_text(s) or _("The training failed."))


def detail(run: RunSummary, positions: dict[Path, int], launcher) -> None:
    s = run.status
    st.subheader(run.name, anchor=False)
    owner = (" · " + _("process {pid} on {host}").format(pid=s.owner.pid, host=s.owner.host)
             if s.owner is not None and run.state in ACTIVE and not serving.served() else "")
    st.caption(f"{run_actions.STATE_ICONS[run.state]} {run_actions.state_word(run.state)} · {public(run.dataset)} · "
               f"{arch_word(run.arch)} · z = {run.latent_dim} · {likelihood_word(run.likelihood)} · β = {run.beta:g} · "
               + _("saved in {path}").format(path=f"`{serving.shown_path(run.path)}`") + owner)
    state_line(run, positions, launcher)
    if s.data_note:
        st.warning(run_actions.reason_text(s, "data_note"), icon=":material/warning:")
    history = _cached(_history, run.path, "history.jsonl")
    steps = _cached(_steps, run.path, "steps.csv")
    last = history[-1] if history else {}
    cols = st.columns(5)
    # every session's time: a resumed run goes on from what it had trained before Stop (its process gone: its last word)
    cols[0].metric(_("Elapsed"), duration(s.trained_seconds(s.heartbeat if run.state == INTERRUPTED else time.time())))
    cols[1].metric(_("Time left"), duration(s.eta) if run.state == RUNNING else "-")
    cols[2].metric(_("β now"), f"{steps[-1].beta:.3g}" if steps else "-")
    cols[3].metric(_("test −ELBO"), f"{last['test_neg_elbo']:.2f}" if "test_neg_elbo" in last else "-")
    cols[4].metric(_("Active units"), _("{active} of {z_dim}").format(active=last["active_units"], z_dim=run.latent_dim)
                   if "active_units" in last else "-")
    with st.container(horizontal=True):
        run_actions.stop_button(run, run.name)
        run_actions.resume_button(run, run.name)
        run_actions.use_button(run, f"train_{run.name}")
        if run.state == FINISHED and run.ready:
            run_actions.open_button(run, f"train_{run.name}")


def charts(run: RunSummary) -> None:
    """The loss curves of one training: reconstruction, KL and beta, per step and per epoch."""
    steps = _cached(_steps, run.path, "steps.csv")
    if not steps and run.state != RUNNING:  # queued, or cancelled or failed before its first step: nothing to draw
        return
    history = _cached(_history, run.path, "history.jsonl")
    left, right = st.columns(2)
    per_epoch = run.status.steps_per_epoch
    left.plotly_chart(loss_figure("recon", steps, history, per_epoch), key=f"recon_{run.name}",
                      config=downloads.chart_config(f"{run.name}-recon"))
    right.plotly_chart(loss_figure("kl", steps, history, per_epoch), key=f"kl_{run.name}",
                       config=downloads.chart_config(f"{run.name}-kl"))
    left.plotly_chart(beta_figure(steps, per_epoch), key=f"beta_{run.name}", config=downloads.chart_config(f"{run.name}-beta"))


def row(run: RunSummary, positions: dict[Path, int]) -> None:
    with st.container(border=True):
        name, status, buttons = st.columns([3, 3, 3], vertical_alignment="center")
        name.markdown(f"{run_actions.STATE_ICONS[run.state]} **{run.name}**")
        if run.state == RUNNING:
            status.progress(run.status.fraction, text=progress_text(run))
        elif run.state == QUEUED:
            status.write(_("queued, number {place}").format(place=positions.get(run.path, "-")))
        else:
            status.write(run_actions.reason_text(run.status) or run_actions.state_word(run.state))
        with buttons, st.container(horizontal=True):
            if st.button(_("Show"), key=f"show_{run.name}", icon=":material/visibility:"):
                st.session_state[FOCUS_KEY] = run.name
                st.rerun()  # the status, the curves and this list all follow
            run_actions.stop_button(run, f"row_{run.name}")
            run_actions.resume_button(run, f"row_{run.name}")
            run_actions.use_button(run, f"row_{run.name}")


def focus(runs: list[RunSummary], visitor: str) -> RunSummary:
    """The run shown in detail: the one picked with Show, else this visitor's newest active one,
    else the newest active one, else the newest."""
    by_name = {r.name: r for r in runs}
    picked = by_name.get(st.session_state.get(FOCUS_KEY, ""))
    mine = [r for r in runs if r.status.requested_by == visitor]
    return (picked or next((r for r in mine if r.state in ACTIVE), None)
            or next((r for r in runs if r.state in ACTIVE), None) or (mine or runs)[0])


def live_view(root: Path, visitor: str, above) -> None:
    """Every training of the runs folder: the status of the one in focus in ABOVE (a container above the form,
    so that it shows without scrolling), its curves and the others below. While one is active the status parts
    reread the folder
    once a second and the curves every CHARTS_EVERY seconds: redrawing three Plotly charts each
    second would cost every watching browser (and the server) far more than the curves gain."""
    any_active = any(r.state in ACTIVE for r in trainings_of(root))
    tick = 1.0 if any_active else None

    @st.fragment(run_every=tick)
    def status() -> None:
        trainings.tend(root)
        runs = trainings_of(root)
        if any_active != any(r.state in ACTIVE for r in runs):
            # All ended: redraw the page once (the sidebar lists the new runs) and stop ticking; or one
            # began (Resume pressed here, or a training started elsewhere): redraw so this view ticks.
            st.rerun()
        run_actions.show_action_error()
        if not runs:
            st.info(_("No trainings in this runs folder yet: fill in the form and press **Start training**."))
            return
        positions = queue_positions(root) if any(r.state == QUEUED for r in runs) else {}
        detail(focus(runs, visitor), positions, trainings.launcher(root))

    @st.fragment(run_every=CHARTS_EVERY if any_active else None)
    def curves() -> None:
        runs = trainings_of(root)
        if runs:
            charts(focus(runs, visitor))

    @st.fragment(run_every=tick)
    def others() -> None:
        runs = trainings_of(root)
        if len(runs) < 2:
            return
        shown = focus(runs, visitor)
        positions = queue_positions(root) if any(r.state == QUEUED for r in runs) else {}
        st.markdown("**" + _("Other trainings in this runs folder") + "**")
        for run in runs:
            if run.path != shown.path:
                row(run, positions)

    with above:
        status()
    curves()
    others()


def main() -> None:
    st.title(_("Train a VAE"))
    st.caption(_("Each training runs in a process of its own: other pages stay quick, and neither leaving this page, "
                 "reloading it nor restarting the app stops it. Each epoch's checkpoint is saved, so Stop keeps the "
                 "last complete epoch and Resume continues from it."))
    root, visitor = shared.runs_root(), trainings.visitor_id()
    try:
        launcher = trainings.launcher(root)
    except UserError as err:
        st.error(error_text(err))
        st.stop()
    above = st.container()  # the live status: filled once the form's request (if any) is queued
    form = training_form()
    if form is not None:
        try:
            config = config_from_form(form)
            serving.check_free_disk(root)  # below the operator's floor: one sentence, nothing queued
            name = form["name"].strip() or default_run_name(config)
            betas = betas_from_form(form)
            if betas is None:
                submit(root, name, config, launcher, device=form["device"], **trainings.quota(visitor))
                st.session_state[FOCUS_KEY] = name
            else:  # one queued training per beta, each by the same submit()
                started = start_sweep(root, name, config, betas, launcher, sweep_name_of, device=form["device"],
                                      **trainings.quota(visitor, SWEEP_ACTIVE_PER_VISITOR))
                st.session_state[FOCUS_KEY] = started.runs[0]
                st.success(_("Sweep {name}: {count} trainings queued, one per β ({betas}).").format(
                    name=started.name, count=len(started.runs), betas=", ".join(f"{b:g}" for b in started.betas)))
                st.page_link(SWEEP_PAGE, label=_("See them side by side on the Sweep page"),
                             icon=":material/stacked_line_chart:")
        except UserError as err:
            st.error(error_text(err))
    live_view(root, visitor, above)


main()
