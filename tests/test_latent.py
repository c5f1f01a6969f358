"""training/analysis/latent.py: projections and their inverses, paths, samples, decoding, the live theory terms."""

import os

import numpy as np
import pytest
import torch

from training.analysis import latent
from training.core.config import ModelConfig
from training.models.open import load_run
from training.vae import latent_space
from training.vae.model import VAE
from explorer import DEMOS as BUNDLED_DEMOS

# numba compiles UMAP's functions afresh in every test process (8-12 s): slow, once (make test-fast leaves it out)
UMAP = pytest.param("umap", marks=pytest.mark.slow)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=4)).eval()


@pytest.fixture(scope="module")
def gaussian_model():
    torch.manual_seed(1)
    cfg = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=3, likelihood="gaussian", sigma=0.2)
    return VAE(cfg).eval()


def test_pca_inverse_round_trip_on_rank_two_points():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((6, 2)))[0].T  # (2, 6) orthonormal rows
    mu = 1.5 + rng.standard_normal((200, 2)) * [3.0, 1.0] @ basis  # lies exactly in a 2-D affine plane
    proj = latent.project(mu, "pca")
    assert proj.coords.shape == (200, 2)
    np.testing.assert_allclose(proj.inverse(proj.coords), mu, atol=1e-4)
    assert proj.coords[:, 0].var() > proj.coords[:, 1].var()  # PC1 carries the most variance
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-8)


def test_pca_inverse_is_the_orthogonal_projection_for_full_rank_points():
    mu = np.random.default_rng(1).standard_normal((100, 5))
    proj = latent.project(mu, "pca")
    back = proj.inverse(proj.coords)
    residual = mu - back
    np.testing.assert_allclose(residual @ proj.components.T, 0.0, atol=1e-4)  # nothing left in the plane
    np.testing.assert_allclose(latent.project(back, "pca").coords, proj.coords, atol=1e-4)


