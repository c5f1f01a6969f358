"""Architectures: shapes through encoder and decoder for every supported image size."""

import pytest
import torch

from training.core.config import ModelConfig
from training.vae.model import VAE, pick_device, reparameterize


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 64, 64)])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-learned"])
def test_conv_round_trip_shapes(shape, likelihood):
    hidden = (16, 32, 32) if shape[1] == 64 else (16, 32)
    model = VAE(ModelConfig(image_shape=shape, arch="conv", hidden=hidden, latent_dim=5, likelihood=likelihood))
    x = torch.rand(3, *shape)
    mu, logvar, z, out = model(x, torch.randn(2, 3, 5))
    assert mu.shape == logvar.shape == (3, 5)
    assert z.shape == (2, 3, 5)
    k = 2 if likelihood == "gaussian-learned" else 1
    assert out.shape == (2, 3, k * shape[0], *shape[1:])
    mean = model.decode_mean(z)
    assert mean.shape == (2, 3, *shape) and 0 <= mean.min() and mean.max() <= 1


def test_mlp_hidden_sizes_are_used_in_order():
    model = VAE(ModelConfig(hidden=(512, 256), latent_dim=7))
    linears = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 512), (512, 256), (256, 14)]
    linears = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 256), (256, 512), (512, 784)]


def test_default_mlp_is_the_canonical_784_400_z():
    model = VAE(ModelConfig(latent_dim=20))
    n_params = sum(p.numel() for p in model.parameters())
    # canonical example: fc1 784*400+400, fc21/fc22 2*(400*20+20), fc3 20*400+400, fc4 400*784+784
    assert n_params == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784


def test_reparameterize_is_mu_plus_sigma_eps_and_differentiable():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, 2.0]], requires_grad=True)
    z = reparameterize(mu, logvar, torch.tensor([[[0.5, -1.0]]]))
    torch.testing.assert_close(z, torch.tensor([[[1.5, -2.0 - torch.e]]]))
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


def test_conv_rejects_sides_not_divisible():
    with pytest.raises(ValueError, match="divisible by 8"):
        ModelConfig(image_shape=(1, 28, 28), arch="conv", hidden=(8, 8, 8))


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
