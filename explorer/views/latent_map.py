"""Latent map: mu(x) of the test images in the plane, a point's image and reconstruction on click, the decoder's manifold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer.figures import charts, density, ellipse, images
from explorer.i18n import N_, _
from explorer.state import dim_names, latent_point, map_embedding, shared, view_link, your_input
from explorer.widgets import downloads, epochs, live, map_canvas, map_points, map_selection, map_thumbs, selection_panel
from explorer.widgets.directions import map_axis
from training.core.numbers import whole_number
from training.analysis import latent, map_cache
from training.analysis.embedding import MAX_POINTS as EMBED_MAX_POINTS

METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "dims": N_("two latent dims"), "axis": N_("your axis")}
EMBEDDINGS = latent.NEIGHBOUR_EMBEDDINGS
PERPLEXITY = 30.0
CANVAS = "latent_map_canvas"  # the map's key when regl-scatterplot draws it (many points: map_canvas.renderer)
FIRST_EMBEDDING = ("umap", "tsne")  # a >2-D model with one of these shipped opens on it (the first found)


@st.cache_data(max_entries=16, show_spinner=False)
def _projection(path: str, digest: str, method: str, dims: tuple[int, int], seed: int, max_points: int,
                _mu: np.ndarray) -> tuple[latent.Projection, np.ndarray]:
    """The projection of (a subsample of) mu and the test indices of its points. A neighbour embedding
    (t-SNE, UMAP) is read from the disk cache when this model's mu has had one (training/analysis/map_cache.py)."""
    if method not in EMBEDDINGS:
        return latent.project(_mu, method, dims=dims, seed=seed), np.arange(len(_mu))
    idx = latent.subsample(len(_mu), max_points, seed)
    mu = _mu[idx]
    coords, _hit = map_cache.cached(mu, method, seed, PERPLEXITY, lambda: latent.project(mu, method, seed=seed).coords,
                                    shipped_with=(path, digest))  # a bundled demo carries its own
    titles = {"tsne": ("t-SNE 1", "t-SNE 2"), "umap": ("UMAP 1", "UMAP 2")}[method]
    return latent.Projection(method, coords, titles, _mu.shape[1]), idx


