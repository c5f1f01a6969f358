"""The math: closed-form KL (E4), Gaussian -ln q(x|z) (E5/E6), Bernoulli, IWAE, schedules."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from training.core.config import ModelConfig
from training.vae.likelihoods import GaussianFixed, GaussianLearned, make_likelihood
from training.vae.model import VAE
from training.vae.objective import beta_at, iwae_bound, kl_per_dim, log_normal_diag, log_normal_std, vae_loss


def test_closed_form_kl_matches_torch_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 6, generator=g)
    logvar = torch.randn(4, 6, generator=g)
    closed = kl_per_dim(mu, logvar)
    posterior = Normal(mu, torch.exp(0.5 * logvar))
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(closed, kl_divergence(posterior, prior), rtol=1e-5, atol=1e-6)
    z = posterior.sample((200_000,))  # Monte-Carlo: E_p(z|x)[ln p(z|x) - ln q(z)]
    mc = (posterior.log_prob(z) - prior.log_prob(z)).mean(0)
    assert torch.allclose(closed, mc, atol=0.05 + 0.02 * closed.abs().max().item()), (closed, mc)


def test_kl_is_zero_exactly_at_the_prior():
    assert kl_per_dim(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max() == 0


def test_gaussian_fixed_nll_equals_torch_distributions():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 4, 4, generator=g)
    out = torch.randn(5, 1, 4, 4, generator=g)
    lik = GaussianFixed(0.3)
    expected = -Independent(Normal(torch.sigmoid(out), 0.3), 3).log_prob(x)
    torch.testing.assert_close(lik.recon_nll(x, out), expected)


def test_gaussian_learned_nll_equals_torch_distributions_and_respects_floor():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 2, 5, 5, generator=g)
    out = torch.randn(3, 4, 5, 5, generator=g) * 5
    lik = GaussianLearned(min_sigma=0.05)
    mu_x, sigma_x = lik.split(out)
    assert sigma_x.min() > 0.05
    expected = -Independent(Normal(mu_x, sigma_x), 3).log_prob(x)
    torch.testing.assert_close(lik.recon_nll(x, out), expected)


def test_bernoulli_nll_equals_torch_distributions_on_binary_data():
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(4, 1, 6, 6, generator=g) > 0.5).float()
    logits = torch.randn(4, 1, 6, 6, generator=g)
    expected = -Independent(Bernoulli(logits=logits), 3).log_prob(x)
    torch.testing.assert_close(make_likelihood("bernoulli").recon_nll(x, logits), expected)


def test_sigma_sets_the_balance_like_one_over_beta():
    # E6: halving sigma~ multiplies the squared-error part of -ln q(x|z) by 4
    x = torch.full((1, 1, 2, 2), 0.9)
    out = torch.zeros(1, 1, 2, 2)  # mean 0.5
    d = 4
    nll_1 = GaussianFixed(0.2).recon_nll(x, out) - d * (0.5 * math.log(2 * math.pi) + math.log(0.2))
    nll_2 = GaussianFixed(0.1).recon_nll(x, out) - d * (0.5 * math.log(2 * math.pi) + math.log(0.1))
    torch.testing.assert_close(nll_2, 4 * nll_1)


def _tiny_vae(likelihood="bernoulli", z=3):
    torch.manual_seed(0)
    return VAE(ModelConfig(image_shape=(1, 4, 4), hidden=(8,), latent_dim=z, likelihood=likelihood)).eval()


def test_loss_is_recon_plus_beta_kl_in_nats_per_image():
    model = _tiny_vae()
    x = torch.rand(6, 1, 4, 4)
    eps = torch.randn(1, 6, 3)
    terms = vae_loss(model, x, eps, beta=0.5)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps[0]
    recon = torch.nn.functional.binary_cross_entropy_with_logits(model.decode(z), x, reduction="sum") / 6
    kl = kl_per_dim(mu, logvar).sum() / 6
    torch.testing.assert_close(terms.recon_nll, recon)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.loss, recon + 0.5 * kl)
    torch.testing.assert_close(terms.kl_per_dim.sum(), terms.kl)


def test_free_bits_floors_each_dimension_in_the_loss_only():
    model = _tiny_vae()
    x = torch.rand(6, 1, 4, 4)
    eps = torch.randn(1, 6, 3)
    plain = vae_loss(model, x, eps, beta=1.0)
    floored = vae_loss(model, x, eps, beta=1.0, free_bits=5.0)
    assert torch.equal(floored.kl, plain.kl)  # the reported KL is the true KL
    expected = plain.recon_nll + plain.kl_per_dim.clamp(min=5.0).sum()
    torch.testing.assert_close(floored.loss, expected)


def test_iwae_at_k1_is_the_single_sample_negative_elbo():
    model = _tiny_vae()
    x = torch.rand(5, 1, 4, 4)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    bound = iwae_bound(model, x, 1, generator=g1)
    mu, logvar = model.encode(x)
    eps = torch.randn((1, *mu.shape), generator=g2)
    z = mu + torch.exp(0.5 * logvar) * eps
    mc_kl = log_normal_diag(z, mu, logvar) - log_normal_std(z)
    expected = (model.likelihood.recon_nll(x, model.decode(z)) + mc_kl)[0]
    torch.testing.assert_close(bound, expected, rtol=1e-5, atol=1e-4)


def test_iwae_k1_averages_to_the_closed_form_elbo_and_tightens_with_k():
    model = _tiny_vae(likelihood="gaussian")
    x = torch.rand(8, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn((20_000, *mu.shape), generator=g)
        z = mu + torch.exp(0.5 * logvar) * eps
        neg_elbo = (model.likelihood.recon_nll(x, model.decode(z)).mean(0) + kl_per_dim(mu, logvar).sum(-1))
    k1 = torch.stack([iwae_bound(model, x, 1, generator=g) for _ in range(2000)]).mean(0)
    torch.testing.assert_close(k1, neg_elbo, rtol=0, atol=0.05 * neg_elbo.abs().max().item() + 0.5)
    k10 = torch.stack([iwae_bound(model, x, 10, generator=g) for _ in range(200)]).mean(0)
    k500 = torch.stack([iwae_bound(model, x, 500, generator=g) for _ in range(20)]).mean(0)
    assert (k10 <= k1 + 1e-3).all() and (k500 <= k10 + 1e-3).all()
    assert k500.mean() < k1.mean() - 0.01  # strictly tighter on average


def test_iwae_chunking_does_not_change_the_result():
    model = _tiny_vae()
    x = torch.rand(4, 1, 4, 4)
    a = iwae_bound(model, x, 50, generator=torch.Generator().manual_seed(3))
    b = iwae_bound(model, x, 50, generator=torch.Generator().manual_seed(3), max_elements=200)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "t, expected", [(0.0, 0.0), (1.0, 0.5), (2.0, 1.0), (5.0, 1.0)],
)
def test_linear_warmup(t, expected):
    assert beta_at(t, beta=1.0, warmup_epochs=2.0) == pytest.approx(expected)


def test_cyclical_annealing_rises_then_holds_in_each_cycle():
    # 10 epochs, 2 cycles of 5 epochs, rising over the first half (2.5 epochs) of each
    values = [beta_at(t, beta=2.0, cycles=2, total_epochs=10) for t in (0.0, 1.25, 2.5, 5.0, 5.5, 6.25, 10.0)]
    assert values == pytest.approx([0.0, 1.0, 2.0, 2.0, 0.4, 1.0, 2.0])


def test_constant_beta_without_schedule():
    assert beta_at(3.3, beta=4.0) == 4.0


def _old_float_beta(t: float, beta: float, cycles: int, total: int, ratio: float = 0.5) -> float:
    """The schedule as it was computed before: cycle count in floats (kept to show the test bites)."""
    cycles_done = t / (total / cycles)
    return beta * min(1.0, (cycles_done - math.ceil(cycles_done) + 1) / ratio)


def test_every_cycle_ends_at_full_beta_and_every_step_matches_integer_arithmetic():
    from fractions import Fraction
    old_broken = 0
    for total in range(1, 26):
        for cycles in range(1, total + 1):
            for per_epoch in (1, 3, 7, 10, 13):
                length = per_epoch * total  # steps in the run; a cycle is length / cycles steps
                for step in range(1, length + 1):
                    got = beta_at(Fraction(step, per_epoch), beta=3.0, cycles=cycles, total_epochs=total)
                    into = (step * cycles) % length or length  # cycles' worth of steps into this cycle
                    assert got == 3.0 * min(1.0, into / length / 0.5), (total, cycles, per_epoch, step)
                    if into == length:  # the last step of a cycle: full beta
                        assert got == 3.0
                        old_broken += _old_float_beta(step / per_epoch, 3.0, cycles, total) < 1e-6
    assert old_broken > 0  # the float version gave beta ~ 1e-15 at the end of some cycles


def test_a_float_progress_reads_as_the_fraction_it_stands_for():
    # 7 steps per epoch, 6 epochs, 3 cycles: cycle 2 ends at 4 epochs = step 28
    assert beta_at(28 / 7, beta=2.0, cycles=3, total_epochs=6) == 2.0
    assert beta_at(0.1 + 0.2, beta=2.0, cycles=10, total_epochs=3) == 2.0  # 0.30000000000000004 epochs


def _confident(model: VAE, logvar_value: float, mu_value: float = 3.0, z: int = 3):
    """The model with an encoder forced to mu = mu_value, logvar = logvar_value (a very sure encoder)."""
    def encode(x):
        shape = (x.shape[0], z)
        return torch.full(shape, mu_value), torch.full(shape, logvar_value)
    model.encode = encode
    return model


@pytest.mark.parametrize("logvar_value", [-5.0, -30.0, -60.0, -89.0, -100.0])
def test_iwae_stays_exact_and_below_the_elbo_for_very_confident_encoders(logvar_value):
    model = _confident(_tiny_vae(likelihood="gaussian"), logvar_value)
    x = torch.rand(4, 1, 4, 4)
    k = 16
    bound = iwae_bound(model, x, k, generator=torch.Generator().manual_seed(5))
    assert torch.isfinite(bound).all()
    # independent float64 computation from the same draws: z as the model saw it, ln p(z|x) from eps (E3, E7)
    g = torch.Generator().manual_seed(5)
    mu, logvar = model.encode(x)
    eps = torch.stack([torch.randn(mu.shape, generator=g) for _ in range(k)])  # (K, B, Z)
    z = mu + torch.exp(0.5 * logvar) * eps
    with torch.no_grad():
        log_px_z = -model.likelihood.recon_nll(x, model.decode(z)).double()
    z64, eps64, lv64 = z.double(), eps.double(), logvar.double()
    log_prior = -0.5 * (z64.square() + math.log(2 * math.pi)).sum(-1)
    log_post = -0.5 * (eps64.square() + lv64 + math.log(2 * math.pi)).sum(-1)
    log_w = log_px_z + log_prior - log_post  # (K, B)
    expected = -(torch.logsumexp(log_w, 0) - math.log(k))
    torch.testing.assert_close(bound.double(), expected, rtol=1e-6, atol=1e-3)
    neg_elbo_same_draws = -log_w.mean(0)  # Jensen: the IWAE bound is at most the ELBO's estimate
    assert (bound.double() <= neg_elbo_same_draws + 1e-3).all()


def test_labels_name_the_loss_that_was_really_minimised():
    from explorer.figures.charts import loss_note
    from training.vae.objective import loss_formula
    assert loss_formula(1.0) == "recon + KL"
    assert loss_formula(4.0) == "recon + β·KL"
    assert loss_formula(4.0, warmup_epochs=5) == loss_formula(1.0, cycles=3) == "recon + β(t)·KL"
    assert loss_formula(1.0, free_bits=0.5) == "recon + Σₖ max(0.5, KLₖ)"
    assert loss_formula(2.0, cycles=4, free_bits=0.25) == "recon + β(t)·Σₖ max(0.25, KLₖ)"
    note = loss_note(2.0, warmup_epochs=10, free_bits=0.5)
    assert "over the first 10 epochs" in note and "at least 0.5 nats" in note and "recon + KL" in note
    assert "each of 4 cycles" in loss_note(2.0, cycles=4)
    assert loss_note(3.0).startswith("The training objective was recon + β·KL (β = 3);")
    assert loss_formula(4.0, recon="重建") == "重建 + β·KL"  # the word is the caller's, the math stays


def test_wsd_schedule_warms_up_holds_and_decays_to_near_zero():
    from training.vae.objective import lr_at
    total = 320  # 10 epochs of 32 steps: warm-up 16 steps (5%), decay over the last 96 (30%)
    assert lr_at(0, total, 0.005, "wsd") == pytest.approx(0.005 / 16)  # the first step already learns
    assert lr_at(15, total, 0.005, "wsd") == pytest.approx(0.005)  # the warm-up's last step: the peak
    assert [lr_at(s, total, 0.005, "wsd") for s in (16, 100, 224)] == [0.005] * 3  # held until the decay
    assert lr_at(225, total, 0.005, "wsd") == pytest.approx(0.005 * 95 / 96)
    assert lr_at(total - 1, total, 0.005, "wsd") == pytest.approx(0.005 / 96)  # the last step: small, not 0
    rates = [lr_at(s, total, 1.0, "wsd") for s in range(total)]
    assert rates[:16] == sorted(rates[:16]) and rates[224:] == sorted(rates[224:], reverse=True)
    assert all(0 < r <= 1.0 for r in rates)


def test_cosine_and_constant_schedules_and_short_runs():
    from training.vae.objective import LR_MAX_WARMUP_STEPS, lr_at
    assert lr_at(0, 200, 1.0, "cosine") == pytest.approx(1 / 10)
    assert lr_at(9, 200, 1.0, "cosine") == pytest.approx(1.0)
    assert lr_at(105, 200, 1.0, "cosine") == pytest.approx(0.5)  # half-way through the decay
    assert 0 < lr_at(199, 200, 1.0, "cosine") < 1e-3
    assert {lr_at(s, 200, 3e-3, "constant") for s in range(200)} == {3e-3}
    assert lr_at(0, 1, 1.0, "wsd") == lr_at(0, 1, 1.0, "cosine") == 1.0  # a one-step run: no warm-up
    assert all(lr_at(s, 2, 1.0, "wsd") > 0 for s in range(2))
    assert lr_at(LR_MAX_WARMUP_STEPS - 1, 10**6, 1.0, "wsd") == 1.0  # a long run warms up for 1000 steps, no more
    with pytest.raises(ValueError):
        lr_at(0, 10, 1.0, "linear")
