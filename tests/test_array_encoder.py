"""The numpy encoder (MLP and conv) equals the torch encoder to 1e-5, validates its weights, needs no torch, and is
read only from a run of this library (a model from elsewhere gives None: its encoder stays on the server)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save_numpy

from training.core.config import RunConfig
from training.core.errors import UserError
from training.models.open import load_encoder
from training.runs.checkpoint import write_views
from training.vae.array_encoder import conv2d
from training.vae.model import VAE
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent


def _saved(tmp_path, shape=(1, 8, 8), **model) -> tuple[Path, VAE]:
    config = RunConfig(model={"image_shape": shape, "latent_dim": 3, **model}, train={"dataset": "digits"})
    torch.manual_seed(0)
    vae = VAE(config.model).eval()
    write_views(tmp_path, config, vae, 0, [])
    return tmp_path, vae


def _images(n, shape) -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(n, *shape)).astype(np.float32)


def _torch_encode(vae, x):
    with torch.no_grad():
        mu, logvar = vae.encode(torch.from_numpy(x))
    return mu.numpy(), logvar.numpy()


@pytest.mark.parametrize("hidden", [(32,), (48, 24)])
def test_numpy_mlp_encoder_equals_torch(tmp_path, hidden):
    run_dir, vae = _saved(tmp_path, hidden=hidden)
    encoder = load_encoder(run_dir)
    assert [layer.kind for layer in encoder.layers] == ["dense"] * (len(hidden) + 1)
    x = _images(7, (1, 8, 8))
    mu, logvar = encoder.encode(x)
    assert mu.shape == logvar.shape == (7, 3) and encoder.latent_dim == 3
    expected_mu, expected_logvar = _torch_encode(vae, x)
    np.testing.assert_allclose(mu, expected_mu, atol=1e-5)
    np.testing.assert_allclose(logvar, expected_logvar, atol=1e-5)
    assert encoder.parameter_count == sum(p.numel() for p in vae.encoder.parameters())


@pytest.mark.parametrize("shape,hidden", [((1, 8, 8), (4,)), ((1, 8, 8), (6, 5)), ((3, 8, 16), (4, 6))])
def test_numpy_conv_encoder_equals_torch(tmp_path, shape, hidden):
    run_dir, vae = _saved(tmp_path, shape=shape, arch="conv", hidden=hidden)
    encoder = load_encoder(run_dir)
    assert [layer.kind for layer in encoder.layers] == ["conv"] * len(hidden) + ["dense"]
    x = _images(5, shape)
    mu, logvar = encoder.encode(x)
    expected_mu, expected_logvar = _torch_encode(vae, x)
    np.testing.assert_allclose(mu, expected_mu, atol=1e-5)
    np.testing.assert_allclose(logvar, expected_logvar, atol=1e-5)


def test_conv2d_is_pytorchs_convolution_on_rectangles_and_colour():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 6, 10)).astype(np.float32)
    layer = torch.nn.Conv2d(3, 4, 4, stride=2, padding=1)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).numpy()
    got = conv2d(x, layer.weight.detach().numpy(), layer.bias.detach().numpy())
    assert got.shape == (2, 4, 3, 5)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_bundled_model_encodes_as_torch_does():
    from training.models.open import load_run

    demo = ROOT / "explorer" / "demos" / "mnist5k-z16"
    run, encoder = load_run(demo), load_encoder(demo)
    x = _images(4, (1, 28, 28)) ** 4  # mostly dark, some ink
    mu, logvar = encoder.encode(x)
    expected_mu, expected_logvar = _torch_encode(run.model, x)
    np.testing.assert_allclose(mu, expected_mu, atol=1e-5)
    np.testing.assert_allclose(logvar, expected_logvar, atol=1e-5)


def test_bad_weights_are_refused(tmp_path):
    run_dir, vae = _saved(tmp_path, hidden=(16,))
    arrays = {k: v.numpy() for k, v in vae.state_dict().items()}
    arrays["encoder.1.weight"] = np.full((16, 64), np.nan, dtype=np.float32)
    (run_dir / "model.safetensors").write_bytes(st_save_numpy(arrays))
    with pytest.raises(UserError, match="NaN"):
        load_encoder(run_dir)
    arrays["encoder.1.weight"] = np.zeros((16, 63), dtype=np.float32)
    (run_dir / "model.safetensors").write_bytes(st_save_numpy(arrays))
    with pytest.raises(UserError, match="shape"):
        load_encoder(run_dir)
    arrays["encoder.9.weight"] = arrays.pop("encoder.1.weight")  # the same bytes under another name
    (run_dir / "model.safetensors").write_bytes(st_save_numpy(arrays))
    with pytest.raises(UserError, match="missing"):
        load_encoder(run_dir)


def test_models_from_elsewhere_have_no_array_encoder(tmp_path):
    onnx = tmp_path / "onnx"
    onnx.mkdir()
    (onnx / "encoder.onnx").write_bytes(b"x")
    (onnx / "decoder.onnx").write_bytes(b"x")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter.json").write_text("{}")
    assert load_encoder(onnx) is None and load_encoder(adapter) is None  # nothing of theirs is read or run


def test_loading_and_encoding_do_not_import_torch():
    code = ("import sys, numpy as np; from training.models.open import load_encoder; "
            "e = load_encoder('explorer/demos/mnist5k-z16'); e.encode(np.zeros((1, 1, 28, 28))); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)  # a hang guard
    assert out.stdout.strip() == "False", out.stderr
