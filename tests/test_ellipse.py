"""The visitor's own input's posterior on the latent map: the ellipse math (explorer/figures/ellipse.py) and the
page that draws it (the bundled 2-D demo)."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS as BUNDLED_DEMOS
from explorer.figures.ellipse import affine_map, ellipse_points, projected_ellipse
from tests.waiting import HANG_S
from training.analysis import latent

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
Z2 = BUNDLED_DEMOS / "mnist5k-z2"
NAME = "your image: μ ± 2σ"


def mahalanobis(points: np.ndarray, center: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = points - center
    return np.sqrt(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d))


def test_raw_dims_give_the_axis_aligned_ellipse_with_half_axes_two_sigma():
    mu, sigma = np.array([0.5, -1.0, 3.0]), np.array([0.3, 0.1, 0.7])
    proj = latent.raw_dims(np.zeros((4, 3)), (2, 0))  # x: z_2, y: z_0
    center, points = projected_ellipse(mu, sigma, *affine_map(proj))
    np.testing.assert_allclose(center, [3.0, 0.5])
    assert np.allclose(points[0], points[-1])  # closed
    np.testing.assert_allclose(points.max(0) - center, [2 * 0.7, 2 * 0.3], rtol=1e-3)  # 2 sigma along each axis
    np.testing.assert_allclose(center - points.min(0), [2 * 0.7, 2 * 0.3], rtol=1e-3)
    # every point lies exactly 2 sigma from mu: ((x - 3) / 0.7)^2 + ((y - 0.5) / 0.3)^2 = 2^2
    np.testing.assert_allclose(((points[:, 0] - 3.0) / 0.7) ** 2 + ((points[:, 1] - 0.5) / 0.3) ** 2, 4.0)
    # the extreme points are on the axes: (3 +- 1.4, 0.5) and (3, 0.5 +- 0.6)
    for axis_point in ([3 + 1.4, 0.5], [3 - 1.4, 0.5], [3, 0.5 + 0.6], [3, 0.5 - 0.6]):
        assert np.min(np.linalg.norm(points - axis_point, axis=1)) < 1e-9


def test_an_ellipse_of_a_covariance_is_at_mahalanobis_distance_n_sigma():
    cov = np.array([[2.0, 0.8], [0.8, 0.5]])
    points = ellipse_points([1.0, 2.0], cov, n_sigma=3.0, n=50)
    np.testing.assert_allclose(mahalanobis(points, np.array([1.0, 2.0]), cov), 3.0)


def test_the_pca_ellipse_is_the_brute_force_transform_of_sampled_points():
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(500, 5)) @ rng.normal(size=(5, 5))  # the test encodings the PCA is of
    proj = latent.pca(cloud)
    mu, sigma = rng.normal(size=5), rng.uniform(0.2, 1.5, size=5)
    center, points = projected_ellipse(mu, sigma, *affine_map(proj))
    z = mu + sigma * rng.normal(size=(200_000, 5))  # samples of N(mu, diag sigma^2), E7
    coords = (z - proj.mean) @ proj.components.T  # the PCA's own transform, as pca() maps the cloud
    np.testing.assert_allclose((cloud - proj.mean) @ proj.components.T, proj.coords, atol=1e-4)
    np.testing.assert_allclose(center, coords.mean(0), atol=0.02)
    cov = np.cov(coords.T)
    np.testing.assert_allclose(mahalanobis(points, center, cov), 2.0, rtol=0.01)
    inside = mahalanobis(coords, center, cov) <= 2.0
    assert inside.mean() == pytest.approx(1 - np.exp(-2.0), abs=0.005)  # the 2-sigma ellipse holds 86.5 %


def test_neighbour_embeddings_have_no_map_from_z():
    proj = latent.Projection("tsne", np.zeros((3, 2)), ("t-SNE 1", "t-SNE 2"), 2)
    assert affine_map(proj) is None


def _map(posterior_run: Path | None, sigma=(0.2, 0.4)) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(Z2)
    if posterior_run is not None:
        z_dim = 2 if posterior_run == Z2 else 16
        at.session_state["your_input"] = {"run": str(posterior_run), "mu": [0.5, -0.25] + [0.0] * (z_dim - 2),
                                          "sigma": list(sigma) + [1.0] * (z_dim - 2),
                                          "source": ("test image {index}", {"index": 17})}
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _traces(at: AppTest) -> dict[str, dict]:
    (chart,) = at.get("plotly_chart")
    return {t.get("name"): t for t in json.loads(chart.proto.spec)["data"]}


def _values(values) -> np.ndarray:
    if isinstance(values, dict):  # numpy's bytes (Plotly >= 6)
        import base64

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=np.float64)


def test_the_latent_map_draws_the_posterior_of_the_visitors_input_of_this_model_only():
    at = _map(Z2)
    traces = _traces(at)
    assert NAME in traces and "test image 17" in traces[NAME]["hovertemplate"]
    x, y = _values(traces[NAME]["x"]), _values(traces[NAME]["y"])
    assert at.radio(key="map_method").value == "dims"  # raw z_0, z_1: half-axes 2 sigma
    assert x.max() - 0.5 == pytest.approx(0.4, rel=1e-3) and y.max() + 0.25 == pytest.approx(0.8, rel=1e-3)
    assert any("at μ ± 2σ" in c.value for c in at.caption)
    at.radio(key="map_method").set_value("pca").run()  # PCA: drawn too, through the projection
    assert not at.exception and NAME in _traces(at)
    for other in (None, BUNDLED_DEMOS / "mnist5k-z16"):  # nothing, or another model's input: no ellipse
        at = _map(other)
        assert NAME not in _traces(at)
        assert not any("μ ± 2σ" in c.value for c in at.caption)


def test_a_neighbour_embedding_says_why_the_posterior_is_not_drawn(monkeypatch):
    import streamlit as st

    from training.analysis import map_cache

    rng = np.random.default_rng(0)  # any plane will do: the page must not draw the ellipse on it
    monkeypatch.setattr(map_cache, "cached", lambda mu, *args, **kwargs: (rng.normal(size=(len(mu), 2)), False))
    at = _map(Z2)
    try:
        at.radio(key="map_method").set_value("tsne").run()
    finally:
        st.cache_data.clear()  # the made-up plane must not stay cached for another test
    assert not at.exception, [e.value for e in at.exception]
    assert NAME not in _traces(at)
    assert any("t-SNE has no map from z to the plane" in c.value for c in at.caption)
