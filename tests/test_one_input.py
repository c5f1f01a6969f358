"""What the model makes of one input (training/analysis/one_input.py): every term against an independent float64
computation done by hand in numpy (the network's layers applied one by one, E3, E4, E7, the likelihoods, the
IWAE bound); the percentile and the "far outside" rule on known arrays; the nearest test images against brute
force; a NaN encoder refused; an ONNX export reads an input as its source does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from explorer import DEMOS
from training.analysis import one_input
from training.analysis.one_input import IWAE_SEED_OFFSET, far_outside, nearest_test, percentile, read_input
from training.core.config import ModelConfig
from training.core.errors import UserError
from training.vae.model import VAE

Z, K, IWAE_K, SEED = 3, 8, 50, 7
SIGMA = 0.3  # the fixed sigma~ of the gaussian decoder


def _double_model(likelihood: str) -> VAE:
    torch.manual_seed(0)
    cfg = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=Z, likelihood=likelihood, sigma=SIGMA)
    return VAE(cfg).double().eval()


def _mlp(layers: nn.Sequential, v: np.ndarray) -> np.ndarray:
    """The network's Linear layers applied by hand in float64: v @ W^T + b, ReLU between, none after the last."""
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        v = v @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        if i < len(linears) - 1:
            v = np.maximum(v, 0.0)
    return v


def _neg_log_lik(x: np.ndarray, logits: np.ndarray, likelihood: str) -> np.ndarray:
    """-ln q(x|z) per row of decoder logits (N, D): Bernoulli from the logits, or E6's Gaussian with its constants."""
    if likelihood == "bernoulli":  # -[x ln s(l) + (1 - x) ln(1 - s(l))] = ln(1 + e^l) - x l
        return (np.logaddexp(0.0, logits) - x * logits).sum(-1)
    m = 1.0 / (1.0 + np.exp(-logits))
    return (0.5 * ((x - m) / SIGMA) ** 2 + 0.5 * math.log(2 * math.pi * SIGMA**2)).sum(-1)


