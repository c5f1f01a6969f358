"""An axis of your own on the Latent map (issue 27, item 4): the plane (direction, first principal direction
orthogonal to it) of training.analysis.directions.axis_projection, and the map drawn on it from the link's
``axis=label:1>label:7`` (explorer/widgets/directions/map_axis.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.figures import charts, density, ellipse
from training.analysis import aggregate, directions, latent
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
Z16 = "mnist5k-z16"


# ---------------------------------------------------------------- the plane

def _cloud(seed: int = 0, n: int = 800, z_dim: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, z_dim)) * np.array([3.0, 0.5, 2.0, 1.0, 0.3, 1.5])[:z_dim] + 0.7


def test_the_axis_plane_is_orthonormal_with_x_along_the_direction():
    mu = _cloud()
    d = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    proj = directions.axis_projection(mu, d, "label:1", "label:7")
    c = proj.components
    np.testing.assert_allclose(c @ c.T, np.eye(2), atol=1e-12)  # orthonormal rows
    np.testing.assert_allclose(c[0], d / np.linalg.norm(d), atol=1e-12)
    np.testing.assert_allclose(proj.coords[:, 0], (mu - mu.mean(0)) @ d / np.linalg.norm(d), atol=1e-5)
    rest = (mu - mu.mean(0)) - np.outer((mu - mu.mean(0)) @ c[0], c[0])  # what is left orthogonal to d
    top = np.linalg.svd(rest, full_matrices=False)[2][0]
    assert abs(abs(top @ c[1]) - 1) < 1e-9  # y: the direction of largest variance of the rest
    assert proj.linear and proj.invertible


def test_the_axis_planes_inverse_recovers_mu_projected_on_the_plane():
    mu = _cloud(1)
    proj = directions.axis_projection(mu, np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.0]))
    back = proj.inverse(proj.coords)
    c, mean = proj.components, mu.mean(0)
    np.testing.assert_allclose(back, mean + ((mu - mean) @ c.T) @ c, atol=1e-4)  # the orthogonal projection
    np.testing.assert_allclose((back - mean) @ c.T, proj.coords, atol=1e-4)  # and it maps to the same coords


def test_on_a_synthetic_run_the_direction_from_low_to_high_factor_has_its_largest_entry_at_the_copying_dim():
    rng = np.random.default_rng(3)
    factors = rng.uniform(size=(1500, 2))
    mu = rng.normal(size=(1500, 6))
    mu[:, 3] = 4 * factors[:, 0]  # coordinate 3 copies the factor scale
    groups = directions.Groups(1500, None, factors, ("scale", "pos_x"))
    found = directions.between(mu, groups.read("scale:0..0.3"), groups.read("scale:0.7..1"))
    assert int(np.argmax(np.abs(found.direction))) == 3 and found.direction[3] > 0
    proj = directions.axis_projection(mu, found.direction, "scale:0..0.3", "scale:0.7..1")
    assert int(np.argmax(np.abs(proj.components[0]))) == 3


def test_the_prior_the_posterior_and_the_grid_go_through_the_axis_plane():
    mu = _cloud(2)
    proj = directions.axis_projection(mu, np.array([1.0, 1.0, 0.0, 0.0, 0.0, 2.0]), "label:1", "label:7")
    mean, cov = aggregate.prior_on_plane(proj)  # N(0, I) through orthonormal rows: unit covariance
    np.testing.assert_allclose(cov, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(mean, -proj.components @ mu.mean(0), atol=1e-12)
    z, sigma = mu[5], np.full(6, 0.3)
    centre, points = ellipse.projected_ellipse(z, sigma, *ellipse.affine_map(proj))
    np.testing.assert_allclose(centre, proj.coords[5], atol=1e-5)  # the posterior's mean lands on its point
    assert np.linalg.norm(points - centre, axis=1) == pytest.approx(0.6, rel=1e-6)  # 2 sigma, isotropic here
    grid = latent.manifold_grid_latents(proj, 5)
    np.testing.assert_allclose((grid.z - mu.mean(0)) @ proj.components.T,
                               np.stack(np.meshgrid(grid.xs, grid.ys), -1).reshape(-1, 2), atol=1e-4)
    fig, said = density.add_aggregate_and_prior(charts.latent_scatter(proj.coords, np.arange(len(mu))), proj)
    assert [t.legendgroup for t in fig.data if t.hoverinfo != "skip"].count("prior") == 3
    assert "mapped exactly into this plane" in said
    assert charts.axis_titles(proj)[0].startswith("label:1 → label:7 (")
    assert charts.axis_titles(proj)[1].startswith("first principal direction orthogonal to it (")


# ---------------------------------------------------------------- the page

def _values(values) -> np.ndarray:
    if isinstance(values, dict):  # numpy's bytes (Plotly >= 6)
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(np.float64)
    return np.asarray(values, dtype=np.float64)


def _opened(axis: str, demo: str = Z16, proj: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["model"] = demo
    at.query_params["axis"] = axis
    if proj:
        at.query_params["proj"] = proj
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _map_spec(at: AppTest) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (spec,) = [s for s in specs if any(t.get("type") == "scattergl" and t.get("customdata") is not None
                                       for t in s["data"])]
    return spec


@pytest.fixture(scope="module")
def z16_test_mu():
    from training.data import load_dataset
    from training.models.open import load_run

    data = load_dataset("mnist5k")
    mu = latent.encode_dataset(load_run(DEMOS / Z16).model, data.x_test).astype(np.float64)
    return mu, data.y_test.numpy()


def test_a_link_with_an_axis_draws_the_two_groups_apart_along_x(z16_test_mu):
    mu, y = z16_test_mu
    at = _opened("label:1>label:7")
    assert at.radio(key="map_method").value == "axis"
    assert (at.query_params["proj"], at.query_params["axis"]) == ("axis", "label:1>label:7")
    spec = _map_spec(at)
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("1 → 7 (")
    traces = {t["name"]: t for t in spec["data"] if t.get("customdata") is not None}
    x = {k: _values(traces[k]["x"]) for k in ("1", "7")}
    d = mu[y == 7].mean(0) - mu[y == 1].mean(0)  # the direction, computed here from the test encodings
    assert x["7"].mean() - x["1"].mean() == pytest.approx(np.linalg.norm(d), rel=1e-4)
    index = np.concatenate([_values(t["customdata"]) for t in traces.values()]).astype(int)
    xs = np.concatenate([_values(t["x"]) for t in traces.values()])
    ys = np.concatenate([_values(t["y"]) for t in traces.values()])
    centred = mu[index] - mu.mean(0)
    np.testing.assert_allclose(xs, centred @ d / np.linalg.norm(d), atol=1e-4)
    w = np.linalg.lstsq(centred, ys, rcond=None)[0]  # y = (mu - mean) . w: which direction is y?
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=1e-4) and abs(w @ d) / np.linalg.norm(d) < 1e-4
    assert any("u the direction's unit vector" in c.value for c in at.caption)  # the decoded grid maps back

    at.toggle(key="map_density").set_value(True).run()  # the prior's contours through the plane
    assert not at.exception, [e.value for e in at.exception]
    groups = [t.get("legendgroup") for t in _map_spec(at)["data"] if t.get("hoverinfo") != "skip"]
    assert groups.count("prior") == 3 and groups.count("encodings") == 3
    at.radio(key="map_method").set_value("pca").run()
    assert "axis" not in at.query_params and at.query_params["proj"] == "pca"


@pytest.mark.parametrize("axis, why", [
    ("label:1-label:7", "not written FROM>TO"),
    ("label:42>label:7", "holds no test images"),
    ("pos_x:0..0.3>label:7", "names a factor"),
    ("label:3>label:3", "the same test images"),
])
def test_a_bad_axis_in_the_link_is_one_sentence_and_the_map_draws_pca(axis, why, monkeypatch):
    from training.analysis import map_cache

    monkeypatch.setattr(map_cache, "shipped", lambda *args, **kwargs: None)  # its default is PCA then
    at = _opened(axis, proj="axis")
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith(f"The link's axis {axis} cannot be used:") and why in warning
    assert at.radio(key="map_method").value == "pca"
    assert _map_spec(at)["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")
    assert "axis" not in at.query_params


def test_the_axis_reaches_the_big_maps_renderer_and_the_posterior_ellipse(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAP_RENDERER", "regl")  # as above 10,000 points
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["model"] = "mnist5k-z2"
    at.query_params["axis"] = "label:0>label:1"
    at.session_state["your_input"] = {"run": str(DEMOS / "mnist5k-z2"), "mu": [0.5, -0.25], "sigma": [0.2, 0.4],
                                      "source": ("test image {index}", {"index": 17})}
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="map_method").value == "axis"
    assert [c.key for c in at.get("plotly_chart")] == ["map_axis_histogram"]  # the map is no Plotly chart here
    (canvas,) = [e for e in at.get("bidi_component") if "map_canvas" in e.proto.component_name]
    drawn = json.loads(canvas.proto.mixed.json)  # what the widget draws: map_canvas.payload of the map's figure
    assert drawn["n"] == 1000 and drawn["titles"][0].startswith("0 → 1 (")
    assert drawn["lines"]  # the posterior's ellipse, through the plane: the only lines on this map
    assert any("your image's posterior" in c.value.lower() and "2σ" in c.value for c in at.caption)


def test_choosing_your_axis_without_a_direction_offers_the_two_groups_on_the_map():
    from tests.test_app_explore import open_app

    at = open_app(Z16)
    at.switch_page("views/latent_map.py").run()
    assert "direction" not in at.session_state
    at.radio(key="map_method").set_value("axis").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="map_axis_a_label").value == 1 and at.selectbox(key="map_axis_b_label").value == 7
    assert _map_spec(at)["layout"]["xaxis"]["title"]["text"].startswith("1 → 7 (")
    at.selectbox(key="map_axis_b_label").set_value(3).run()  # another group: the map and the link follow
    assert not at.exception, [e.value for e in at.exception]
    assert _map_spec(at)["layout"]["xaxis"]["title"]["text"].startswith("1 → 3 (")
    assert at.query_params["axis"] == "label:1>label:3"
    at.selectbox(key="map_axis_a_kind").set_value("indices").run()
    at.text_input(key="map_axis_a_indices").set_value("3,5000").run()  # a group that names nothing here
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["The group 3,5000 names test image 5000; there are 1000 (0 to 999)."]
    assert any("The map shows PCA until" in i.value for i in at.info) and "axis" not in at.query_params
    assert _map_spec(at)["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")
