"""The current latent point z of the current model: its one home in the app.

Latent sliders, Real-time sliders (its sliders and 2-D pad), a point picked on the Latent map and the
ends of an interpolation all read and write z here, through ``get`` and ``put``. The slider range,
step and rounding, the labels of a dimension and the reset when the model changes are defined here
once. The point lives in the session under one key:

    st.session_state[POINT] = {"run": path of the model, "z": [...], "source": (message, its values),
                               "version": number of changes}

The source is kept as a catalogue message and its values, and put into words in the visitor's language
when shown (explorer/i18n.py), so that switching the language translates it too.

The Latent sliders' widgets (keys ``z_<i>``, which outside tools rely on) are a view of it: ``sync_sliders``
writes the point into them before they are drawn, whenever it changed elsewhere since they last showed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.i18n import N_, _
from explorer.state import view_link
from training.vae import latent_space

LIMIT = 4.0  # each coordinate's range -LIMIT..LIMIT: the prior puts 99.99% of every z_k within +-4
STEP = 0.05
POINT = "latent_point"
SHOWN = "latent_point_shown"  # (run, version) the z_<i> sliders last showed
PRIOR_MEAN = N_("z = 0, the prior's mean.")
LANDING = N_("the clearest of {n} samples from the prior (seed {seed}), the one its decoder draws most surely; "
             "Reset to zero gives the prior's mean.")
LANDING_SAMPLES, LANDING_SEED = 256, 0


def clip_round(z: Sequence[float]) -> list[float]:
    """z as every control stores it: rounded to STEP, clipped to +-LIMIT."""
    z = np.clip(np.round(np.asarray(z, dtype=np.float64) / STEP) * STEP, -LIMIT, LIMIT)
    return [float(round(v, 10)) for v in z]


def slider_keys(z_dim: int) -> list[str]:
    return [f"z_{i}" for i in range(z_dim)]


def label(i: int, kl: float, active: bool, name: str | None = None) -> str:
    """A dimension's name on every control: index, the factor it tracks (explorer/state/dim_names.py), its KL to
    the prior (E4), unused if below 0.01."""
    return f"z_{i}" + (f" · {name}" if name else "") + f" · KL {kl:.2f}" + ("" if active else " · " + _("unused: KL < 0.01"))


FIRST_VIEW = N_("μ(x) of test image {index}, a typical {label} (its code lies nearest the mean code of the test "
                "images labelled {label}, and it decodes legibly); Reset to zero gives the prior's mean.")
FIRST_VIEW_ANY = N_("μ(x) of test image {index}, the test image its decoder explains best (the highest "
                    "ln q(x|z = μ(x))); Reset to zero gives the prior's mean.")


@st.cache_data(max_entries=16, show_spinner=False)
def _landing(path: str, digest: str, z_dim: int) -> tuple[list[float], tuple[str, dict]] | None:
    """The first point of a model. A bundled demo ships its own (explorer/demos/first_views.py: mu(x) of a
    clear test image, chosen ahead, so no torch here); any other model starts from the clearest of
    LANDING_SAMPLES prior samples (z = 0 decodes to a grey average of every figure, a poor first look),
    decoded in numpy: about 20 ms, no torch."""
    from explorer.demos import first_views
    from explorer.state import shared

    shipped = first_views.read(path, digest)
    if shipped is not None and len(shipped["z"]) == z_dim:
        label, index = shipped.get("label"), shipped["test_index"]
        source = (FIRST_VIEW, {"index": index, "label": label}) if label else (FIRST_VIEW_ANY, {"index": index})
        return clip_round(shipped["z"]), source
    decoder = shared.load_decoder_of(path)
    if decoder.latent_dim != z_dim:
        return None
    z, _index = latent_space.clearest_prior_sample(decoder.decode_mean, z_dim, LANDING_SAMPLES, LANDING_SEED)
    return clip_round(z), (LANDING, {"n": LANDING_SAMPLES, "seed": LANDING_SEED})


def landing(path: str, z_dim: int) -> tuple[list[float], tuple[str, dict]]:
    """Where a model's latent point starts, and its source; z = 0 if its decoder cannot be read."""
    from explorer.state import shared
    from training.core.errors import UserError

    try:
        found = _landing(path, shared.weights_digest(Path(path)), z_dim)
    except (UserError, OSError, ValueError):
        found = None
    if found is None:
        return [0.0] * z_dim, (PRIOR_MEAN, {})
    z, source = found
    return list(z), source


def _point(path: str, z_dim: int) -> dict:
    """The stored point if it belongs to this model, else a fresh landing point for it (another model's z
    means nothing here; a link's z was put before any page reads it, so it wins)."""
    point = st.session_state.get(POINT)
    if not isinstance(point, dict) or point.get("run") != path or len(point.get("z", ())) != z_dim:
        version = point.get("version", 0) + 1 if isinstance(point, dict) else 1
        z, source = landing(path, z_dim)
        point = {"run": path, "z": z, "source": source, "version": version}
        st.session_state[POINT] = point
    view_link.write_z(point["z"])  # the address bar follows z wherever it is read or set
    return point


def get(path: str, z_dim: int) -> list[float]:
    """The current z of the model at PATH."""
    return list(_point(path, z_dim)["z"])


def source(path: str, z_dim: int) -> str:
    """Where the current z came from, as the end of a sentence in the visitor's language
    ("mu(x) of test image 3.")."""
    message, values = _point(path, z_dim)["source"]
    return _(message).format(**values)


def put(path: str, z: Sequence[float], source: str, **values) -> list[float]:
    """Make Z (rounded, clipped) the current point of the model at PATH; returns what was stored.
    SOURCE is a catalogue message (marked with N_) with ``{fields}`` for VALUES."""
    z = clip_round(z)
    previous = st.session_state.get(POINT)
    version = previous.get("version", 0) + 1 if isinstance(previous, dict) else 1
    st.session_state[POINT] = {"run": path, "z": z, "source": (source, values), "version": version}
    view_link.write_z(z)
    return z


def sync_sliders(path: str, z_dim: int) -> None:
    """Before the z_<i> sliders are drawn: show the current point in them if it changed since they
    last did (elsewhere, or for another model). Their state is also dropped whenever their page is
    left, so it is rewritten then too."""
    point = _point(path, z_dim)
    shown = (path, point["version"])
    keys = slider_keys(z_dim)
    if st.session_state.get(SHOWN) != shown or any(k not in st.session_state for k in keys):
        for key, value in zip(keys, point["z"]):
            st.session_state[key] = float(value)
        st.session_state[SHOWN] = shown


def from_sliders(path: str, z_dim: int) -> list[float]:
    """After a slider moved: the sliders' values become the current point (its source unchanged)."""
    point = _point(path, z_dim)
    z = [float(st.session_state.get(k, v)) for k, v in zip(slider_keys(z_dim), point["z"])]
    if z != point["z"]:
        message, values = point["source"]
        stored = put(path, z, message, **values)
        st.session_state[SHOWN] = (path, st.session_state[POINT]["version"])  # they show it already
        return stored
    return z
