"""The aggregate posterior against the prior (training/analysis/aggregate.py, explorer/figures/density.py) and the
Latent map's two toggles for it."""

import json

import numpy as np
import pytest

from training.analysis import aggregate, latent


def _pca_of_random_mu(z_dim: int = 6, seed: int = 0) -> latent.Projection:
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((500, z_dim)) @ rng.standard_normal((z_dim, z_dim)) + rng.uniform(-2, 2, z_dim)
    return latent.pca(mu)


def _in_level_set(points: np.ndarray, mean, cov, level: float) -> float:
    """The share of POINTS where N(mean, cov) is at or above LEVEL."""
    return float(np.mean(aggregate.gaussian_density(points, mean, cov) >= level))


def _nearest_cell(density: aggregate.Density, points: np.ndarray) -> np.ndarray:
    """The grid's density at POINTS (M, 2), read from the cell each falls in (0 outside the grid)."""
    dx, dy = density.xs[1] - density.xs[0], density.ys[1] - density.ys[0]
    c = np.floor((points[:, 0] - density.xs[0] + dx / 2) / dx).astype(int)
    r = np.floor((points[:, 1] - density.ys[0] + dy / 2) / dy).astype(int)
    inside = (c >= 0) & (c < len(density.xs)) & (r >= 0) & (r < len(density.ys))
    out = np.zeros(len(points))
    out[inside] = density.density[r[inside], c[inside]]
    return out


# ---------------------------------------------------------------- the prior on the plane

def test_prior_on_raw_dims_is_the_standard_normal():
    proj = latent.raw_dims(np.zeros((3, 5)), (3, 1))
    mean, cov = aggregate.prior_on_plane(proj)
    np.testing.assert_array_equal(mean, [0.0, 0.0])
    np.testing.assert_array_equal(cov, np.eye(2))


def test_prior_on_the_pca_plane_against_projected_samples():
    proj = _pca_of_random_mu()
    mean, cov = aggregate.prior_on_plane(proj)
    np.testing.assert_allclose(mean, -proj.components @ proj.mean)
    np.testing.assert_allclose(cov, np.eye(2), atol=1e-12)  # orthonormal rows: the identity
    z = np.random.default_rng(1).standard_normal((200_000, proj.z_dim))  # z ~ q(z) = N(0, I), E2
    coords = (z - proj.mean) @ proj.components.T  # the plane's coordinates, as pca() computes them
    # standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for a variance: 0.015 is > 4.5 of either
    np.testing.assert_allclose(coords.mean(axis=0), mean, atol=0.015)
    np.testing.assert_allclose(np.cov(coords.T), cov, atol=0.015)


def test_no_prior_on_a_neighbour_embedding():
    proj = latent.Projection("tsne", np.zeros((4, 2)), ("t-SNE 1", "t-SNE 2"), 8)
    assert aggregate.prior_on_plane(proj) is None


# ---------------------------------------------------------------- the levels of a 2-D Gaussian

def test_mass_radius_closed_form():
    assert aggregate.mass_radius(1 - np.exp(-2.0)) == pytest.approx(2.0)  # the 2-sigma ellipse holds 1 - e^-2
    assert aggregate.mass_radius(0.5) == pytest.approx(np.sqrt(2 * np.log(2)))


@pytest.mark.parametrize("mean, cov", [
    ([0.0, 0.0], np.eye(2)),
    ([1.5, -0.5], [[2.0, 0.8], [0.8, 0.7]]),  # a tilted, stretched one: the determinant matters
])
def test_contour_levels_hold_their_mass(mean, cov):
    rng = np.random.default_rng(2)
    points = rng.multivariate_normal(mean, cov, size=400_000)
    levels = aggregate.gaussian_levels(cov)
    for p, level in zip(aggregate.MASSES, levels):
        # the share is binomial: its standard error is at most sqrt(0.25 / 400,000) = 0.0008; 0.005 is six of them
        assert _in_level_set(points, mean, cov, level) == pytest.approx(p, abs=0.005)


# ---------------------------------------------------------------- the encodings' density

def test_kde_regions_hold_their_share_of_fresh_samples():
    rng = np.random.default_rng(3)
    n = 20_000
    density = aggregate.kde_grid(rng.standard_normal((n, 2)))
    h = n ** (-1 / 6)
    np.testing.assert_allclose(density.bandwidth, h, rtol=0.02)  # Scott's rule, std 1
    fresh = rng.standard_normal((100_000, 2))
    held = [float(np.mean(_nearest_cell(density, fresh) >= level)) for level in density.levels]
    # The kernel widens N(0, I) to N(0, (1 + h^2) I), whose p-region holds 1 - (1 - p)^(1 + h^2) of N(0, I):
    # 0.513 for 50%, 0.908 for 90%, 0.991 for 99% (h = 0.19). Fresh samples' standard error is under 0.0016;
    # reading the density from its cell (0.08 wide) moves the edge by a fraction of a cell. So each share is
    # within 0.01 of that expectation, and within 0.02 of p itself.
    for p, share in zip(density.masses, held):
        assert share == pytest.approx(1 - (1 - p) ** (1 + h**2), abs=0.01)
        assert share == pytest.approx(p, abs=0.02)


