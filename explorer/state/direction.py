"""The session's direction in z (issue 27): from one group of test images to another, for every page.

The Directions page chooses it (explorer/widgets/direction_picker.py); Latent sliders and Real-time sliders move
along it (z + t d), their traversal grids show a row along it, the Latent map can take it as its x axis. It is kept
per model in the session, as the two groups are written (``label:1``, ``pos_x:0..0.3``, ``17,42,99``; read by
training/analysis/directions.py), and in the link: ``dir=label:1>label:7`` and ``t=1.5``. Only the two group specs
and t are stored: the vector is computed from the model's test encodings when asked for (``found``).
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from explorer.i18n import N_, error_text
from explorer.state import view_link
from training.analysis import directions
from training.core.errors import UserError

KEY = "direction"          # {model folder: (source group spec, target group spec)}: each model keeps its own
T_KEY = "direction_t"      # the move-along control's t (the widget's own key on the slider pages)
DEFAULTED = "direction_defaulted"  # a form chose its default direction once, or a link was refused: not again
LINK, T_LINK = "dir", "t"
T_MIN, T_MAX, T_STEP = -2.0, 2.0, 0.05


def _kept() -> dict:
    kept = st.session_state.get(KEY)
    if not isinstance(kept, dict):
        kept = st.session_state[KEY] = {}
    return kept


def get(path: str) -> tuple[str, str] | None:
    """(source, target) of the model at PATH, or None; the link follows it."""
    kept = st.session_state.get(KEY)
    pair = kept.get(path) if isinstance(kept, dict) else None
    if pair is None:
        view_link.write(**{LINK: None, T_LINK: None})
        return None
    view_link.write(**{LINK: directions.written(*pair)})
    return pair


def put(path: str, source: str, target: str) -> None:
    _kept()[path] = (source.strip(), target.strip())
    st.session_state[DEFAULTED] = True
    view_link.write(**{LINK: directions.written(source.strip(), target.strip())})


def clear(path: str) -> None:
    """The model at PATH has no direction (and t is 0) until the visitor chooses one."""
    _kept().pop(path, None)
    st.session_state[T_KEY] = 0.0
    st.session_state[DEFAULTED] = True
    view_link.write(**{LINK: None, T_LINK: None})


def may_default() -> bool:
    """A form may choose its default direction by itself: once per session, and never after the visitor forgot
    one or a link's was refused (then the visitor chooses)."""
    return not st.session_state.get(DEFAULTED)


def t() -> float:
    """The move-along control's t, within T_MIN..T_MAX, on the STEP grid."""
    value = st.session_state.get(T_KEY, 0.0)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = 0.0
    return clip_t(value)


def clip_t(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return float(round(min(T_MAX, max(T_MIN, round(value / T_STEP) * T_STEP)), 10))


def write_t(value: float) -> None:
    st.session_state[T_KEY] = clip_t(value)
    view_link.write(**{T_LINK: None if not clip_t(value) else f"{clip_t(value):g}"})


def link_pending() -> bool:
    """The link's ``dir=`` is still waiting for a page to take it."""
    return LINK in (st.session_state.get(view_link.WANTED) or {})


def from_link(path: str, page: str, groups: directions.Groups) -> None:
    """Once, on the page a link opens: its ``dir=`` (and ``t=``) become the direction of this model, or one
    sentence says why not (and no direction is chosen)."""
    text, t_text = view_link.wanted(LINK), view_link.wanted(T_LINK)
    if text is None:
        return
    try:
        source, target = directions.pair(text)
        directions.distinct(groups.read(source), groups.read(target))
    except UserError as err:
        st.session_state[DEFAULTED] = True  # the page does not put a direction of its own in the refused one's place
        view_link.problem(page, N_("The link's direction {value} cannot be used: {why}"), value=text,
                          why=error_text(err))
        return
    put(path, source, target)
    if t_text is None:
        return
    try:
        asked = float(t_text)
    except ValueError:
        asked = math.nan
    if not math.isfinite(asked):
        view_link.problem(page, N_("The link's t {value} is not a number; t starts at 0."), value=t_text)
        return
    write_t(asked)
    if clip_t(asked) != asked and abs(clip_t(asked) - asked) > 1e-9 and not T_MIN <= asked <= T_MAX:
        view_link.problem(page, N_("The link's t {value} lies outside −2 to 2; t is set to {t}."), value=t_text,
                          t=f"{clip_t(asked):g}")


def found(mu: np.ndarray, groups: directions.Groups, source: str, target: str) -> directions.Direction:
    """The direction from SOURCE to TARGET among the test encodings MU (N, Z); UserError (one sentence) if a group
    is empty or missing, the two are the same, or their means coincide."""
    return directions.between(mu, groups.read(source), groups.read(target))
