"""The big-map renderer (explorer/widgets/map_canvas): what it draws is read off the map's Plotly figure, so both
renderers show the same points, colours, greying, contours and decoded grid."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.figures import charts, density
from explorer.widgets import map_canvas, map_selection
from training.analysis import latent


def _figure(n=300, seed=0):
    rng = np.random.default_rng(seed)
    coords = rng.normal(size=(n, 2)) * [2.0, 0.5] + [1.0, -3.0]
    labels = rng.integers(0, 4, n)
    idx = rng.permutation(1000)[:n]  # the map's point indices are not positions
    return charts.latent_scatter(coords, idx, labels=labels, label_names=list("abcd")), coords, labels, idx


def _back(payload, column_x, column_y):
    x0, x1, y0, y1 = payload["extent"]
    return (x0 + (np.asarray(column_x) + 1) / 2 * (x1 - x0), y0 + (np.asarray(column_y) + 1) / 2 * (y1 - y0))


def test_points_keep_their_indices_coordinates_and_class_colours():
    fig, coords, labels, idx = _figure()
    drawn = map_canvas.payload(fig)
    points = drawn["points"]
    assert len(points) == len(idx) and sorted(points["i"]) == sorted(idx)
    assert points["x"].dtype == np.float32 and points["i"].dtype == np.int32
    assert points["x"].between(-1, 1).all() and points["y"].between(-1, 1).all()
    x, y = _back(drawn, points["x"], points["y"])
    at = {int(i): k for k, i in enumerate(idx)}
    order = [at[int(i)] for i in points["i"]]
    np.testing.assert_allclose(x, coords[order, 0], atol=1e-5 * np.ptp(coords[:, 0]))
    np.testing.assert_allclose(y, coords[order, 1], atol=1e-5 * np.ptp(coords[:, 1]))
    # one class per label trace, coloured as that trace, named in the legend
    for k, trace in enumerate(fig.data):
        chosen = points["i"].isin(np.asarray(trace.customdata))
        assert (points["c"][chosen] == k).all()
        assert drawn["palette"][k] == pytest.approx(map_canvas.rgba(trace.marker.color))
        assert drawn["legend"][k]["name"] == trace.name
    assert drawn["lines"] == [] and drawn["image"] is None


def test_a_selection_greys_the_other_points_and_draws_them_first():
    fig, _coords, _labels, idx = _figure()
    chosen = np.sort(idx[:40])
    fig = map_selection.grey_others(fig, chosen)
    drawn = map_canvas.payload(fig)
    points, grey = drawn["points"], len(drawn["palette"]) - 1
    assert drawn["palette"][grey] == pytest.approx(map_canvas.rgba(map_canvas.GREY))
    greyed = points["c"] == grey
    assert set(points["i"][~greyed]) == set(chosen.tolist())
    assert greyed.sum() == len(idx) - len(chosen)
    assert greyed.to_numpy()[:greyed.sum()].all()  # under the selection, not over it
    assert drawn["key"] != map_canvas.payload(_figure()[0])["key"]  # a new table: the browser gets it


def test_a_factor_colours_on_a_ramp_that_rises_with_its_values():
    rng = np.random.default_rng(1)
    coords, values = rng.normal(size=(200, 2)), rng.uniform(0.2, 0.9, 200)
    fig = charts.latent_scatter(coords, np.arange(200), color_values=values, color_title="scale")
    drawn = map_canvas.payload(fig)
    c = drawn["points"]["c"].to_numpy()
    assert c.min() == 0 and c.max() == map_canvas.RAMP - 1
    assert np.all(np.diff(c[np.argsort(values[drawn["points"]["i"]])]) >= 0)
    assert drawn["legend"][0]["low"] == f"{values.min():.2f}" and len(drawn["legend"][0]["ramp"]) == map_canvas.RAMP


def test_contours_and_the_prior_become_lines_in_the_same_square_and_the_prior_is_dashed():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(400, 6)).astype(np.float32)
    proj = latent.project(mu, "dims", dims=(0, 1))
    fig = charts.latent_scatter(proj.coords, np.arange(400))
    fig, _said = density.add_aggregate_and_prior(fig, proj)
    drawn = map_canvas.payload(fig)
    names = [e.get("name") for e in drawn["legend"] if "line" in e]
    assert any(n.startswith("encodings") for n in names) and any(n.startswith("prior") for n in names)
    assert next(e for e in drawn["legend"] if e.get("name", "").startswith("prior"))["dash"] is True
    # every vertex of every line lies on one of the figure's own lines, mapped by the same normalisation
    solid = [t for t in fig.data if t.mode == "lines" and t.line.dash in (None, "solid")]
    along = np.concatenate([np.stack([np.asarray(t.x, float), np.asarray(t.y, float)], 1) for t in solid])
    along = along[np.isfinite(along).all(1)]
    first = np.asarray(drawn["lines"][0]["vertices"])
    x, y = _back(drawn, first[:, 0], first[:, 1])
    assert np.abs(along[None] - np.stack([x, y], 1)[:, None]).sum(-1).min(1).max() < 1e-3 * np.ptp(along)
    dashed = sum(1 for t in fig.data if t.mode == "lines" and t.line.dash == "dash")
    assert len(drawn["lines"]) > len(solid) + dashed  # the dashed ellipses were cut into many dashes


def test_the_decoded_grid_fills_the_square_so_its_tiles_stay_where_plotly_put_them():
    rng = np.random.default_rng(3)
    coords = rng.normal(size=(100, 2))
    fig = charts.latent_scatter(coords, np.arange(100))
    grid = np.ones((40, 40, 1), np.float32)
    xs, ys = np.linspace(-2, 2, 5), np.linspace(2, -2, 5)
    fig = charts.add_manifold_overlay(fig, grid, xs, ys, opacity=0.5)
    drawn = map_canvas.payload(fig)
    assert drawn["extent"] == pytest.approx((-2.5, 2.5, -2.5, 2.5))  # half a tile beyond the outer grid points
    assert drawn["image"].startswith("data:image/png;base64,")


def test_the_browsers_click_or_lasso_is_read_as_point_indices_and_junk_is_dropped():
    import streamlit as st

    st.session_state.clear()
    st.session_state["k"] = {"selected": [5, 3, 3, 2.0, -1, 10_000, "7", True, 1.5]}
    assert map_canvas.selected("k", 100).tolist() == [2, 3, 5]
    st.session_state["k"] = {"has": "abc"}
    assert map_canvas.selected("k", 100) is None


@pytest.mark.parametrize("setting, n, expected", [("", 10_000, "plotly"), ("", 10_001, "regl"),
                                                   ("auto", 200_000, "regl"), ("plotly", 200_000, "plotly"),
                                                   ("regl", 10, "regl"), ("webgpu", 10, "plotly")])
def test_the_renderer_follows_the_setting_or_the_number_of_points(monkeypatch, setting, n, expected):
    monkeypatch.setenv(map_canvas.RENDERER_ENV, setting)
    assert map_canvas.renderer(n) == expected


def test_css_colours_become_the_librarys_quadruples():
    assert map_canvas.rgba("#ff8000") == pytest.approx([1.0, 128 / 255, 0.0, 1.0])
    assert map_canvas.rgba("rgb(68, 1, 84)") == pytest.approx([68 / 255, 1 / 255, 84 / 255, 1.0])
    assert map_canvas.rgba("rgba(70,70,70,0.95)") == pytest.approx([70 / 255] * 3 + [0.95])