def test_kde_levels_match_the_closed_form_for_many_points():
    density = aggregate.kde_grid(np.random.default_rng(4).standard_normal((200_000, 2)))
    widened = np.eye(2) * (1 + density.bandwidth**2)  # the kernel's own variance added
    np.testing.assert_allclose(density.levels, aggregate.gaussian_levels(widened), rtol=0.03)
    assert density.density.sum() * density.cell_area == pytest.approx(1.0)


def test_hdr_levels_of_a_gridded_gaussian():
    xs = ys = np.linspace(-6, 6, 241)
    gx, gy = np.meshgrid(xs, ys)
    values = aggregate.gaussian_density(np.stack([gx.ravel(), gy.ravel()], 1), [0, 0], np.eye(2)).reshape(gx.shape)
    levels = aggregate.hdr_levels(values, (xs[1] - xs[0]) ** 2)
    np.testing.assert_allclose(levels, aggregate.gaussian_levels(np.eye(2)), rtol=0.01)


def test_level_segments_trace_the_circle():
    xs = ys = np.linspace(-4, 4, 161)
    gx, gy = np.meshgrid(xs, ys)
    values = aggregate.gaussian_density(np.stack([gx.ravel(), gy.ravel()], 1), [0, 0], np.eye(2)).reshape(gx.shape)
    for p, level in zip(aggregate.MASSES, aggregate.gaussian_levels(np.eye(2))):
        line = aggregate.level_segments(values, xs, ys, float(level))
        ends = line[~np.isnan(line[:, 0])]
        assert len(ends) > 40 and len(line) == 3 * len(ends) // 2  # two ends and a gap per segment
        np.testing.assert_allclose(np.linalg.norm(ends, axis=1), aggregate.mass_radius(p), rtol=0.005)


# ---------------------------------------------------------------- the figure

def test_figure_has_both_sets_for_pca_and_only_the_points_for_tsne():
    from explorer.figures import charts, density

    proj = _pca_of_random_mu()
    fig, said = density.add_aggregate_and_prior(charts.latent_scatter(proj.coords, np.arange(len(proj.coords))),
                                                proj)
    groups = [t.legendgroup for t in fig.data if t.hoverinfo != "skip"]  # the lines, not their white halos
    assert groups.count("prior") == 3 and groups.count("encodings") == 3 and "dashed grey" in said
    prior = [t for t in fig.data if t.legendgroup == "prior" and t.hoverinfo != "skip"]
    centre = -proj.components @ proj.mean
    radius = np.hypot(np.asarray(prior[0].x) - centre[0], np.asarray(prior[0].y) - centre[1])
    np.testing.assert_allclose(radius, aggregate.mass_radius(0.5), atol=1e-3)  # the 50% circle about -C mean (4 decimals sent)

    tsne = latent.Projection("tsne", proj.coords, ("t-SNE 1", "t-SNE 2"), proj.z_dim)
    fig, said = density.add_aggregate_and_prior(charts.latent_scatter(tsne.coords, np.arange(len(tsne.coords))),
                                                tsne)
    groups = [t.legendgroup for t in fig.data if t.hoverinfo != "skip"]
    assert "prior" not in groups and groups.count("encodings") == 3
    assert "no image in this plane" in said


# ---------------------------------------------------------------- the page

def _map_figure(at) -> dict:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def test_latent_map_toggles_draw_the_contours_and_the_grid():
    from tests.test_app_explore import open_app

    at = open_app("mnist5k-z2")
    at.switch_page("views/latent_map.py").run()
    assert at.radio(key="map_method").value == "dims"
    spec = _map_figure(at)
    assert not {t.get("legendgroup") for t in spec["data"]} & {"prior", "encodings"}
    assert not spec["layout"].get("images")

    at.toggle(key="map_density").set_value(True).run()
    at.toggle(key="map_grid_on_points").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = _map_figure(at)
    groups = [t.get("legendgroup") for t in spec["data"] if t.get("hoverinfo") != "skip"]
    assert groups.count("prior") == 3 and groups.count("encodings") == 3
    (image,) = spec["layout"]["images"]
    assert image["xref"] == "x" and image["yref"] == "y" and image["layer"] == "below"
    assert any("Aggregate posterior against the prior" in c.value for c in at.caption)

    at.toggle(key="map_density").set_value(False).run()
    at.toggle(key="map_grid_on_points").set_value(False).run()
    spec = _map_figure(at)
    assert not {t.get("legendgroup") for t in spec["data"]} & {"prior", "encodings"}
    assert not spec["layout"].get("images")
