"""The Latent map's points: the test images (the default), the training images or both, chosen by a control and by
the link (``points=test|train|all``; the default is left out of it); their images and labels; and mu of each split,
encoded once per model and split with a progress bar, kept in memory and on disk (explorer/state/readings.py,
training/analysis/encodings.py), its memory checked from the tensors' shapes before anything is joined or encoded.

One index space: with both splits the test images come first (points 0 to n_test - 1), then the training images
(point n_test + i is training image i); a point's name says which ("test 45", "train 123"). The page reads the
points' labels where it read the test labels: ``Points.data`` is the data set with its test split replaced by them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st
import torch

from explorer.i18n import N_, _, error_text
from explorer.state import readings, shared, view_link
from explorer.widgets import map_selection
from training.analysis import encodings
from training.core.errors import UserError
from training.vae.evaluate import split_images

KEY, LINK, PAGE = "map_points", "points", "latent_map"
SHOWN = "map_points_shown"  # (split, n_test) of the points drawn: the split asked for, or test after a refusal
SPLITS = ("test", "train", "all")
DEFAULT = "test"
LABELS = {"test": N_("test images"), "train": N_("training images"), "all": N_("both")}
FORGET = ("map_selected", "map_clicked", "map_find")  # a picked index names another image in another split


@dataclass(frozen=True)
class Points:
    split: str      # "test", "train" or "all"
    x: torch.Tensor  # (N, C, H, W), as encoded
    data: object    # the training.data.Dataset with x_test, y_test replaced by the points and their labels
    n_test: int     # the test images among them (first)


def split_shown() -> str:
    """The split the map draws now: "test", "train" or "all"."""
    return st.session_state.get(SHOWN, (DEFAULT, 0))[0]


def name(index: int, shown: tuple[str, int] | None = None) -> str:
    """Point INDEX's split and its index there: "test 45", "train 123" (SHOWN: the split drawn and its n_test)."""
    split, n_test = shown or st.session_state.get(SHOWN, (DEFAULT, 0))
    if split == "test" or (split == "all" and index < n_test):
        return _("test {i}").format(i=index)
    return _("train {i}").format(i=index - n_test if split == "all" else index)


def _from_link() -> None:
    """Once, when the page opens on a link with ``points=``: that split, or one sentence and the default."""
    value = view_link.wanted(LINK)
    if value is None:
        return
    if value in SPLITS:
        st.session_state[KEY] = value
        return
    view_link.problem(PAGE, N_("The link's points {value} is not one of test, train or all; the test images are "
                               "shown."), value=value)
    st.session_state[KEY] = DEFAULT


def _forget_pick() -> None:
    """A new split: its indices name other images, so the picked point and the selection go."""
    for key in FORGET:
        st.session_state.pop(key, None)
    map_selection.clear()


