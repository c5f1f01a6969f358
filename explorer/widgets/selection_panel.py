"""A selection of the Latent map, shown so that one can act on it: its count and label counts, a grid of its
images (``PAGE_SIZE`` a page), its mean image and the decode of its mean mu, mu~(mean mu) (E3's mean through the
decoder), and downloads of its indices, labels and mu as CSV and of the grid as PNG; and the ways to select
without drawing: a class, or a factor's range (shapes)."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st

from explorer.figures import images
from explorer.i18n import N_, _
from explorer.state import dim_names
from explorer.widgets import downloads, map_points, map_selection
from explorer.widgets.directions import picker
from training.analysis import latent

PAGE_SIZE = 64
COLUMNS = 8


def selection_csv(indices: np.ndarray, labels: np.ndarray | None, mu: np.ndarray) -> str:
    """One row per selected test image, in index order: ``index,label,mu_0,...,mu_{Z-1}`` (label empty without
    labels; mu with 9 significant digits, float32 read back exactly)."""
    indices = np.sort(np.asarray(indices, dtype=np.int64))
    out = io.StringIO()
    out.write(",".join(["index", "label"] + [f"mu_{d}" for d in range(mu.shape[1])]) + "\n")
    for i in indices:
        label = "" if labels is None else str(int(labels[i]))
        out.write(",".join([str(int(i)), label] + [f"{v:.9g}" for v in mu[i]]) + "\n")
    return out.getvalue()


def _select_label(path: str, labels: np.ndarray, names: list[str], k: int) -> None:
    map_selection.put(path, np.flatnonzero(labels == k), N_("label {label}"), link=f"{map_selection.LABEL_PREFIX}{k}",
                      label=names[k])


def _select_range(path: str, data, k: int) -> None:
    values = data.y_test.numpy()[:, k]
    low, high = st.session_state[f"map_sel_range_{k}"]
    link = f"{data.factor_names[k]}:{float(low)!r}..{float(high)!r}"  # select= reads it back exactly
    map_selection.put(path, np.flatnonzero((values >= low) & (values <= high)), N_("{factor} from {low} to {high}"),
                      link=link, factor=data.factor_names[k], low=f"{low:.2f}", high=f"{high:.2f}")


def controls(data, path: str) -> None:
    """Select without drawing: the test images of one class, or those whose factor lies in a range (shapes)."""
    labels = map_selection.class_labels(data)
    if labels is None:
        return
    with st.expander(_("Select by label or factor"), icon=":material/checklist:"):
        if data.labels_are_factors and data.factor_names:
            a, b = st.columns([1, 2])
            name = a.selectbox(_("Factor"), data.factor_names, key="map_sel_factor",
                               format_func=dim_names.factor_title)
            k = data.factor_names.index(name)
            values = data.y_test.numpy()[:, k]
            lo, hi = float(values.min()), float(values.max())
            if hi <= lo:
                hi = lo + 1.0
            b.slider(_("Range"), lo, hi, (lo, hi), key=f"map_sel_range_{k}")
            st.button(_("Select this range"), key="map_sel_by_factor", on_click=_select_range, args=(path, data, k))
        names = data.label_names or [str(k) for k in range(int(labels.max()) + 1)]
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        k = a.selectbox(_("Label"), range(len(names)), format_func=lambda j: names[j], key="map_sel_label")
        b.button(_("Select this label"), key="map_sel_by_label", on_click=_select_label, args=(path, labels, names, k))


def _label_counts(data, indices: np.ndarray) -> None:
    labels = map_selection.class_labels(data)
    if labels is None:
        return
    values, counts = np.unique(labels[indices], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    names = data.label_names
    rows = {_("label"): [names[v] if names and 0 <= v < len(names) else str(v) for v in values[order]],
            _("count"): [int(c) for c in counts[order]]}
    st.dataframe(rows, hide_index=True, height=min(36 * (len(values) + 1) + 3, 280))


def show(run, data, x_test, mu: np.ndarray, selection: dict) -> None:
    """The selection's panel, with its downloads and a Clear button."""
    indices = selection["indices"]
    how, values = selection["how"]
    values = {k: dim_names.factor_title(v) if k == "factor" else v for k, v in values.items()}  # in today's language
    st.subheader(_("Selection"))
    top, clear_col = st.columns([4, 1])
    said = _("**{n}** test images selected ({how}).") if map_points.split_shown() == "test" else \
        _("**{n}** points selected ({how}).")  # training images among them
    top.markdown(said.format(n=f"{len(indices):,}", how=_(how).format(**values)))
    clear_col.button(_("Clear selection"), key="map_sel_clear", on_click=map_selection.clear,
                     icon=":material/deselect:")
    if selection["link"] is None:
        st.caption(_("The link does not carry this selection: {n} points, more than {max} by index.").format(
            n=f"{len(indices):,}", max=map_selection.MAX_LINKED))
    counts, grid_col, means = st.columns([1, 2, 1])
    with counts:
        _label_counts(data, indices)
    with grid_col:
        pages = max(1, -(-len(indices) // PAGE_SIZE))
        page = 1
        if pages > 1:
            page = int(st.number_input(_("Page"), 1, pages, 1, key="map_sel_page"))
            page = min(max(page, 1), pages)
        shown = indices[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        grid = images.image_grid(latent.to_hwc(x_test[shown]), ncols=COLUMNS, pad=1)
        st.image(images.display(grid, 360), width=360, caption=_("images {first} to {last} of {n}").format(
            first=(page - 1) * PAGE_SIZE + 1, last=(page - 1) * PAGE_SIZE + len(shown), n=f"{len(indices):,}"))
        downloads.image_button(grid, f"selection-page-{page}", "map_sel_grid")
    with means:
        mean_x = latent.to_hwc(x_test[indices]).mean(axis=0)
        mean_mu = mu[indices].mean(axis=0)
        decoded = latent.decode_images(run.model, mean_mu)[0]
        st.image(images.display(mean_x, 120), width=120, caption=_("mean image"))
        st.image(images.display(decoded, 120), width=120, caption=_("decoded at the mean μ(x): μ̃(μ̄)"))
    labels = map_selection.class_labels(data)
    if map_points.split_shown() == "test" and st.button(
            _("Find the direction from it"), icon=":material/explore:", key="map_sel_direction",
            help=_("Open the Directions page with this selection as group A.")):
        picker.use_selection_as_a()
        st.switch_page("views/directions.py")
    st.download_button(_("indices, labels and mu (CSV)"), data=lambda: selection_csv(indices, labels, mu),
                       file_name=f"selection-{len(indices)}.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="map_sel_csv")
