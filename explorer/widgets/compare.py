"""Compare runs: the current model and up to three others trained on the same data set.

The sidebar's "Compare with" picks them (and the link carries them as ``compare=name,name``); pages ask
``picked()`` for the ones that still fit the current model. Balance overlays their curves and outlines them
on the rate-distortion plane; Latent sliders decodes the current z with each of them (equal latent sizes)
and reconstructs the current test image with each.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.state import shared, view_link
from explorer.widgets import model_words
from training.models.catalogue import RunSummary

KEY = "compare_runs"
MAX_OTHERS = 3  # 2 to 4 runs in all


def candidates() -> list[RunSummary]:
    """Runs that can stand beside the current one: offered, other, on the same data set."""
    current = shared.canonical(shared.current_run_path())
    runs = shared.available_runs()
    mine = next((r for r in runs if shared.canonical(r.path) == current), None)
    if mine is None:
        return []
    return [r for r in runs if shared.canonical(r.path) != current and r.dataset == mine.dataset]


def picker() -> None:
    """The sidebar's choice of runs to compare (after the model picker)."""
    options = {shared.canonical(r.path): r for r in candidates()}
    asked = view_link.wanted("compare")
    if asked is not None:  # a link names them
        names = asked.split(",")
        st.session_state[KEY] = [p for p, r in options.items() if r.name in names][:MAX_OTHERS]
    kept = [p for p in st.session_state.get(KEY, []) if p in options]
    if kept != st.session_state.get(KEY):
        st.session_state[KEY] = kept  # runs of another data set (the model changed) drop out
    st.sidebar.multiselect(_("Compare with"), list(options), key=KEY, max_selections=MAX_OTHERS,
                           format_func=lambda p: model_words.short_label(options[p]) if p in options else Path(p).name,
                           placeholder=_("other models of this data set"),
                           help=_("Up to three runs trained on the same data set: Balance overlays their curves, "
                                  "Latent sliders decodes the same z and reconstructs the same image with each."))
    view_link.write(compare=",".join(options[p].name for p in st.session_state[KEY]) or None)


def picked() -> list[RunSummary]:
    """The runs picked for comparison that still fit the current model (same data set)."""
    options = {shared.canonical(r.path): r for r in candidates()}
    return [options[p] for p in st.session_state.get(KEY, []) if p in options]


def decoder_of(run: RunSummary):
    """The numpy decoder of a compared run (cached like the current one's), None if it cannot be read."""
    try:
        return shared.load_decoder_of(run.path)
    except Exception:  # noqa: BLE001 - a run deleted or damaged meanwhile is left out, not an error
        return None


def model_of(run: RunSummary):
    """The torch model of a compared run, None if it cannot be loaded."""
    try:
        return shared.load_run_of(run.path).model
    except Exception:  # noqa: BLE001 - as above
        return None
