"""The visitor's own input (the Your image page) as every page sees it: its posterior p(z|x) = N(mu, sigma^2)
(E3) for the current model, kept in the session under one key:

    st.session_state[KEY] = {"run": path of the model, "mu": [...], "sigma": [...], "source": (message, values)}

The Your image page puts it whenever it reads an input; the Latent map and the Real-time sliders' 2-D pad draw
it as its 2-sigma ellipse on a 2-D model. A drawing or an upload is never put in the link (only a test image's
index is, by the page itself); the source is a catalogue message and its values, put into words when shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from explorer.i18n import _

KEY = "your_input"


def put(path: str, mu: Sequence[float], sigma: Sequence[float], source: str, **values) -> None:
    """Make (MU, SIGMA) the current input's posterior for the model at PATH. SOURCE is a catalogue message
    (marked with N_), e.g. "your drawing" or "test image {index}"."""
    mu = [float(v) for v in np.asarray(mu, dtype=np.float64).ravel()]
    sigma = [float(v) for v in np.asarray(sigma, dtype=np.float64).ravel()]
    if len(mu) != len(sigma):
        raise ValueError("mu and sigma differ in length")
    st.session_state[KEY] = {"run": str(path), "mu": mu, "sigma": sigma, "source": (source, values)}


def get(path: str, z_dim: int) -> dict | None:
    """The current input's posterior if it belongs to the model at PATH (and has its Z_DIM), else None:
    {"mu": (Z,) array, "sigma": (Z,) array, "source": the source in the visitor's language}."""
    found = st.session_state.get(KEY)
    if not isinstance(found, dict) or found.get("run") != str(path) or len(found.get("mu", ())) != z_dim:
        return None
    message, values = found["source"]
    return {"mu": np.asarray(found["mu"], np.float64), "sigma": np.asarray(found["sigma"], np.float64),
            "source": _(message).format(**values)}


def clear() -> None:
    st.session_state.pop(KEY, None)