@st.cache_data(max_entries=16, show_spinner=False)
def _manifold(path: str, digest: str, method: str, dims: tuple[int, int], n: int, plane: str,
              _projection: latent.Projection, _model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded n x n grid over the plotted axes, mapped back by the projection: grid image, xs, ys."""
    grid = latent.manifold_grid_latents(_projection, n)
    decoded = latent.decode_images(_model, grid.z)
    return images.image_grid(decoded, ncols=n, pad=0), grid.xs, grid.ys


def shipped_embedding(run, n_test: int) -> str | None:
    """The neighbour embedding RUN carries computed ahead for its weights (a bundled demo: explorer/demos/
    first_views.py), if any: its map opens on it, with no wait, rather than on PCA."""
    digest, n = shared.weights_digest(run.path), min(n_test, EMBED_MAX_POINTS)
    return next((m for m in FIRST_EMBEDDING if map_cache.shipped(run.path, digest, n, m, 0, PERPLEXITY) is not None),
                None)


def _defaults(run, data, n_test: int) -> None:
    """A newly chosen model starts from its own defaults (raw dims for Z = 2; else its shipped neighbour
    embedding, or PCA; z_0, z_1), or from what a link asks for (its projection, dims and picked point, when they
    fit this model)."""
    z_dim = run.config.model.latent_dim
    st.session_state["map_method"] = "dims" if z_dim == 2 else (
        (z_dim > 2 and shipped_embedding(run, n_test)) or "pca")
    st.session_state["map_dim_x"], st.session_state["map_dim_y"] = 0, min(1, z_dim - 1)
    if data.labels_are_factors and data.factor_names:
        st.session_state["map_color"] = data.factor_names[0]
    proj, dims, point = view_link.wanted("proj"), view_link.wanted("dims"), view_link.wanted("point")
    axis = map_axis.from_link(run)  # True: its direction is the session's; False: a bad one, said
    if proj in METHOD_LABELS and (proj not in ("dims", "axis") or z_dim > 1) and not (proj == "axis" and axis is False):
        st.session_state["map_method"] = proj
    if axis and z_dim > 1:
        st.session_state["map_method"] = "axis"
    try:
        i, j = (int(v) for v in (dims or "").split(","))
        if 0 <= i < z_dim and 0 <= j < z_dim and i != j:  # one dimension on both axes is a diagonal line
            st.session_state["map_dim_x"], st.session_state["map_dim_y"] = i, j
    except ValueError:
        pass
    picked = whole_number(point)
    if picked is not None and picked < n_test:
        st.session_state["map_selected"] = (str(run.path), picked)
    map_selection.from_link(data, str(run.path), n_test)


def _axis_titles(proj: latent.Projection, names: list[str | None]) -> tuple[str, str]:
    """The plotted axes' titles; raw dimensions carry the factor they track, if any."""
    if proj.method == "dims":
        return dim_names.title(proj.dims[0], names), dim_names.title(proj.dims[1], names)
    return charts.axis_titles(proj)


def _controls(z_dim: int, data, names: list[str | None]) -> dict:
    c1, c2, c3 = st.columns([2, 2, 2])
    methods = (["dims", "pca", "tsne", "umap", "axis"] if z_dim == 2 else ["pca", "tsne", "umap"] if z_dim == 1 else
               ["pca", "tsne", "umap", "dims", "axis"])  # two latent dims, and an axis, need two dimensions
    method = c1.radio(_("Projection"), methods, format_func={m: _(METHOD_LABELS[m]) for m in methods}.get, horizontal=True,
                      key="map_method",
                      help=_("PCA: the plane of largest variance of mu. t-SNE and UMAP: images near each other in z "
                             "stay near each other (computed once per model, then kept; above {n} points in a "
                             "background process, the map showing PCA until it is done). Two dims: raw "
                             "coordinates. Your axis: x along the direction between two groups you choose, y the "
                             "largest variance orthogonal to it.").format(n=f"{map_embedding.IN_SERVER_MAX:,}"))
    dims = (0, min(1, z_dim - 1))
    if method == "dims":
        a, b = c2.columns(2)
        st.session_state.setdefault("map_dim_x", 0)  # hidden widgets lose their state: restore the defaults
        st.session_state.setdefault("map_dim_y", dims[1])
        i = a.selectbox(_("x axis"), range(z_dim), format_func=lambda k: dim_names.title(k, names), key="map_dim_x")
        others = [k for k in range(z_dim) if k != i]  # the same dimension on both axes would draw a diagonal line
        if st.session_state.get("map_dim_y") not in others:
            st.session_state["map_dim_y"] = others[0]
        j = b.selectbox(_("y axis"), others, format_func=lambda k: dim_names.title(k, names), key="map_dim_y")
        dims = (int(i), int(j))
    color_factor = None
    if data.labels_are_factors and data.factor_names:
        color_factor = c3.selectbox(_("Colour by"), data.factor_names, key="map_color", format_func=dim_names.factor_title)
    o1, o2, o3 = st.columns(3)
    density_on = o1.toggle(_("Aggregate posterior against the prior"), key="map_density", help=_(
        "Where the encodings μ(x) lie against where the prior q(z) = N(0, I) puts its mass: the regions holding 50%, "
        "90% and 99% of each."))
    overlay = o2.toggle(_("Decoded grid under the points"), key="map_grid_on_points", disabled=method in EMBEDDINGS)
    n_grid = o3.slider(_("Grid size"), 5, 25, 12, key="map_grid_n", disabled=method in EMBEDDINGS)
    shown_labels = None
    if data.y_test is not None and not data.labels_are_factors and data.label_names:
        shown_labels = st.multiselect(_("Show only these labels"), list(range(len(data.label_names))),
                                      format_func=lambda k: data.label_names[k], key="map_labels",
                                      placeholder=_("all labels"))
    view_link.write(proj=method, dims=f"{dims[0]},{dims[1]}" if method == "dims" else None)
    if method != map_axis.METHOD:
        map_axis.unlink()
    return {"method": method, "dims": dims, "color_factor": color_factor, "overlay": overlay and method not in EMBEDDINGS,
            "density": density_on, "n_grid": n_grid, "labels": shown_labels or None}


def _named_factor(data, factor: str | None) -> bool:
    """Whether FACTOR is the one the label names name (shapes: "shape", 0 to 2 for square, ellipse, heart): it is
    coloured and captioned by class, not on a continuous scale."""
    return bool(data.labels_are_factors and data.label_names and data.factor_names and factor == data.factor_names[0])


def _scatter_figure(proj: latent.Projection, idx: np.ndarray, data, opts: dict, manifold) -> object:
    y = data.y_test.numpy() if data.y_test is not None else None
    if y is not None and _named_factor(data, opts["color_factor"]):
        fig = charts.latent_scatter(proj.coords, idx, labels=y[idx, 0].astype(int), label_names=data.label_names,
                                     axis_titles=_axis_titles(proj, opts["names"]))
    elif y is not None and data.labels_are_factors:
        k = data.factor_names.index(opts["color_factor"])
        fig = charts.latent_scatter(proj.coords, idx, color_values=y[idx, k],
                                     color_title=dim_names.factor_title(opts["color_factor"]),
                                     axis_titles=_axis_titles(proj, opts["names"]))
    else:
        fig = charts.latent_scatter(proj.coords, idx, labels=None if y is None else y[idx],
                                     label_names=data.label_names, axis_titles=_axis_titles(proj, opts["names"]))
    if opts["density"]:
        fig, opts["density_said"] = density.add_aggregate_and_prior(fig, proj)
    if opts["overlay"] and manifold is not None:
        fig = charts.add_manifold_overlay(fig, *manifold)
    return fig


def _your_input(fig, run, proj: latent.Projection) -> tuple[object, str | None]:
    """The visitor's own input (the Your image page): its posterior's 2-sigma ellipse, and what is drawn in words;
    not on an earlier epoch's map (its mu and sigma are the latest weights' encoder's)."""
    posterior = your_input.get(str(run.path), run.config.model.latent_dim)
    if posterior is None or epochs.chosen(run.path) is not None:
        return fig, None if posterior is None else _("Your image's posterior was read with the latest weights, not "
                                                     "this epoch's: it is not drawn.")
    return ellipse.add_posterior(fig, posterior, proj, _(METHOD_LABELS[proj.method]))


def _captions(data, opts: dict) -> list[str] | None:
    """What the hover label said of each test image, now under its thumbnail: its class, or the factor coloured."""
    if data.y_test is None:
        return None
    y = data.y_test.numpy()
    if _named_factor(data, opts["color_factor"]):
        return [data.label_names[int(v)] for v in y[:, 0]]
    if data.labels_are_factors:
        if not opts["color_factor"]:
            return None
        title, k = dim_names.factor_title(opts["color_factor"]), data.factor_names.index(opts["color_factor"])
        return [f"{title} {v:.2f}" for v in y[:, k]]
    return [data.label_names[int(v)] for v in y] if data.label_names else [str(int(v)) for v in y]


@st.fragment
def scatter_panel(run, data, x_test, mu: np.ndarray) -> None:
    """Controls, scatter, selection and manifold: interacting reruns only this."""
    z_dim = run.config.model.latent_dim
    path, digest = str(run.path), map_points.keyed(epochs.digest(run))  # the projections of the split drawn
    names = dim_names.of_history(run.history, z_dim)
    opts = _controls(z_dim, data, names)
    opts["names"] = names
    method = map_embedding.method_shown(mu, opts["method"], 0, PERPLEXITY)  # PCA while a background one runs
    axis, plane = map_axis.plane(run, mu, digest) if method == map_axis.METHOD else (None, "")
    method = "pca" if method == map_axis.METHOD and axis is None else method  # no direction yet: PCA
    if method in EMBEDDINGS:
        spinner = _("Running {method} on {n} points (seconds, once per model; kept afterwards)...").format(
            method=METHOD_LABELS[method], n=f"{len(mu):,}")
    else:
        spinner = _("Projecting...")
    with st.spinner(spinner):  # all points, always
        proj, idx = _projection(path, digest, method, opts["dims"], 0, len(mu), mu) if axis is None else \
            (axis, np.arange(len(mu)))
    manifold = None
    if proj.invertible:
        manifold = _manifold(path, digest, method, opts["dims"], opts["n_grid"], plane, proj, run.model)
    if opts["labels"]:  # filter: the points of the chosen labels only (the projection itself is of all)
        keep = np.isin(data.y_test.numpy()[idx], opts["labels"])
        proj, idx = replace(proj, coords=proj.coords[keep]), idx[keep]
    big = map_canvas.renderer(len(idx)) == "regl"
    sent = map_canvas.selected(CANVAS, len(mu))  # a click or lasso on either renderer, read before it redraws
    clicked = (map_selection.take_indices(path, sent) if sent is not None else
               map_selection.take_event(path, st.session_state.get("latent_map_scatter"), len(mu)))
    selection, picked = map_selection.current(path, len(mu)), map_selection.remember_pick(run, clicked, len(mu))
    left, right = st.columns([3, 1])
    with left:
        fig = map_thumbs.quiet_hover(_scatter_figure(proj, idx, data, opts, manifold), len(x_test))  # the thumbnail says it
        fig, said = _your_input(map_selection.grey_others(fig, selection and selection["indices"], picked), run,
                                 proj)
        if big:
            map_canvas.draw(fig, CANVAS, picked)
        else:
            st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="latent_map_scatter",
                            config={"scrollZoom": True, **downloads.chart_config("latent-map")})
        map_thumbs.thumbnails(x_test, map_points.atlas_id(run), "latent_map_scatter",
                              captions=map_points.captions(_captions(data, opts), len(x_test)))
        for line in (opts.get("density_said"), said):
            if line:
                st.caption(line)
    with right:
        st.number_input(_("Find test image"), 0, len(mu) - 1, value=None, key="map_find",
                        placeholder=_("index"), on_change=map_selection.find, args=(str(run.path),))
        map_selection.show_picked(run, data, x_test, picked, mu,
                                  name=None if map_points.split_shown() == "test" else map_points.name)
    selection_panel.controls(data, path)
    if selection is not None:
        selection_panel.show(run, data, x_test, mu, selection)

    st.subheader(_("Manifold"))
    if manifold is None:
        st.info(_("{method} has no inverse map from the plane back to latent space, so there is no manifold grid for "
                  "it. Choose PCA or two latent dims.").format(method=METHOD_LABELS[opts["method"]]))
        return
    grid_image, xs, ys = manifold
    if proj.method == "pca":
        how = _("each grid point mapped back to z = mean + coords · components (inverse PCA)")
    elif proj.method == map_axis.METHOD:
        how = map_axis.grid_words()
    else:
        i, j = proj.dims
        how = _("z_{i} and z_{j} on the grid, every other dimension at 0").format(i=i, j=j)
    h = run.config.model.image_shape[1]
    factor = max(1, min(4, round(640 / max(1, opts["n_grid"] * h))))
    st.image(images.upscale_nearest(images.squeeze_gray(images.to_uint8(grid_image)), factor))
    downloads.image_button(grid_image, "manifold", "manifold")
    x_title, y_title = _axis_titles(proj, opts["names"])
    st.caption(_("Decoder mean μ̃(z) over a {n}×{n} grid of the plotted axes ({x_title} left to right from {x0} to "
                 "{x1}, {y_title} top to bottom from {y0} to {y1}): {how}.").format(
        n=opts["n_grid"], x_title=x_title, y_title=y_title, x0=f"{xs[0]:.2f}", x1=f"{xs[-1]:.2f}",
        y0=f"{ys[0]:.2f}", y1=f"{ys[-1]:.2f}", how=how))


def main() -> None:
    run = shared.current_run()
    data = shared.current_data(run)
    shared.on_new_model("map", lambda: _defaults(run, data, map_points.count(data)))  # the link's point in its split
    st.title(_("Latent map"))
    epochs.scrubber("map")
    run = epochs.shown(run)
    points = map_points.choose(run, data)  # test images, training images or both (link points=)
    x_test, data = points.x, points.data  # the points and their labels, numbered test first
    st.caption(map_points.describe(points, run.config.model.latent_dim))
    mu = map_points.encodings_of(run, points, epochs.digest(run))  # a progress bar while a split is encoded
    scatter_panel(run, data, x_test, mu)
    live.follow_training("map")


main()
