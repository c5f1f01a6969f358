"""The buttons that act on a run, shared by the Train and Models pages: Stop, Resume, Use, Delete.

Each acts on the run folder through training/launch.py (which takes the run's lock) and then shows
what the folder says; none keeps state of its own.
"""

from __future__ import annotations

import streamlit as st

from explorer import DEMOS, state, trainings
from training.errors import UserError
from training.launch import delete_run, resume, stop_run
from training.run_status import ACTIVE, QUEUED
from training.run_folder import RunSummary

STATE_ICONS = {"queued": ":material/hourglass_top:", "running": ":material/play_circle:",
               "finished": ":material/check_circle:", "stopped": ":material/stop_circle:",
               "failed": ":material/error:", "interrupted": ":material/report:"}
STATE_BADGES = {"queued": ":gray-badge[queued]", "running": ":blue-badge[running]",
                "finished": "", "stopped": ":orange-badge[stopped]", "failed": ":red-badge[failed]",
                "interrupted": ":red-badge[interrupted]"}
STOP_WAIT_S = 0.8  # the page shows the stopped state at once: the training records it within a step


def _stop(run: RunSummary) -> None:
    try:
        stop_run(run.path, wait=STOP_WAIT_S)
    except UserError as err:
        st.session_state["run_action_error"] = str(err)


def _resume(run: RunSummary) -> None:
    try:
        resume(run.path, trainings.launcher(run.path.parent), requested_by=trainings.visitor_id())
    except UserError as err:
        st.session_state["run_action_error"] = str(err)


def show_action_error() -> None:
    """A sentence left by a button's callback (callbacks run before the page draws)."""
    message = st.session_state.pop("run_action_error", None)
    if message:
        st.error(message, icon=":material/error:")


def stop_button(run: RunSummary, key: str) -> None:
    if run.state in ACTIVE:
        st.button("Cancel" if run.state == QUEUED else "Stop", key=f"stop_{key}", icon=":material/stop:",
                  on_click=_stop, args=(run,), help="Stops after the current step; the last epoch's checkpoint is kept.")


def resume_button(run: RunSummary, key: str) -> None:
    if run.resumable:
        st.button("Resume", key=f"resume_{key}", icon=":material/play_arrow:", on_click=_resume, args=(run,),
                  help="Continue from the last saved epoch; the result equals an uninterrupted run.")


def use_button(run: RunSummary, key: str) -> None:
    if not run.ready:
        return
    in_use = state.same_run(run.path, state.current_run_path())
    if st.button("In use" if in_use else "Use", key=f"use_{key}", disabled=in_use, icon=":material/check:"):
        state.choose_run(run.path)  # the whole app redraws: the button may sit in a fragment


DELETE_PENDING = "delete_pending"  # the run whose Delete was pressed: its dialog stays open until answered


def _ask_delete(path: str) -> None:
    st.session_state[DELETE_PENDING] = path


def _forget_delete() -> None:
    st.session_state.pop(DELETE_PENDING, None)


@st.dialog("Delete this run?", on_dismiss=_forget_delete)
def _confirm_delete(run: RunSummary) -> None:
    st.write(f"**{run.name}** and everything in its folder (weights, checkpoint, history) will be removed "
             "for good.")
    st.caption(f"`{run.path}`")
    left, right = st.columns(2)
    if left.button("Delete for good", type="primary", icon=":material/delete:", key="confirm_delete"):
        _forget_delete()
        try:
            delete_run(run.path, bundled=DEMOS)
        except UserError as err:
            st.session_state["run_action_error"] = str(err)
        else:
            if state.same_run(run.path, state.current_run_path()):
                state.select_run(state.DEFAULT_RUN)
        st.rerun()
    if right.button("Keep it", key="keep_run"):
        _forget_delete()
        st.rerun()


def delete_button(run: RunSummary, key: str) -> None:
    """Delete asks first. The press is recorded by a callback, before any rerun, so a card list that
    refreshes every second while a training runs cannot lose it; the dialog is drawn on every refresh
    until it is answered or dismissed."""
    if run.bundled or run.state in ACTIVE:
        return
    st.button("Delete", key=f"delete_{key}", icon=":material/delete:", on_click=_ask_delete, args=(str(run.path),))
    if st.session_state.get(DELETE_PENDING) == str(run.path):
        _confirm_delete(run)
