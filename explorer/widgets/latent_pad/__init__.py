"""latent_pad: a custom component that decodes the model's decoder in the browser while a slider moves.

Streamlit sliders send their value on release and every change is a server round trip. This
component gets the decoder's weights once (base64 float32 strings, encoded once per model with
st.cache_resource) and runs the decoder in JavaScript on every ``input`` and ``pointermove`` event,
at most once per animation frame: the Linear/ReLU stack of an MLP, or the Linear and transposed
convolutions of a conv model (training/vae/array_decoder.py is the same computation in numpy). It sends
z back only on release.

It is a Streamlit components v2 component (``st.components.v2.component``: no iframe, automatic
height, the theme as ``--st-*`` CSS variables). Its front end is three hand-written files in
this folder (pad.html, style.css, pad.js), read here and registered inline: no
build step, no CDN. It may also draw the visitor's own input's posterior p(z|x) (the Your image page) on the
pad: its 2-sigma ellipse over the pad's two dimensions. Given a direction d in z (``along``, issue 27), it shows one
more slider, t, and decodes z + t d instead of z, still in the browser on every move. It speaks two values: the state
``has`` (the model whose weights the browser holds) and the trigger ``release`` (z when a slider or the pad is let
go, and t when it moves along a direction; z is the sliders' own, without t d).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.i18n import _
from explorer.state import direction, latent_point
from training.vae.array_decoder import ArrayDecoder

FRONTEND = Path(__file__).resolve().parent  # its front end lies beside it
MAX_BROWSER_PARAMS = 8_000_000  # 32 MB of float32, ~43 MB of base64

_component = st.components.v2.component(
    "latent_pad",
    html=(FRONTEND / "pad.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "style.css").read_text(encoding="utf-8"),
    js="".join(path.read_text(encoding="utf-8") for path in (FRONTEND.parent / "nets.js", FRONTEND / "along.js",
                                                              FRONTEND / "pad.js")),
)


def encode_array(a: np.ndarray) -> str:
    """Little-endian float32 bytes of A (C order) as base64: what JS reads into a Float32Array."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def decode_array(s: str, shape: Sequence[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(tuple(shape)).astype(np.float32)


def encode_decoder(decoder: ArrayDecoder) -> dict:
    """The decoder as JSON-ready data: per layer its kind, shapes, weights (PyTorch's layout) and biases."""
    layers = [{"kind": layer.kind, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
               "w_shape": list(layer.w.shape), "w": encode_array(layer.w), "b": encode_array(layer.b)}
              for layer in decoder.layers]
    return {"layers": layers, "image_shape": [int(v) for v in decoder.image_shape]}


@st.cache_resource(max_entries=4, show_spinner=False)  # read-only strings: no copy per rerun
def _encoded(model_id: str, _decoder: ArrayDecoder) -> dict:
    return encode_decoder(_decoder)


def payload_bytes(decoder: ArrayDecoder) -> int:
    """Characters of weight strings sent to the browser per model (about 4/3 of the float32 bytes)."""
    return sum(len(layer["w"]) + len(layer["b"]) for layer in encode_decoder(decoder)["layers"])


def texts() -> dict[str, str]:
    """The component's own words, in the visitor's language ({frames} and {ms} are filled in by it)."""
    return {"waiting": _("waiting for the model…"), "pad": _("Drag to set the two chosen dimensions"),
            "pad_x": _("Pad horizontal dimension"), "pad_y": _("Pad vertical dimension"),
            "sliders": _("Latent sliders"), "image": _("Decoder mean"),
            "stats": _("decoded in the browser: {frames} frames, last {ms} ms"), "details": _("Details"),
            "posterior": _("your image ({source}): μ ± 2σ"),
            "posterior_marginal": _("your image ({source}): μ ± 2σ of z_{i} and z_{j}, the marginal of p(z|x) (exact "
                                    "for its diagonal Gaussian)"),
            "along": _("Move along {name}"), "along_readout": _("decoding z + t·d, t = {t}")}


def _state(key: str):
    value = st.session_state.get(key)
    return value if hasattr(value, "get") else {}


