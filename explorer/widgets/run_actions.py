"""The buttons that act on a run, shared by the Train and Models pages: Stop, Resume, Use, Delete.

Each acts on the run folder through training/jobs/control.py (which takes the run's lock) and then shows
what the folder says; none keeps state of its own.
"""

from __future__ import annotations

import streamlit as st

from explorer import DEMOS
from explorer.i18n import N_, _, error_text, words
from explorer.state import serving, shared, trainings
from training.core.errors import UserError
from training.jobs.control import delete_run, resume, stop_run
from training.models.catalogue import RunSummary
from training.runs.status import ACTIVE, QUEUED

STATE_ICONS = {"queued": ":material/hourglass_top:", "running": ":material/play_circle:",
               "finished": ":material/check_circle:", "stopped": ":material/stop_circle:",
               "failed": ":material/error:", "interrupted": ":material/report:"}
STATE_WORDS = {"queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
               "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted")}
BADGE_COLOURS = {"queued": "gray", "running": "blue", "stopped": "orange", "failed": "red", "interrupted": "red"}
STOP_WAIT_S = 0.8  # the page shows the stopped state at once: the training records it within a step


def state_word(state_name: str) -> str:
    """A run's state in the visitor's language."""
    return _(STATE_WORDS.get(state_name, state_name))


def badge(state_name: str) -> str:
    """A coloured badge for a state that needs attention (none for finished runs)."""
    colour = BADGE_COLOURS.get(state_name)
    return f":{colour}-badge[{state_word(state_name)}]" if colour else ""


def reason_text(status, field: str = "reason") -> str:
    """Why a run stopped or failed (or, with ``field="data_note"``, what was skipped of its data), in the
    visitor's language: the status keeps the sentence's template and values beside its English text."""
    text = getattr(status, field, None) if status is not None else None
    if not text:
        return ""
    return words(getattr(status, f"{field}_template", None), getattr(status, f"{field}_values", None), text)


def _stop(run: RunSummary) -> None:
    try:
        stop_run(run.path, wait=STOP_WAIT_S)
    except UserError as err:
        st.session_state["run_action_error"] = error_text(err)


def _resume(run: RunSummary) -> None:
    try:
        serving.check_free_disk(run.path.parent)
        resume(run.path, trainings.launcher(run.path.parent), **trainings.quota(trainings.visitor_id()))
    except UserError as err:
        st.session_state["run_action_error"] = error_text(err)


def show_action_error() -> None:
    """A sentence left by a button's callback (callbacks run before the page draws)."""
    message = st.session_state.pop("run_action_error", None)
    if message:
        st.error(message, icon=":material/error:")


def stop_button(run: RunSummary, key: str) -> None:
    if run.state in ACTIVE:
        st.button(_("Cancel") if run.state == QUEUED else _("Stop"), key=f"stop_{key}", icon=":material/stop:",
                  on_click=_stop, args=(run,), help=_("Stops after the current step; the last epoch's checkpoint is kept."))


def resume_button(run: RunSummary, key: str) -> None:
    if run.resumable:
        st.button(_("Resume"), key=f"resume_{key}", icon=":material/play_arrow:", on_click=_resume, args=(run,),
                  help=_("Continue from the last saved epoch; the result equals an uninterrupted run."))


def use_button(run: RunSummary, key: str) -> None:
    if not run.ready:
        return
    in_use = shared.same_run(run.path, shared.current_run_path())
    if st.button(_("In use") if in_use else _("Use"), key=f"use_{key}", disabled=in_use, icon=":material/check:"):
        shared.choose_run(run.path)  # the whole app redraws: the button may sit in a fragment


SLIDERS_PAGE = "views/sliders.py"


def open_button(run: RunSummary, key: str) -> None:
    """'Open in Latent sliders': make the run the current model and go to the first page."""
    if st.button(_("Open in Latent sliders"), key=f"open_{key}", icon=":material/tune:", type="primary",
                 help=_("Make this run the current model and move its latent point with the sliders.")):
        shared.select_run(run.path)
        st.switch_page(SLIDERS_PAGE)


DELETE_PENDING = "delete_pending"  # the run whose Delete was pressed: its dialog stays open until answered


def _ask_delete(path: str) -> None:
    st.session_state[DELETE_PENDING] = path


def _forget_delete() -> None:
    st.session_state.pop(DELETE_PENDING, None)


def _delete_for_good(path: str) -> None:
    _forget_delete()
    try:
        delete_run(path, bundled=DEMOS)
    except UserError as err:
        st.session_state["run_action_error"] = error_text(err)
    else:
        if shared.same_run(path, shared.current_run_path()):
            shared.select_run(shared.default_run())


def _confirm_delete(run: RunSummary) -> None:
    """The dialog's body (its title, in the visitor's language, is given where it opens). Its answers act in
    callbacks, which run before any rerun: a refresh of the card list that meets the press cannot lose it."""
    st.write(_("**{name}** and everything in its folder (weights, checkpoint, history) will be removed for good.").format(
        name=run.name))
    st.caption(f"`{serving.shown_path(run.path)}`")
    left, right = st.columns(2)
    deleted = left.button(_("Delete for good"), type="primary", icon=":material/delete:", key="confirm_delete",
                          on_click=_delete_for_good, args=(str(run.path),))
    kept = right.button(_("Keep it"), key="keep_run", on_click=_forget_delete)
    if deleted or kept:
        st.rerun()  # the whole page: the dialog closes, the card list is drawn anew


def delete_button(run: RunSummary, key: str) -> None:
    """Delete asks first. The press is recorded by a callback, before any rerun, so a card list that
    refreshes every second while a training runs cannot lose it; the dialog is drawn on every refresh
    until it is answered."""
    if run.bundled or run.state in ACTIVE:
        return
    st.button(_("Delete"), key=f"delete_{key}", icon=":material/delete:", on_click=_ask_delete, args=(str(run.path),))
    if st.session_state.get(DELETE_PENDING) == str(run.path):
        # Not dismissible: it closes only through its own two buttons. A dismissal (Escape, a click outside) is a
        # rerun of its own, and one that met the card list's refresh could be lost and the dialog come back.
        st.dialog(_("Delete this run?"), dismissible=False)(_confirm_delete)(run)
