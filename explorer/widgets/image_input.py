"""The three ways an input comes into the Your image page: drawn on the canvas (explorer/widgets/draw_pad/), an
uploaded image file, or a test image picked by its index (the one way that goes into the link: ``input=test:17``).

A drawing or a file is read and prepared as the model's data was (training/data/image_file.py and
training/data/preprocess.py: one function, also the command line's); a test image is already what the model sees.
What cannot be read raises UserError with one sentence, shown by the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from explorer.i18n import N_, _, uploader_words
from explorer.state import shared, view_link
from explorer.state.readings import TestSet
from training.core.numbers import whole_number
from training.data.image_file import MAX_BYTES, MAX_PIXELS, read_image
from training.data.preprocess import Prepared, prepare_for

DRAW, UPLOAD, PICK = "draw", "upload", "pick"
MODES = (DRAW, UPLOAD, PICK)
MODE_WORDS = {DRAW: N_("Draw"), UPLOAD: N_("Upload"), PICK: N_("Pick a test image")}
MODE_ICONS = {DRAW: ":material/draw:", UPLOAD: ":material/upload:", PICK: ":material/image_search:"}
MODE_KEY, INDEX_KEY, UPLOAD_KEY, CANVAS_KEY = "your_image_mode", "your_image_index", "your_image_upload", "draw"
KEPT = "your_image_kept"  # the way in and the index, kept while another page drops the widgets' own state
LINK, TEST_PREFIX = "input", "test:"
PAGE = "your_image"  # its URL path: where a problem with its link value is said
FILE_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]
# Where the input came from, put into words where shown (the Latent map and the 2-D pad say it too)
DRAWING, FILE, TEST_IMAGE = N_("your drawing"), N_("your image {name}"), N_("test image {index}")


@dataclass(frozen=True)
class Input:
    """One input: X (C, H, W) float32 in [0, 1] as the model sees it; ORIGINAL (H, W, C) the image as read (None for
    a test image, which is X); SOURCE a catalogue message and its VALUES; how it was prepared."""
    x: np.ndarray
    source: str
    values: dict = field(default_factory=dict)
    original: np.ndarray | None = None
    prepared: Prepared | None = None
    index: int | None = None  # a test image's

    @property
    def said(self) -> str:
        return _(self.source).format(**self.values)


def read_file(data: bytes, config, name: str | None = None) -> tuple[np.ndarray, Prepared]:
    """An image file's bytes as read (H, W, C) and as prepared for the model a run's CONFIG describes; NAME (the
    file's) names it in a refusal."""
    image = read_image(data, name) if name else read_image(data)
    return image, prepare_for(config, image)


def from_link(n_test: int | None) -> None:
    """Once, when the page opens on a link with ``input=test:N``: pick test image N (one sentence if it does not
    fit this model)."""
    value = view_link.wanted(LINK)
    if value is None:
        return
    index = whole_number(value[len(TEST_PREFIX):]) if value.startswith(TEST_PREFIX) else None
    if n_test is None:
        view_link.problem(PAGE, N_("The link's input {value} is a test image, and this model has no test images to "
                                   "show; draw or upload one instead."), value=value)
    elif index is None or index >= n_test:
        view_link.problem(PAGE, N_("The link's input {value} does not fit this model: it has test images test:0 to "
                                   "test:{last}; your drawing is shown instead."), value=value, last=n_test - 1)
    else:
        st.session_state[MODE_KEY] = PICK
        st.session_state[INDEX_KEY] = index


def choose(run, tests: TestSet) -> Input | None:
    """The way in and its control; the input, or None (with a hint) while there is none yet. UserError when the
    drawing or the file cannot be read or prepared."""
    n_test = None if tests.x is None else len(tests.x)
    kept = st.session_state.setdefault(KEPT, {})
    for key, value in kept.items():
        st.session_state.setdefault(key, value)
    if n_test is not None and int(st.session_state.get(INDEX_KEY, 0)) >= n_test:  # another model's larger test set
        st.session_state[INDEX_KEY] = n_test - 1
    st.session_state.setdefault(MODE_KEY, DRAW)
    words = {m: MODE_ICONS[m] + " " + _(MODE_WORDS[m]) for m in MODES}  # fixed when drawn: AppTest formats later
    mode = st.segmented_control(_("Your input"), MODES, required=True, key=MODE_KEY, format_func=words.__getitem__)
    kept[MODE_KEY] = mode
    if mode != PICK:
        view_link.write(**{LINK: None})  # a drawing or a file is never put in the link
    if mode == UPLOAD:
        return _upload(run.config)
    if mode == PICK:
        return _pick(tests)
    return _draw(run)


def _draw(run) -> Input | None:
    """The canvas; a native model's encoder and decoder also run in the browser while the pen draws (a preview
    beside it), and every stroke's release is read here exactly."""
    from explorer.widgets.draw_pad import draw_pad, live_model

    drawing = draw_pad(key=CANVAS_KEY, model=live_model(run.path, shared.weights_digest(run.path)))
    if drawing is None:
        st.caption(_("Draw a digit or a figure with the mouse or a finger: each stroke, when you let go, is read by "
                     "the encoder."))
        return None
    image, prepared = read_file(drawing.png, run.config)
    return Input(prepared.x, DRAWING, original=image, prepared=prepared)


def _upload(config) -> Input | None:
    # The uploader keeps the server's limit, so that a file over MAX_BYTES reaches read_image's own sentence (in
    # the visitor's language; Streamlit's own refusal is English) and is read no further than its size.
    uploader_words(MAX_BYTES // 2**20)
    file = st.file_uploader(_("An image file: PNG, JPEG, WebP, GIF (its first frame) or BMP"), type=FILE_TYPES,
                            key=UPLOAD_KEY)
    if file is None:
        st.caption(_("Up to {mb} MB and {megapixels} million pixels: it is cropped and scaled as the model's "
                     "training images were.").format(mb=MAX_BYTES // 2**20, megapixels=round(MAX_PIXELS / 1e6)))
        return None
    image, prepared = read_file(file.getvalue(), config, file.name)
    return Input(prepared.x, FILE, {"name": file.name}, original=image, prepared=prepared)


def _pick(tests: TestSet) -> Input | None:
    if tests.x is None:
        st.info(tests.why, icon=":material/info:")
        return None
    n = len(tests.x)
    index = st.number_input(_("Test image index (0 to {last})").format(last=n - 1), 0, n - 1, step=1, key=INDEX_KEY)
    index = int(index)
    st.session_state[KEPT][INDEX_KEY] = index
    view_link.write(**{LINK: f"{TEST_PREFIX}{index}"})
    x = tests.x[index].detach().cpu().numpy().astype(np.float32)
    return Input(x, TEST_IMAGE, {"index": index}, index=index)
