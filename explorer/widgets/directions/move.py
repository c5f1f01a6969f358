"""Latent arithmetic on the slider pages (issue 27, item 2): the move-along control, z + t d.

The sliders keep z; the control adds t times the session's direction d (explorer/state/direction.py) to what is
decoded, t from -2 to 2 in steps of 0.05: t = 1 is the whole way from group A's mean to group B's. "Make it the
sliders' z" turns z + t d into the current point (and t back to 0). The traversal grid takes rows along
directions from here too: the chosen direction (t from -2 to 2) and the principal directions of the test
encodings (c from -3 to 3 standard deviations of the encodings along each).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.i18n import N_, _
from explorer.state import direction, latent_point
from explorer.widgets.directions import Chosen


def _on_apply(path: str, z: list[float], vector: np.ndarray, t: float, name: str) -> None:
    moved = np.asarray(z, np.float64) + t * np.asarray(vector, np.float64)
    latent_point.put(path, moved, N_("z moved along {name} by t = {t}."), name=name, t=f"{t:g}")
    latent_point.sync_sliders(path, len(moved))  # the sliders' fragment reruns alone: they take the point now
    direction.write_t(0.0)


def control(page: str, path: str, z: list[float], chosen: Chosen | None) -> np.ndarray:
    """The move-along slider under the latent sliders; returns the z to decode (z + t d; z without a direction)."""
    z = np.asarray(z, np.float32)
    if chosen is None:
        st.page_link("views/directions.py", label=_("Move along a direction: choose two groups on the Directions "
                                                      "page"), icon=":material/explore:")
        return z
    if chosen.found is None:
        from explorer.i18n import error_text

        st.error(error_text(chosen.error), icon=":material/error:")
        return z
    key = f"{page}_move_t"
    st.session_state[key] = direction.t()  # the one stored t (the other slider page and the link set it too)
    t = st.slider(_("Move along {name}").format(name=chosen.name), direction.T_MIN, direction.T_MAX,
                  step=direction.T_STEP, key=key, on_change=lambda: direction.write_t(st.session_state[key]),
                  help=_("Adds t times the direction d = mean μ(B) − mean μ(A) to z: t = 1 goes the whole way from "
                         "group A's mean to group B's."))
    direction.write_t(t)
    c1, c2 = st.columns([3, 2], vertical_alignment="center")
    c1.caption(_("Decoding z + t·d with t = {t} (|d| = {length}).").format(t=f"{t:.2f}",
                                                                          length=f"{chosen.found.length:.2f}"))
    c2.button(_("Make it the sliders' z"), key=f"{page}_move_apply", disabled=not t, width="stretch",
              on_click=_on_apply, args=(path, list(map(float, z)), chosen.vector, float(t), chosen.name))
    return (z + t * chosen.vector).astype(np.float32)