def test_raw_dims_projection_and_inverse_put_zeros_elsewhere():
    mu = np.arange(12, dtype=np.float32).reshape(3, 4)
    proj = latent.project(mu, "dims", dims=(2, 0))
    np.testing.assert_array_equal(proj.coords, mu[:, [2, 0]])
    assert proj.axis_titles == ("z_2", "z_0")
    z = proj.inverse(np.array([[1.0, -2.0]]))
    np.testing.assert_array_equal(z, [[-2.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="do not exist"):
        latent.project(mu, "dims", dims=(0, 4))


@pytest.mark.parametrize("method", ["tsne", UMAP])
def test_neighbour_embeddings_have_no_inverse_and_fit_small_sets(method):
    mu = np.random.default_rng(2).standard_normal((12, 3)).astype(np.float32)
    proj = latent.project(mu, method, seed=0, perplexity=30.0)  # perplexity 30 and 15 neighbours > n: clipped
    assert proj.coords.shape == (12, 2) and np.isfinite(proj.coords).all() and not proj.invertible
    with pytest.raises(ValueError, match="no inverse"):
        proj.inverse(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="Unknown projection"):
        latent.project(mu, "isomap")


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_neighbour_embeddings_keep_clusters_apart_and_are_seeded(method):
    """Three well separated clusters in z stay three clusters in the plane: every point's nearest
    neighbours in the plane are of its own cluster; the same seed gives the same picture."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 10.0, (3, 8))
    labels = np.repeat(np.arange(3), 150)
    mu = (centres[labels] + rng.normal(0.0, 1.0, (450, 8))).astype(np.float32)
    coords = latent.project(mu, method, seed=1).coords
    near = np.argsort(((coords[:, None] - coords[None]) ** 2).sum(-1), axis=1)[:, 1:6]
    assert (labels[near] == labels[:, None]).mean() > 0.97
    np.testing.assert_array_equal(coords, latent.project(mu, method, seed=1).coords)


def test_manifold_grid_rows_run_top_to_bottom():
    mu = np.random.default_rng(3).standard_normal((50, 3))
    proj = latent.project(mu, "dims", dims=(0, 1))
    grid = latent.manifold_grid_latents(proj, n=5)
    assert grid.z.shape == (25, 3)
    assert grid.xs[0] < grid.xs[-1] and grid.ys[0] > grid.ys[-1]
    assert grid.xs[0] <= -3 and grid.xs[-1] >= 3  # raw dims cover the prior's +-3 sigma
    np.testing.assert_allclose(grid.z[:5, 1], grid.ys[0])  # first row: the top of the plot
    np.testing.assert_allclose(grid.z[:5, 0], grid.xs)
    np.testing.assert_array_equal(grid.z[:, 2], 0.0)


def test_slerp_endpoints_and_norm():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    b *= np.linalg.norm(a) / np.linalg.norm(b)  # equal norms
    path = latent_space.slerp(a, b, 9)
    assert path.shape == (9, 16)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-5)
    line = latent_space.lerp(a, b, 9)
    assert np.linalg.norm(line[4]) < 0.95 * np.linalg.norm(a)  # the straight line cuts the corner
    # (anti)parallel vectors: falls back to the straight line instead of dividing by sin 0
    np.testing.assert_allclose(latent_space.slerp(a, -a, 3)[1], 0.0, atol=1e-6)


def test_lerp_is_linear():
    path = latent_space.lerp(np.zeros(2), np.array([2.0, 4.0]), 3)
    np.testing.assert_allclose(path, [[0, 0], [1, 2], [2, 4]])


def test_traversal_shape_and_values():
    z0 = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    values = np.linspace(-3, 3, 7)
    z = latent_space.traversal_latents(z0, [2, 0], values)
    assert z.shape == (2, 7, 3)
    np.testing.assert_allclose(z[0, :, 2], values)
    np.testing.assert_allclose(z[0, :, :2], np.broadcast_to(z0[:2], (7, 2)))
    np.testing.assert_allclose(z[1, :, 0], values)
    np.testing.assert_allclose(z[1, :, 1:], np.broadcast_to(z0[1:], (7, 2)))


def test_prior_samples_are_seeded_standard_normal():
    a, b = latent_space.prior_samples(2000, 4, seed=7), latent_space.prior_samples(2000, 4, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, latent_space.prior_samples(2000, 4, seed=8))
    assert a.dtype == np.float32 and a.shape == (2000, 4)
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05


def test_dims_by_kl_and_active_mask():
    kl = [0.2, 1.5, 0.0, 1.5, 0.005]
    np.testing.assert_array_equal(latent_space.dims_by_kl(kl), [1, 3, 0, 4, 2])
    np.testing.assert_array_equal(latent_space.active_mask(kl), [True, True, False, True, False])
    assert latent_space.posterior_collapsed(test_kl=0.1, active_units=3)
    assert latent_space.posterior_collapsed(test_kl=5.0, active_units=0)
    assert not latent_space.posterior_collapsed(test_kl=5.0, active_units=3)


def test_decode_images_layout_and_range(small_model):
    z = latent_space.prior_samples(5, 4, seed=0) * 10
    out = latent.decode_images(small_model, z)
    assert out.shape == (5, 8, 8, 1) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    expected = small_model.decode_mean(torch.from_numpy(z)).permute(0, 2, 3, 1).detach().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert latent.decode_images(small_model, z[0]).shape == (1, 8, 8, 1)  # one z (Z,) works too


def test_encode_dataset_matches_the_encoder_in_batches(small_model):
    x = torch.rand(7, 1, 8, 8)
    mu = latent.encode_dataset(small_model, x, batch=3)
    np.testing.assert_allclose(mu, small_model.encode(x)[0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(latent_space.latent_variance(mu), mu.var(axis=0), rtol=1e-5)


def test_theory_terms_mc_kl_agrees_with_closed_form():
    run = load_run(BUNDLED_DEMOS / "mnist5k-z16")
    x = torch.rand(64, 1, 28, 28).round()
    t = latent.theory_terms(run.model, x, n_mc=64, seed=0)
    assert t.kl > 1.0
    assert abs(t.kl_mc - t.kl) < 4 * t.kl_mc_se + 1e-3
    assert t.kl_mc_se < 0.05 * t.kl
    assert t.neg_entropy + t.cross_entropy == pytest.approx(t.kl, rel=1e-4)  # the two halves of E4
    assert t.neg_elbo == pytest.approx(t.recon_nll + t.kl)
    assert t.recon_weight is None and t.sigma is None  # Bernoulli: no sigma~
    assert t.kl_per_dim.shape == (16,) and t.kl_per_dim.sum() == pytest.approx(t.kl, rel=1e-4)
    again = latent.theory_terms(run.model, x, n_mc=64, seed=0)
    assert again.kl_mc == t.kl_mc  # seeded


def test_theory_terms_gaussian_weight_and_split(gaussian_model):
    x = torch.rand(16, 1, 8, 8)
    t = latent.theory_terms(gaussian_model, x, n_mc=8, seed=1)
    assert t.recon_weight == pytest.approx(1 / (2 * 0.2**2))
    # E6: -ln q(x|z) = ||x - mu~||^2 / (2 sigma~^2) + D/2 ln 2pi + D ln sigma~
    assert t.recon_nll == pytest.approx(t.recon_weight * t.sq_error + t.recon_const, rel=1e-4)
    assert latent.recon_weight(0.1) == pytest.approx(50.0)


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_neighbour_embeddings_work_for_a_one_dimensional_latent(method):
    mu = np.random.default_rng(0).normal(size=(40, 1)).astype(np.float32)
    proj = latent.project(mu, method, seed=0)
    assert proj.coords.shape == (40, 2) and np.isfinite(proj.coords).all()


def test_nearest_neighbours_in_z_leave_the_point_out_and_come_nearest_first():
    mu = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    assert latent_space.nearest(mu, 0, 3).tolist() == [2, 4, 3]  # 1 and 1 tie: by index; then 2
    assert latent_space.nearest(mu, 1, 10).tolist() == [2, 0, 3, 4]  # at most the others


def test_neighbour_embeddings_use_no_more_threads_than_the_operator_allows(monkeypatch):
    from training.analysis import embedding

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert embedding.threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert embedding.threads() == max(1, min(4, os.cpu_count() or 1))
    monkeypatch.setenv("OMP_NUM_THREADS", "many")  # not a count: the default cap
    assert embedding.threads() == max(1, min(4, os.cpu_count() or 1))
