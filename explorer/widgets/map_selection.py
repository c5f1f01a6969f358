"""What the visitor picks on the Latent map: one point (a click: its image, reconstruction and neighbours) or a
selection of many (a box or lasso drawn on the map, a label or a factor's range, a link's ``select=``).

A Plotly selection event (``st.plotly_chart(on_select="rerun")``) is ``{"selection": {"points": [...],
"point_indices": [...], "box": [...], "lasso": [...]}}``; every point carries its test index as ``customdata``
(explorer/figures/charts.py), so a figure that plots a subsample (the neighbour embeddings) maps back the same
way. One point is a click; more than one (a box or a lasso) is a selection. The selection is kept per model in
the session (``map_selection``) and written into the link: ``select=label:7``, ``select=pos_x:0.2..0.6`` (a
factor's range), or ``select=17,42,99`` while it has at most ``MAX_LINKED`` points; a link's value is read as
every group of test images is (training/analysis/directions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from explorer.figures import images
from explorer.i18n import N_, _
from explorer.state import latent_point, view_link
from explorer.widgets import downloads
from training.analysis import directions, latent
from training.core.errors import UserError
from training.core.numbers import whole_number
from training.vae import latent_space

NEIGHBOURS = 8
PAGE = "latent_map"          # its URL path: where a problem with its link value is said
KEY = "map_selection"        # {"path", "indices" (sorted test indices), "link" (select= value or None), "how"}
SEEN = "map_lassoed"         # (path, indices) of the last box or lasso taken: an event counts once
MAX_LINKED = 200             # an index list longer than this is not written into the link
LABEL_PREFIX = "label:"
UNSELECTED = {"marker": {"opacity": 0.12, "color": "#c4c4c4"}}  # faint: a class drawn grey (7) still stands out
SELECTED = {"marker": {"opacity": 1.0}}


# ---------------------------------------------------------------- one point: a click, or found by index

def show_picked(run, data, x_test, index: int | None, mu: np.ndarray, name=None) -> None:
    """The picked point's image, reconstruction and neighbours; NAME(index) says which split's image it is ("train
    123") when the map shows more than the test images."""
    if index is None:
        st.info(_("Click a point to see its test image and its reconstruction."))
        return
    if st.button(_("Open in Latent sliders"), icon=":material/tune:", key="map_to_sliders",
                 help=_("Make μ(x) of this image the current latent point and move it with the sliders.")):
        if name is None:
            latent_point.put(str(run.path), mu[index], N_("μ(x) of test image {index}, picked on the Latent map."),
                             index=index)
        else:
            latent_point.put(str(run.path), mu[index], N_("μ(x) of {point}, picked on the Latent map."),
                             point=name(index))
        st.switch_page("views/sliders.py")
    x = x_test[index:index + 1]
    original = latent.to_hwc(x)[0]
    recon = latent.reconstruct(run.model, x)[0]
    st.image(images.display(original, 140), width=140, caption=name(index) if name else
             _("test image {index}").format(index=index))  # one above
    st.image(images.display(recon, 140), width=140, caption=_("reconstruction μ̃(μ(x))"))  # the other
    downloads.image_button(images.image_grid(np.stack([original, recon]), ncols=2, pad=1), f"test-{index}-and-reconstruction",
                           "map_pair")
    neighbours(x_test, index, mu)
    if data.y_test is not None and not data.labels_are_factors and data.label_names:
        st.caption(_("Label: {label}").format(label=data.label_names[int(data.y_test[index])]))


def find(path: str) -> None:
    """Search by index: the typed test image becomes the picked point."""
    index = st.session_state.get("map_find")
    if index is not None:
        st.session_state["map_selected"] = (path, int(index))


def neighbours(x_test, index: int, mu: np.ndarray) -> None:
    """The test images whose mu(x) lie nearest to the picked one's in z (not in the plotted plane)."""
    near = latent_space.nearest(mu, index, NEIGHBOURS)
    st.caption(_("Nearest in z ({k}):").format(k=len(near)))
    tiles = latent.to_hwc(x_test[near])
    st.image(images.display(images.image_grid(tiles, ncols=4, pad=1), 140), width=140,
             caption=", ".join(str(int(i)) for i in near))


def remember_pick(run, index: int | None, n_test: int) -> int | None:
    """The picked point: the last one clicked or found by index. It survives redraws of the figure (new
    options clear plotly's selection), and a click counts once (a search may replace it)."""
    if index is not None and (str(run.path), index) != st.session_state.get("map_clicked"):
        st.session_state["map_clicked"] = (str(run.path), index)
        st.session_state["map_selected"] = (str(run.path), index)
    path, last = st.session_state.get("map_selected", (None, None))
    picked = last if path == str(run.path) and last is not None and last < n_test else None
    view_link.write(point=picked)
    return picked


# ---------------------------------------------------------------- many points: the selection

def event_indices(event: Mapping[str, Any] | None, n: int) -> np.ndarray:
    """The test indices (below N, sorted, each once) of the points a ``st.plotly_chart`` selection event holds
    (the event itself or its ``selection``): each point's ``customdata``, a number or a one-element list. Points
    of other traces (the manifold overlay, contours, the visitor's ellipse) carry none and are left out."""
    sel = (event or {}).get("selection", event) or {}
    found = []
    for point in sel.get("points") or []:
        data = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if isinstance(data, bool) or not isinstance(data, (int, float, np.integer, np.floating)):
            continue
        if float(data).is_integer() and 0 <= data < n:
            found.append(int(data))
    return np.unique(np.asarray(found, dtype=np.int64))


def class_labels(data) -> np.ndarray | None:
    """Each test image's class (shapes: its shape, the first factor), or None without labels."""
    if data.y_test is None:
        return None
    y = data.y_test.numpy()
    return (y[:, 0] if data.labels_are_factors else y).astype(np.int64)


def parse(text: str, labels: np.ndarray | None, n_labels: int, n: int, factors: np.ndarray | None = None,
          factor_names=None) -> tuple[np.ndarray, str] | None:
    """A link's ``select=`` value, read as every group is (training/analysis/directions.py ``group``): ``label:K``
    (the test images of class K < N_LABELS), ``FACTOR:LOW..HIGH`` (FACTORS (N, F) named FACTOR_NAMES, e.g.
    ``pos_x:0..0.3``) or test indices below N (``17,42,99``); the selected indices and the value as the link writes
    it, or None if it does not fit."""
    text = (text or "").strip()
    if text.startswith(LABEL_PREFIX):
        k = whole_number(text[len(LABEL_PREFIX):])
        if labels is None or k is None or k >= n_labels:
            return None
    try:
        chosen = directions.group(text, n, labels, factors, factor_names)
    except UserError:
        return None
    if text.startswith(LABEL_PREFIX):
        return chosen, f"{LABEL_PREFIX}{k}"
    return chosen, text if ":" in text else ",".join(str(int(i)) for i in chosen)


def put(path: str, indices, how: str, link: str | None = None, **values) -> None:
    """Make INDICES the selection; HOW (a msgid with VALUES) says where it came from."""
    indices = np.unique(np.asarray(indices, dtype=np.int64))
    if link is None and len(indices) <= MAX_LINKED:
        link = ",".join(str(int(i)) for i in indices)
    st.session_state[KEY] = {"path": path, "indices": indices, "link": link, "how": (how, values)}


def clear() -> None:
    st.session_state.pop(KEY, None)
    st.session_state.pop(SEEN, None)  # the same lasso drawn again selects again


def from_link(data, path: str, n_test: int) -> None:
    """Once, when the page opens on a link with ``select=``: select what it names, or say in one sentence that it
    does not fit (and select nothing)."""
    value = view_link.wanted("select")
    if value is None:
        return
    labels = class_labels(data)
    n_labels = len(data.label_names) if data.label_names else (int(labels.max()) + 1 if labels is not None else 0)
    factors = data.y_test.numpy() if data.y_test is not None and data.labels_are_factors else None
    parsed = parse(value, labels, n_labels, n_test, factors, data.factor_names)
    if parsed is None:
        clear()
        if labels is None:
            view_link.problem(PAGE, N_("The link's selection {value} does not fit this model: it takes test images "
                                       "from 0 to {last} (as 17,42,99); nothing is selected."),
                              value=value, last=n_test - 1)
        else:
            view_link.problem(PAGE, N_("The link's selection {value} does not fit this model: it takes label:0 to "
                                       "label:{last_label}, or test images from 0 to {last} (as 17,42,99); nothing "
                                       "is selected."), value=value, last_label=n_labels - 1, last=n_test - 1)
        return
    indices, link = parsed
    put(path, indices, N_("from the link"), link=link)


def take_event(path: str, event, n: int) -> int | None:
    """A Plotly chart event: see :func:`take_indices`."""
    return take_indices(path, event_indices(event, n))


def take_indices(path: str, found: np.ndarray) -> int | None:
    """The point indices a chart event sent: more than one (a box or a lasso) becomes the selection (once per
    event); one point is a click, returned for the picked point."""
    if len(found) > 1:
        seen = (path, tuple(int(i) for i in found))
        if st.session_state.get(SEEN) != seen:
            st.session_state[SEEN] = seen
            put(path, found, N_("drawn on the map"))
        return None
    return int(found[0]) if len(found) == 1 else None


def kept(path: str, n: int) -> dict | None:
    """The selection of the model at PATH among N test images, or None (the link untouched)."""
    selection = st.session_state.get(KEY)
    if not selection or selection["path"] != path or not len(selection["indices"]) or selection["indices"].max() >= n:
        return None
    return selection


def current(path: str, n: int) -> dict | None:
    """The selection of the model at PATH (None when there is none), written into the link."""
    selection = kept(path, n)
    if selection is None:
        view_link.write(select=None)
        return None
    view_link.write(select=selection["link"])
    return selection


def grey_others(fig, indices: np.ndarray | None, picked: int | None = None):
    """FIG with the points outside INDICES greyed (still drawn): Plotly's ``selectedpoints`` on every trace whose
    ``customdata`` are test indices; and the PICKED point ringed (a click would otherwise leave Plotly's own
    one-point selection drawn over the selection: the ring redraws the map)."""
    if indices is None:
        return fig
    ring = None
    for trace in fig.data:
        data = getattr(trace, "customdata", None)
        if data is None or getattr(trace, "mode", None) != "markers":
            continue
        data = np.asarray(data).reshape(len(data), -1)[:, 0]
        trace.update(selectedpoints=np.flatnonzero(np.isin(data, indices)).tolist(), selected=SELECTED,
                     unselected=UNSELECTED)
        at = np.flatnonzero(data == picked) if picked is not None else []
        if len(at):
            ring = (trace.x[at[0]], trace.y[at[0]])
    if ring is not None:
        fig.add_scattergl(x=[ring[0]], y=[ring[1]], mode="markers", hoverinfo="skip", showlegend=False,
                          marker={"size": 15, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "#202020"}})
    return fig