def _log_mean_exp(a: np.ndarray) -> float:
    top = a.max()
    return float(top + math.log(np.exp(a - top).mean()))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_every_term_matches_an_independent_float64_computation(likelihood):
    model = _double_model(likelihood)
    x = np.random.default_rng(1).random(64)  # one 8x8 image in [0, 1], flattened
    reading = read_input(model, torch.from_numpy(x.reshape(1, 8, 8)), k=K, iwae_k=IWAE_K, seed=SEED)

    h = _mlp(model.encoder, x)
    mu, logvar = h[:Z], h[Z:]  # E3
    sigma = np.sqrt(np.exp(logvar))
    kl_k = 0.5 * (mu**2 + sigma**2 - 1.0 - np.log(sigma**2))  # E4
    eps = torch.randn((K, Z), generator=torch.Generator().manual_seed(SEED), dtype=torch.float64).numpy()
    z = mu + sigma * eps  # E7
    logits = _mlp(model.decoder, z)
    recon_nll = _neg_log_lik(x, logits, likelihood)

    iwae_gen = torch.Generator().manual_seed(SEED + IWAE_SEED_OFFSET)
    eps_j = np.concatenate([torch.randn((1, Z), generator=iwae_gen, dtype=torch.float64).numpy()
                            for _ in range(IWAE_K)])
    z_j = mu + sigma * eps_j
    log_q_x = -_neg_log_lik(x, _mlp(model.decoder, z_j), likelihood)  # ln q(x|z_j)
    log_prior = (-0.5 * z_j**2 - 0.5 * math.log(2 * math.pi)).sum(-1)  # ln q(z_j), E2
    log_post = (-0.5 * ((z_j - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)  # E3
    iwae = -_log_mean_exp(log_q_x + log_prior - log_post)

    close = dict(rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(reading.mu, mu, **close)
    np.testing.assert_allclose(reading.logvar, logvar, **close)
    np.testing.assert_allclose(reading.sigma, sigma, **close)
    np.testing.assert_allclose(reading.kl_per_dim, kl_k, **close)
    assert reading.kl == pytest.approx(kl_k.sum(), rel=1e-6)
    np.testing.assert_allclose(reading.eps, eps, **close)
    np.testing.assert_allclose(reading.z, z, **close)
    np.testing.assert_allclose(reading.recon_nll, recon_nll, **close)
    assert reading.recon_nll_mean == pytest.approx(recon_nll.mean(), rel=1e-6)
    assert reading.neg_elbo == pytest.approx(recon_nll.mean() + kl_k.sum(), rel=1e-6)
    assert reading.iwae_nll == pytest.approx(iwae, rel=1e-6)
    assert reading.iwae_k == IWAE_K and reading.seed == SEED
    np.testing.assert_allclose(reading.recon[..., 0], (1 / (1 + np.exp(-_mlp(model.decoder, mu)))).reshape(8, 8),
                               rtol=1e-5)
    assert reading.samples.shape == (K, 8, 8, 1)
    np.testing.assert_allclose(reading.samples[..., 0], (1 / (1 + np.exp(-logits))).reshape(K, 8, 8), rtol=1e-5)


def test_the_same_seed_gives_the_same_samples_and_another_seed_others():
    model = _double_model("bernoulli")
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a, b, c = read_input(model, x, seed=4), read_input(model, x[0], seed=4), read_input(model, x, seed=5)
    np.testing.assert_array_equal(a.eps, b.eps)
    assert a.neg_elbo == b.neg_elbo and a.iwae_nll == b.iwae_nll
    assert not np.allclose(a.eps, c.eps) and a.iwae_nll != c.iwae_nll
    np.testing.assert_array_equal(a.mu, c.mu)  # the posterior itself does not depend on the draws
    assert a.eps.shape == (8, Z) and a.iwae_k == 100


def test_the_test_images_are_scored_by_the_same_estimator_with_the_same_eps():
    model = _double_model("bernoulli")
    x_test = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    scores = one_input.test_neg_elbos(model, x_test, k=K, seed=SEED, limit=4)
    assert scores.shape == (4,)
    for i in range(4):
        assert scores[i] == pytest.approx(read_input(model, x_test[i], k=K, seed=SEED).neg_elbo, rel=1e-9)


def test_percentile_and_far_outside_on_known_arrays():
    reference = np.arange(1.0, 201.0)  # 1..200
    assert percentile(50.5, reference) == 25.0
    assert percentile(0.0, reference) == 0.0 and percentile(1000.0, reference) == 100.0
    assert percentile(100.0, reference) == 49.5  # strictly below: 1..99
    assert math.isnan(percentile(3.0, np.array([])))
    # the 99.5th percentile of 1..200 is 1 + 0.995 * 199 = 199.005
    assert far_outside(199.1, reference) and far_outside(500.0, reference)
    assert not far_outside(199.0, reference) and not far_outside(10.0, reference)
    assert far_outside(9.5, np.arange(10.0))  # above every one of a few test images
    assert not far_outside(1e9, np.array([]))


def test_nearest_test_images_match_brute_force():
    rng = np.random.default_rng(0)
    test_mu = rng.standard_normal((300, 4))
    test_mu[10] = test_mu[20]  # a tie, broken by index
    for _ in range(5):
        mu = rng.standard_normal(4)
        brute = sorted(range(len(test_mu)), key=lambda i: (float(np.sum((test_mu[i] - mu) ** 2)), i))[:8]
        assert nearest_test(mu, test_mu).tolist() == brute
    tied = nearest_test(test_mu[20] + 1e-12, test_mu, n=3).tolist()
    assert tied[:2] == [10, 20]
    assert nearest_test(mu, test_mu[:3], n=8).tolist() == sorted(range(3), key=lambda i: np.sum((test_mu[i] - mu) ** 2))


def test_an_encoder_that_gives_nan_is_refused_in_one_sentence():
    model = _double_model("bernoulli")
    with torch.no_grad():
        model.encoder[-1].bias[0] = float("nan")
    x = torch.rand(1, 8, 8, dtype=torch.float64)
    with pytest.raises(UserError, match="not finite numbers") as err:
        read_input(model, x)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")
    with pytest.raises(UserError, match="not finite numbers"):
        one_input.test_neg_elbos(model, x.unsqueeze(0))


def test_an_onnx_export_reads_an_input_as_its_native_source(tmp_path, mnist5k):
    from training.models.onnx_export import export_run
    from training.models.open import load_run

    native = load_run(DEMOS / "mnist5k-z2")
    export_run(DEMOS / "mnist5k-z2", tmp_path / "onnx")
    onnx = load_run(tmp_path / "onnx")
    x = mnist5k.x_test[3]
    ours, theirs = read_input(native.model, x, iwae_k=20), read_input(onnx.model, x, iwae_k=20)
    np.testing.assert_allclose(theirs.mu, ours.mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(theirs.sigma, ours.sigma, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(theirs.recon, ours.recon, atol=1e-5)
    assert theirs.neg_elbo == pytest.approx(ours.neg_elbo, rel=1e-4)