def latent_pad(decoder: ArrayDecoder, z0: Sequence[float], order: Sequence[int], labels: Sequence[str], key: str,
               model_id: str, active: Sequence[bool] | None = None, pair: Sequence[int] | None = None,
               on_release: Callable[[], None] | None = None, posterior: dict | None = None,
               along: dict | None = None) -> list[float] | None:
    """Sliders and a 2-D pad decoded in the browser; returns z sent by a release in this run (else None).

    ``order`` lists latent indices in display order (largest KL first); ``labels[i]`` names dimension i;
    ``active[i]`` False greys it out; ``pair`` the two pad dimensions (default the first two of order).
    The weights (1.7 MB of base64 for 16-400-784) travel only while the browser lacks them: the
    component's ``has`` state names the model it holds, and renders after that pass ``model=None``.
    They are encoded once per ``model_id``. ``on_release`` runs before the rerun a release causes;
    read the z with :func:`released_z`. ``posterior`` (explorer/state/your_input.py's ``get``: mu, sigma, source)
    is drawn on the pad as its 2-sigma ellipse; None draws none. ``along`` ({"vector": d as Z numbers, "name": its
    words, "t": t}) adds the t slider and has the browser decode z + t d; read t of a release with :func:`released_t`.
    """
    z_dim = decoder.latent_dim
    order = [int(i) for i in order]
    if pair is None:
        pair = order[:2] if z_dim >= 2 else [0, 0]
    holds = _state(key).get("has")
    result = _component(
        key=key,
        data={
            "model_id": model_id,
            "model": None if holds == model_id else _encoded(model_id, decoder),
            "z0": [float(v) for v in z0],
            "order": order,
            "labels": [str(s) for s in labels],
            "active": [bool(a) for a in (active if active is not None else [True] * z_dim)],
            "pair": [int(p) for p in pair],
            "limit": latent_point.LIMIT,
            "step": latent_point.STEP,
            "texts": texts(),
            "posterior": posterior_data(posterior, z_dim),
            "along": along_data(along, z_dim),
        },
        default={"has": None},
        on_has_change=lambda: None,  # a new "has" reruns: the next render knows what to send
        on_release_change=on_release or (lambda: None),
    )
    return release_z(getattr(result, "release", None), z_dim, model_id)


def posterior_data(posterior: dict | None, z_dim: int) -> dict | None:
    """What the pad needs of a posterior (mu, sigma as lists of Z numbers, the source in words), or None."""
    if posterior is None or len(posterior["mu"]) != z_dim or z_dim < 2:
        return None
    return {"mu": [float(v) for v in posterior["mu"]], "sigma": [float(v) for v in posterior["sigma"]],
            "source": str(posterior["source"])}


def along_data(along: dict | None, z_dim: int) -> dict | None:
    """What the t slider needs (d as Z finite numbers, its name, t on the grid, the range), or None."""
    if along is None:
        return None
    vector = [float(v) for v in along["vector"]]
    if len(vector) != z_dim or not all(math.isfinite(v) for v in vector):
        return None
    return {"vector": vector, "name": str(along["name"]), "t": direction.clip_t(float(along["t"])),
            "min": direction.T_MIN, "max": direction.T_MAX, "step": direction.T_STEP}


def released_t(key: str, model_id: str) -> float | None:
    """The t of the release that triggered this run (inside ``on_release``), or None."""
    return release_t(_state(key).get("release"), model_id)


def release_t(value, model_id: str | None = None) -> float | None:
    """t from a release trigger, clipped to T_MIN..T_MAX on the T_STEP grid; None if it has none or it is malformed
    (not a finite number) or the release is of another model's sliders."""
    if not isinstance(value, dict) or (model_id is not None and value.get("model_id") != model_id):
        return None
    t = value.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
        return None
    return direction.clip_t(float(t))


def released_z(key: str, z_dim: int, model_id: str) -> list[float] | None:
    """The z of the release that triggered this run (inside ``on_release``), or None."""
    return release_z(_state(key).get("release"), z_dim, model_id)


def release_z(value, z_dim: int | None = None, model_id: str | None = None) -> list[float] | None:
    """z from a release trigger; None for anything malformed or a release of another model's sliders."""
    if not isinstance(value, dict):
        return None
    if model_id is not None and value.get("model_id") != model_id:
        return None
    z = value.get("z")
    if not isinstance(z, list) or (z_dim is not None and len(z) != z_dim):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in z):
        return None
    return [float(v) for v in z]


def fits_in_browser(decoder: ArrayDecoder) -> bool:
    """Small enough to send to a browser (the bundled 16-400-784 decoder has 0.32 M parameters)."""
    return decoder.parameter_count <= MAX_BROWSER_PARAMS
