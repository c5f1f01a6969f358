"""draw_pad: a square canvas to draw a digit on with a mouse, a pen or a finger (the "Your image" page).

A Streamlit components v2 component (``st.components.v2.component``: no iframe, automatic height, the
theme as ``--st-*`` CSS variables) whose front end is hand-written files, read here and registered inline (the
scripts concatenated into the one that components v2 takes: ../nets.js, prepare.js, live.js, draw.js): no build
step, no CDN, no third-party request.

Dark ink on white, round caps and joins, a stroke 1/14 of the side wide (MNIST's strokes, once the
digit is cropped and scaled into 20x20). On each stroke's release, and on Undo or Clear (buttons inside
the component), the browser sends the trigger ``drawing``: ``{"png": a data URL of the canvas at
112x112, "strokes": [[[x, y], ...], ...] in [0, 1], "version": n}``. Python keeps the last good one in
``st.session_state`` under :func:`store_key` (not a widget key: it survives page changes) and passes the
strokes back in ``data``, so a remounted canvas redraws them. The PNG is checked here only as a value (a
``image/png`` data URL, valid base64, a PNG signature, at most :data:`MAX_PNG_BYTES`); decoding it is
``training.data.image_file.read_image``'s job. A malformed message, which no browser of ours sends, is
ignored: the drawing stays what it was.

With a ``model`` (:func:`browser_model`: a native run's encoder and decoder as arrays, and how its data set's
images were prepared), the reconstruction follows the pen: the browser prepares the drawing as
``training.data.preprocess.prepare`` does, encodes it to mu and decodes mu, at most once per animation frame
while a stroke is drawn. The weights travel once per model id (the component's state ``has`` names the model
the browser holds, as latent_pad's does). What Python computes on release is unchanged and exact.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.widgets.latent_pad import MAX_BROWSER_PARAMS, encode_decoder
from training.core.errors import UserError
from training.data.preprocess import style_of
from training.models.open import load_decoder, load_encoder, read_config
from training.vae.array_decoder import ArrayDecoder
from training.vae.array_encoder import ArrayEncoder

FRONTEND = Path(__file__).resolve().parent  # its front end lies beside it
PNG_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 512 * 1024     # a 112x112 drawing is a few KB
MAX_STROKES = 500
MAX_POINTS = 20_000            # over all strokes (the browser drops points closer than ~1 px)
DECIMALS = 3                   # points are fractions of the side, rounded as the browser rounds them

SCRIPTS = (FRONTEND.parent / "nets.js", FRONTEND / "prepare.js", FRONTEND / "live.js", FRONTEND / "draw.js")

_component = st.components.v2.component(
    "draw_pad",
    html=(FRONTEND / "draw.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "style.css").read_text(encoding="utf-8"),
    js="\n".join(path.read_text(encoding="utf-8") for path in SCRIPTS),
)


@dataclass(frozen=True)
class Drawing:
    """What is on the canvas: ``png`` dark ink on white (112x112), ``strokes`` how many, ``version`` a counter
    that grows with every stroke, undo or clear (a new value: a new drawing to encode)."""
    png: bytes
    strokes: int
    version: int


@dataclass(frozen=True)
class BrowserModel:
    """What the browser needs to follow the pen: the encoder and decoder as arrays, and the preprocessing style
    of the model's data set (training/data/preprocess.py), under an id that changes with the weights."""
    model_id: str
    encoder: ArrayEncoder
    decoder: ArrayDecoder
    style: str


@st.cache_resource(max_entries=4, show_spinner=False)
def browser_model(run_dir: str, model_id: str) -> BrowserModel | None:
    """The live preview's model for RUN_DIR, or None when the browser cannot run it: a model from elsewhere (ONNX,
    one's own code: only the server runs their encoders), weights that cannot be read, or more than the
    browser's limit of parameters. MODEL_ID names these weights (as latent_pad's ids do)."""
    try:
        encoder = load_encoder(run_dir)
        if encoder is None:
            return None
        decoder = load_decoder(run_dir)
        dataset = read_config(run_dir).train.dataset
    except (UserError, OSError):
        return None
    if encoder.parameter_count + decoder.parameter_count > MAX_BROWSER_PARAMS:
        return None
    return BrowserModel(model_id, encoder, decoder, style_of(dataset))


@st.cache_resource(max_entries=4, show_spinner=False)
def _live_model(run_dir: str, model_id: str) -> BrowserModel | None:
    return browser_model(run_dir, model_id)


def live_model(run_dir: Path, digest: str) -> BrowserModel | None:
    """:func:`browser_model` of RUN_DIR, whose weights have DIGEST, read once per weights."""
    import hashlib

    model_id = f"{run_dir.name}-" + hashlib.sha256(f"{run_dir}:{digest}".encode()).hexdigest()[:16]
    return _live_model(str(run_dir), model_id)