@st.cache_resource(max_entries=2, show_spinner=False)
def _joined(data_id: str, split: str, _config, _data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """SPLIT's images as the model sees them (training/vae/evaluate.py: split_images) and their labels; for "all",
    the test images then the training images (one copy, kept for every visitor of this data set)."""
    if split != "all":
        return split_images(_config, _data, split), (_data.y_test if split == "test" else _data.y_train)
    x = torch.cat([split_images(_config, _data, "test"), split_images(_config, _data, "train")])
    y = None if _data.y_test is None or _data.y_train is None else torch.cat([_data.y_test, _data.y_train])
    return x, y


def _points(run, data, split: str) -> Points:
    n_test = int(data.x_test.shape[0])
    x, y = (shared.current_test_images(run, data), data.y_test) if split == "test" else \
        _joined(shared.test_set_id(run), split, run.config, data)
    return Points(split, x, replace(data, x_test=x, y_test=y), n_test)


def _count(data, split: str) -> int:
    """How many points SPLIT has, from the tensors' shapes (nothing joined yet)."""
    return (int(data.x_test.shape[0]) if split in ("test", "all") else 0) + (
        int(data.x_train.shape[0]) if split in ("train", "all") else 0)


def count(data) -> int:
    """How many points the chosen split has (the link's ``points=`` taken first): what a link's point index must
    be below."""
    _from_link()
    return _count(data, st.session_state.get(KEY, DEFAULT))


def choose(run, data) -> Points:
    """The Points control (and the link's value), and the chosen points; a split too large for the memory limit is
    said in one sentence with its figure, before anything is joined or encoded, and the test images are shown."""
    _from_link()
    st.session_state.setdefault(KEY, DEFAULT)
    left, right = st.columns([3, 1])
    split = left.radio(_("Points"), SPLITS, format_func=lambda s: _(LABELS[s]), horizontal=True, key=KEY,
                       on_change=_forget_pick,
                       help=_("Which images of the model's data set are drawn: its test split, its training split, "
                              "or both (test first). Each split is encoded once per model and kept on disk."))
    view_link.write(**{LINK: None if split == DEFAULT else split})
    try:
        encodings.check_memory(_count(data, split), run.config.model.latent_dim, tuple(data.x_test.shape[1:]))
    except UserError as err:
        st.warning(error_text(err), icon=":material/memory:")
        split = DEFAULT
    points = _points(run, data, split)
    st.session_state[SHOWN] = (points.split, points.n_test)
    right.markdown(_("**{n} points**").format(n=f"{len(points.x):,}"))
    return points


def describe(points: Points, z_dim: int) -> str:
    """What a dot is, how many there are, and how they are numbered."""
    n = f"{len(points.x):,}"
    if points.split == "test":
        return _("Each dot is μ(x) (E3) of one of the {n} test images, z = {z_dim} dimensions. Point at a dot to see "
                 "its image; click it to see the image, its reconstruction and its nearest neighbours in z.").format(
            n=n, z_dim=z_dim)
    if points.split == "train":
        return _("Each dot is μ(x) (E3) of one of the {n} training images, z = {z_dim} dimensions, numbered as in the "
                 "training split. Point at a dot to see its image; click it to see the image, its reconstruction and "
                 "its nearest neighbours in z.").format(n=n, z_dim=z_dim)
    return _("Each dot is μ(x) (E3) of one of the {n} images of both splits, z = {z_dim} dimensions: points 0 to "
             "{last_test} are the test images, point {n_test} + i is training image i. Point at a dot to see its "
             "image; click it to see the image, its reconstruction and its nearest neighbours in z.").format(
        n=n, z_dim=z_dim, last_test=f"{points.n_test - 1:,}", n_test=f"{points.n_test:,}")


def encodings_of(run, points: Points, digest: str) -> np.ndarray:
    """mu (N, Z) of the points, each split from memory, from disk, or encoded with a progress bar."""
    parts = [("test", points.x[:points.n_test]), ("train", points.x[points.n_test:])] if points.split == "all" else \
        [(points.split, points.x)]
    mus = []
    for split, x in parts:
        bar = []  # drawn at the first chunk: a split kept in memory or on disk shows none
        text = _("Encoding the test images: {done} of {total}...") if split == "test" else \
            _("Encoding the training images: {done} of {total}...")

        def progress(done: int, total: int, bar=bar, text=text) -> None:
            if not bar:
                bar.append(st.progress(0.0))
            bar[0].progress(done / max(1, total), text=text.format(done=f"{done:,}", total=f"{total:,}"))

        mus.append(readings.split_mu(run, split, x, digest, progress))
        if bar:
            bar[0].empty()
    return mus[0] if len(mus) == 1 else np.concatenate(mus)


def keyed(digest: str) -> str:
    """DIGEST, naming the split drawn too where it is not the test split (the page's caches of projections)."""
    split = st.session_state.get(SHOWN, (DEFAULT, 0))[0]
    return digest if split == DEFAULT else f"{digest}|{split}"


def atlas_id(run) -> str:
    """The name of the hover thumbnails' atlas of the points drawn (the test split's keeps the name it had)."""
    return keyed(shared.test_set_id(run))


def captions(base: list[str] | None, n: int) -> list[str] | None:
    """The hover captions of the N points drawn: BASE (each point's label, or None), after the point's split and
    index there when the points are not the test split's ("train 123 · 7")."""
    split, n_test = st.session_state.get(SHOWN, (DEFAULT, 0))
    if split == DEFAULT:
        return base
    test, train = _("test {i}"), _("train {i}")
    first_train = n_test if split == "all" else 0
    names = [test.format(i=i) if i < first_train else train.format(i=i - first_train) for i in range(n)]
    return names if base is None else [f"{a} · {b}" for a, b in zip(names, base)]
