"""Pages that follow a training: while the current run trains, redraw when its files change.

The run folder is the truth (training/runs/layout.py): each finished epoch rewrites ``model.safetensors``
and appends to ``history.jsonl``. A page calls ``follow_training()`` once; while the current run is active
a small fragment looks at those two files once a second (their size and time, no reading) and redraws
the whole page when either changed, so the Latent map and Balance show the model as it forms without the
visitor clicking. When the run ends the fragment stops ticking.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.state import shared
from training.runs.layout import HISTORY, WEIGHTS, file_stamp
from training.runs.status import ACTIVE, observed_state, read_status

EVERY_S = 1.0


def _stamp(run_dir: Path) -> tuple:
    return file_stamp(run_dir / WEIGHTS), file_stamp(run_dir / HISTORY)


def training(run_dir: Path) -> bool:
    """Whether the run at RUN_DIR is queued or training now (a run without a status file is not)."""
    try:
        status = read_status(run_dir)
    except Exception:  # noqa: BLE001 - a damaged status file: not followed
        return False
    return status is not None and observed_state(run_dir, status) in ACTIVE


def follow_training(page: str) -> None:
    """While the current run trains: a note, and a redraw of the page whenever an epoch is written."""
    run_dir = shared.current_run_path()
    if not training(run_dir):
        return
    key = f"live_{page}"
    st.session_state[key] = _stamp(run_dir)
    st.caption(_("This run is training: the page redraws after each epoch."), help=None)

    @st.fragment(run_every=EVERY_S)
    def watch() -> None:
        if _stamp(run_dir) != st.session_state.get(key) or not training(run_dir):
            st.rerun()  # the whole page, with the new weights (their digest changed) and history

    watch()