@st.cache_resource(max_entries=4, show_spinner=False)  # read-only strings: no copy per rerun
def _payload(model_id: str, _model: BrowserModel) -> dict:
    """The weights as base64 float32 (latent_pad's format: encode_decoder reads any network's layers)."""
    return {"encoder": encode_decoder(_model.encoder), "decoder": encode_decoder(_model.decoder),
            "style": _model.style}


def texts() -> dict[str, str]:
    """The component's own words, in the visitor's language."""
    return {"clear": _("Clear"), "undo": _("Undo"),
            "canvas": _("Drawing canvas: draw a digit with the mouse, a pen or a finger"),
            "live": _("Reconstruction while you draw (in your browser)")}


def store_key(key: str) -> str:
    """Where the session keeps the drawing of the component KEY (beside the component's own widget state)."""
    return f"{key}__drawing"


def png_bytes(value) -> bytes | None:
    """The bytes of a PNG data URL; None for anything else (another type, bad base64, too large, not a PNG)."""
    if not isinstance(value, str) or not value.startswith(PNG_PREFIX):
        return None
    body = value[len(PNG_PREFIX):]
    if len(body) > 4 * math.ceil(MAX_PNG_BYTES / 3):  # refused before decoding anything
        return None
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) > MAX_PNG_BYTES or not data.startswith(PNG_SIGNATURE):
        return None
    return data


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0.0 <= v <= 1.0


def clean_strokes(value) -> list[list[list[float]]] | None:
    """Strokes as lists of [x, y] in [0, 1] (rounded to DECIMALS); None for anything malformed or too large."""
    if not isinstance(value, list) or len(value) > MAX_STROKES:
        return None
    strokes, points = [], 0
    for stroke in value:
        if not isinstance(stroke, list) or not stroke:
            return None
        points += len(stroke)
        if points > MAX_POINTS:
            return None
        if not all(isinstance(p, list) and len(p) == 2 and _number(p[0]) and _number(p[1]) for p in stroke):
            return None
        strokes.append([[round(float(x), DECIMALS), round(float(y), DECIMALS)] for x, y in stroke])
    return strokes


def parse(value) -> dict | None:
    """A ``drawing`` trigger as ``{"png": bytes | None, "strokes": [...], "version": int}``; None if malformed.

    An empty canvas has no strokes and no PNG; a drawing has both."""
    if not isinstance(value, dict):
        return None
    version, strokes = value.get("version"), clean_strokes(value.get("strokes"))
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 2**53 or strokes is None:
        return None
    if not strokes:
        return {"png": None, "strokes": [], "version": version}
    png = png_bytes(value.get("png"))
    if png is None:
        return None
    return {"png": png, "strokes": strokes, "version": version}


def _stored(key: str) -> dict:
    value = st.session_state.get(store_key(key))
    return value if isinstance(value, dict) else {"png": None, "strokes": [], "version": 0}


def current(key: str = "draw") -> Drawing | None:
    """The drawing the session holds for the canvas KEY (None when empty), without showing the canvas."""
    held = _stored(key)
    if not held["strokes"] or held["png"] is None:
        return None
    return Drawing(png=held["png"], strokes=len(held["strokes"]), version=held["version"])


def receive(key: str, value) -> bool:
    """Keep the drawing VALUE (a trigger) if it is well formed and newer than the held one; True if kept."""
    drawing = parse(value)
    if drawing is None or drawing["version"] <= _stored(key)["version"]:
        return False
    st.session_state[store_key(key)] = drawing
    return True


def clear(key: str = "draw") -> None:
    """Empty the canvas KEY from Python (its next render redraws it blank). Call it before :func:`draw_pad`
    renders in a run (a button's callback does), or the browser sees it only at the next rerun."""
    st.session_state[store_key(key)] = {"png": None, "strokes": [], "version": _stored(key)["version"] + 1}


def _widget_state(key: str):
    value = st.session_state.get(key)
    return value if hasattr(value, "get") else {}


def draw_pad(key: str = "draw", on_change: Callable[[], None] | None = None,
             model: BrowserModel | None = None) -> Drawing | None:
    """The canvas (its container is ``st-key-KEY``); returns the current drawing, None when it is empty.

    ``on_change`` runs, before the rerun a new drawing causes, once the drawing is kept (read it with
    :func:`current`). ``model`` (from :func:`browser_model`) shows the reconstruction beside the canvas while
    the pen draws; None shows none."""

    def received() -> None:
        if receive(key, _widget_state(key).get("drawing")) and on_change is not None:
            on_change()

    held = _stored(key)
    data = {"strokes": held["strokes"], "version": held["version"], "texts": texts(), "live": None}
    live_state = {}
    if model is not None:  # the weights only while the browser lacks them
        holds = _widget_state(key).get("has")
        data["live"] = {"model_id": model.model_id,
                        "model": None if holds == model.model_id else _payload(model.model_id, model)}
        # a new "has" reruns: the next render knows whether to send the weights
        live_state = {"default": {"has": None}, "on_has_change": lambda: None}
    _component(key=key, data=data, on_drawing_change=received, **live_state)
    return current(key)
