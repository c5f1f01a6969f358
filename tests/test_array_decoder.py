"""The numpy decoder (MLP and conv) equals the torch decoder, validates its weights, and needs no torch."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save_numpy

from training.core.config import RunConfig
from training.core.errors import UserError
from training.models.open import load_decoder
from training.runs.checkpoint import write_views
from training.vae.array_decoder import deconv
from training.vae.model import VAE
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent


def _saved(tmp_path, **model) -> tuple[Path, VAE]:
    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 3, **model}, train={"dataset": "digits"})
    torch.manual_seed(0)
    vae = VAE(config.model).eval()
    write_views(tmp_path, config, vae, 0, [])
    return tmp_path, vae


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian-learned"])
@pytest.mark.parametrize("hidden", [(32,), (48, 24)])
def test_numpy_decoder_equals_torch(tmp_path, likelihood, hidden):
    run_dir, vae = _saved(tmp_path, likelihood=likelihood, hidden=hidden)
    decoder = load_decoder(run_dir)
    z = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    with torch.no_grad():
        expected = vae.decode_mean(torch.from_numpy(z)).numpy()
    got = decoder.decode_mean(z)
    assert got.shape == (7, 1, 8, 8)
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-learned"])
@pytest.mark.parametrize("hidden", [(4,), (6, 5)])
def test_numpy_conv_decoder_equals_torch(tmp_path, likelihood, hidden):
    run_dir, vae = _saved(tmp_path, arch="conv", likelihood=likelihood, hidden=hidden)
    decoder = load_decoder(run_dir)
    assert [layer.kind for layer in decoder.layers] == ["dense"] + ["deconv"] * len(hidden)
    z = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32) * 2
    with torch.no_grad():
        expected = vae.decode_mean(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(decoder.decode_mean(z), expected, atol=1e-6)


def test_deconv_is_pytorchs_transposed_convolution_on_rectangles_and_colour():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5, 7)).astype(np.float32)
    layer = torch.nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).numpy()
    got = deconv(x, layer.weight.detach().numpy(), layer.bias.detach().numpy())
    assert got.shape == (2, 4, 10, 14)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_bad_weights_are_refused(tmp_path):
    run_dir, vae = _saved(tmp_path, hidden=(16,))
    arrays = {k: v.numpy() for k, v in vae.state_dict().items()}
    arrays["decoder.0.weight"] = np.full((16, 3), np.nan, dtype=np.float32)
    (run_dir / "model.safetensors").write_bytes(st_save_numpy(arrays))
    with pytest.raises(UserError, match="NaN"):
        load_decoder(run_dir)
    arrays["decoder.0.weight"] = np.zeros((16, 4), dtype=np.float32)
    (run_dir / "model.safetensors").write_bytes(st_save_numpy(arrays))
    with pytest.raises(UserError, match="shape"):
        load_decoder(run_dir)
    (run_dir / "model.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(UserError, match="safetensors"):
        load_decoder(run_dir)


def test_loading_and_decoding_do_not_import_torch():
    code = ("import sys, numpy as np; from training.vae.array_decoder import deconv; "
            "from training.models.open import load_decoder; "
            "d = load_decoder('explorer/demos/mnist5k-z16'); d.decode_mean(np.zeros((1, 16))); "
            "import training.models.catalogue; training.models.catalogue.list_runs('runs'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)  # a hang guard
    assert out.stdout.strip() == "False", out.stderr
