"""latent_pad: a custom component that decodes an MLP decoder in the browser while a slider moves.

Streamlit sliders send their value on release and every change is a server round trip. This
component gets the decoder's weights once (base64 float32 strings, encoded once per model with
st.cache_resource) and runs the Linear/ReLU/sigmoid stack in JavaScript on every ``input`` and
``pointermove`` event, at most once per animation frame. It sends z back only on release.

The front end is hand-written (explorer/components/latent_pad/: index.html, main.js, style.css),
with no build step: it speaks Streamlit's iframe protocol with postMessage directly.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import streamlit as st
import streamlit.components.v1 as components

from explorer import latent_point
from training.mlp_decoder import MLPDecoder

FRONTEND = Path(__file__).resolve().parent / "components" / "latent_pad"
MAX_BROWSER_PARAMS = 8_000_000  # 32 MB of float32, ~43 MB of base64

_component = components.declare_component("latent_pad", path=str(FRONTEND))


def encode_array(a: np.ndarray) -> str:
    """Little-endian float32 bytes of A (C order) as base64: what JS reads into a Float32Array."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def decode_array(s: str, shape: Sequence[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(tuple(shape)).astype(np.float32)


def encode_decoder(decoder: MLPDecoder) -> dict:
    """The decoder as JSON-ready args: per layer (out, in) weights row-major and biases, base64 float32."""
    layers = [{"n_out": int(w.shape[0]), "n_in": int(w.shape[1]), "w": encode_array(w), "b": encode_array(b)}
              for w, b in zip(decoder.weights, decoder.biases)]
    return {"layers": layers, "image_shape": [int(v) for v in decoder.image_shape]}


@st.cache_resource(max_entries=4, show_spinner=False)  # read-only strings: no copy per rerun
def _encoded(model_id: str, _decoder: MLPDecoder) -> dict:
    return encode_decoder(_decoder)


def payload_bytes(decoder: MLPDecoder) -> int:
    """Characters of weight strings sent to the browser per render (about 4/3 of the float32 bytes)."""
    return sum(len(layer["w"]) + len(layer["b"]) for layer in encode_decoder(decoder)["layers"])


def latent_pad(decoder: MLPDecoder, z0: Sequence[float], order: Sequence[int], labels: Sequence[str], key: str,
               model_id: str, active: Sequence[bool] | None = None, pair: Sequence[int] | None = None,
               on_change: Callable[[], None] | None = None) -> list[float] | None:
    """Sliders and a 2-D pad decoded in the browser; returns z as sent on the last release (None before).

    ``order`` lists latent indices in display order (largest KL first); ``labels[i]`` names dimension i;
    ``active[i]`` False greys it out; ``pair`` the two pad dimensions (default the first two of order).
    The weights (1.7 MB of base64 for 16-400-784) travel only while the browser lacks them: every
    value the component sends names the model it holds ("loaded", "need", "release" messages), and
    renders after "loaded" pass ``model=None``. They are encoded once per ``model_id``.
    """
    z_dim = decoder.latent_dim
    has_key = f"{key}__has"  # the model_id whose weights the browser holds, as it last told us
    message = st.session_state.get(key)
    if isinstance(message, dict) and "has" in message:
        st.session_state[has_key] = message["has"]
    order = [int(i) for i in order]
    if pair is None:
        pair = order[:2] if z_dim >= 2 else [0, 0]
    value = _component(
        model_id=model_id,
        model=None if st.session_state.get(has_key) == model_id else _encoded(model_id, decoder),
        z0=[float(v) for v in z0],
        order=order,
        labels=[str(s) for s in labels],
        active=[bool(a) for a in (active if active is not None else [True] * z_dim)],
        pair=[int(p) for p in pair],
        limit=latent_point.LIMIT,
        step=latent_point.STEP,
        key=key,
        default=None,
        on_change=on_change,
    )
    return release_z(value, z_dim)


def release_z(value, z_dim: int | None = None) -> list[float] | None:
    """z from a component value sent on release; None for the handshake messages or anything malformed."""
    if not isinstance(value, dict) or value.get("kind") != "release":
        return None
    z = value.get("z")
    if not isinstance(z, list) or (z_dim is not None and len(z) != z_dim):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in z):
        return None
    return [float(v) for v in z]


def fits_in_browser(decoder: MLPDecoder) -> bool:
    """Small enough to send to a browser (the bundled 16-400-784 decoder has 0.32 M parameters)."""
    return sum(w.size + b.size for w, b in zip(decoder.weights, decoder.biases)) <= MAX_BROWSER_PARAMS
