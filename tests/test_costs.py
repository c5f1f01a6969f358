"""Costs are computed from a config and checked before they are paid: parameters (exact), weight bytes,
a training step's memory (estimate, against measured steps), chunked model passes, file sizes first."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import BytesRead
from training.analysis.latent import encode_posterior, theory_terms
from training.cli import main
from training.core import costs
from training.core.config import ModelConfig, RunConfig
from training.core.errors import UserError
from training.jobs.control import submit
from training.models.catalogue import list_runs
from training.models.open import load_run
from training.runs.checkpoint import load_model_from_bytes
from training.vae.model import VAE
from training.vae.objective import vae_loss

ROOT = Path(__file__).resolve().parent.parent
# Within every bound of the config, yet 3.2 billion parameters: building it would need ~13 GB.
HUGE = {"image_shape": (3, 256, 256), "hidden": (8192, 8192), "latent_dim": 512}


def huge_run(tmp_path: Path, weights: bytes = b"\0" * 68) -> Path:
    run = tmp_path / "huge"
    run.mkdir()
    (run / "config.json").write_text(RunConfig(model=HUGE, train={"dataset": "digits"}).to_json())
    (run / "model.safetensors").write_bytes(weights)
    return run


def test_the_parameter_count_is_exact_for_every_architecture():
    checked = 0
    for arch, likelihood, hidden, shape, z in itertools.product(
            ("mlp", "conv"), ("bernoulli", "gaussian", "gaussian-learned"), ((32,), (16, 8), (8, 16, 4)),
            ((1, 16, 16), (3, 32, 32), (1, 8, 24)), (1, 5)):
        try:
            cfg = ModelConfig(arch=arch, likelihood=likelihood, hidden=hidden, image_shape=shape, latent_dim=z)
        except ValueError:
            continue  # a conv that does not fit the image
        state = VAE(cfg).state_dict()
        assert costs.parameter_count(cfg) == sum(v.numel() for v in state.values()), cfg
        assert costs.weight_bytes(cfg) == sum(v.numel() * v.element_size() for v in state.values())
        checked += 1
    assert checked > 80


def test_a_huge_config_beside_a_tiny_weights_file_is_refused_before_anything_is_built(tmp_path, capsys, monkeypatch):
    run = huge_run(tmp_path)
    built = []  # every layer built: the refusal must come from the config alone, whatever the machine's speed
    real_init = torch.nn.Linear.__init__
    monkeypatch.setattr(torch.nn.Linear, "__init__", lambda self, *a, **k: (built.append(a), real_init(self, *a, **k)))
    with pytest.raises(UserError, match=r"3\.\d billion parameters .* more than the 1.0 GB allowed here.*"
                                        r"VAE_EXPLORER_MAX_WEIGHTS_MB"):
        load_run(run)
    assert main(["evaluate", str(run)]) == 2
    assert "billion parameters" in capsys.readouterr().err
    with pytest.raises(UserError, match="billion parameters"):  # the Models page's upload
        load_model_from_bytes((run / "config.json").read_bytes(), b"\0" * 68)
    assert built == []  # nothing was built (building it would take minutes and gigabytes)


def test_a_weights_file_of_the_wrong_size_is_refused_before_it_is_read(tmp_path):
    cfg = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=2)
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(RunConfig(model=cfg, train={"dataset": "digits"}).to_json())
    for size in (68, costs.weight_bytes(cfg) - 1, costs.weight_bytes(cfg) + costs.SAFETENSORS_HEADER_MAX + 1):
        with open(run / "model.safetensors", "wb") as f:
            f.truncate(size)  # sparse: its content is never looked at
        with pytest.raises(UserError, match=rf"does not match the config: it is {size:,} bytes, the config describes "
                                            rf"{costs.weight_bytes(cfg):,} bytes of weights"):
            load_run(run)


def test_a_sparse_3_gb_config_is_refused_from_its_size_without_reading_it(tmp_path):
    run = huge_run(tmp_path)
    with open(run / "config.json", "wb") as f:
        f.truncate(3 * 1024**3)
    with BytesRead() as io:
        with pytest.raises(UserError, match=r"is 3,221,225,472 bytes; a run config is at most 1,000,000"):
            load_run(run)
        assert list_runs(tmp_path) == []  # not listed, and listing does not read it
    assert io.count < 1024**2  # refused from its size: not a megabyte of it read


def test_a_training_whose_step_would_not_fit_is_refused_before_a_folder_exists(tmp_path, capsys, monkeypatch):
    big_batch = ["fit", "--dataset", "digits", "--hidden", "8192,8192", "--latent-dim", "2", "--batch-size", "65536",
                 "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")]
    assert main(big_batch) == 2
    err = capsys.readouterr().err
    assert "One training step of this model would need about" in err and "choose a smaller batch size" in err
    assert not (tmp_path / "r").exists()
    config = RunConfig(model={"image_shape": (1, 8, 8), "hidden": (8192, 8192), "latent_dim": 2},
                       train={"dataset": "digits", "batch_size": 65536})
    with pytest.raises(UserError, match="One training step"):  # the Train page goes through submit
        submit(tmp_path / "runs", "big", config, launcher=None)
    assert not (tmp_path / "runs" / "big").exists()
    monkeypatch.setenv("VAE_EXPLORER_MAX_STEP_MB", "100000")  # the operator raises the limit: accepted
    costs.check_training(config)
    monkeypatch.setenv("VAE_EXPLORER_MAX_STEP_MB", "lots")
    with pytest.raises(UserError, match="VAE_EXPLORER_MAX_STEP_MB must be a whole number of megabytes"):
        costs.check_training(config)


@pytest.mark.parametrize("config", [
    {"model": {"image_shape": [3, 64, 64], "hidden": [1024, 512], "latent_dim": 32}, "train": {"batch_size": 256}},
    {"model": {"image_shape": [1, 28, 28], "hidden": [400], "latent_dim": 16}, "train": {"batch_size": 4096}},
    {"model": {"image_shape": [1, 64, 64], "arch": "conv", "hidden": [32, 64], "latent_dim": 8},
     "train": {"batch_size": 512}},
    {"model": {"image_shape": [3, 32, 32], "arch": "conv", "hidden": [32, 64, 128], "latent_dim": 32,
               "likelihood": "gaussian-learned"}, "train": {"batch_size": 128, "samples": 4}},
], ids=["mlp-wide", "mlp-mnist", "conv", "conv-learned-sigma-4-samples"])
def test_the_step_estimate_covers_what_a_real_step_must_hold(config):
    """At least the weights, gradients and Adam's moments plus every tensor autograd saves for the
    backward pass (counted by torch's saved-tensor hooks on a real forward pass), at most 6x that."""
    cfg = RunConfig.from_dict(config)
    model = VAE(cfg.model)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.rand(cfg.train.batch_size, *cfg.model.image_shape)
    eps = torch.randn(cfg.train.samples, cfg.train.batch_size, cfg.model.latent_dim)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        vae_loss(model, x, eps, 1.0)
    floor = 4 * costs.weight_bytes(cfg.model) + sum(saved.values())
    assert floor <= costs.step_bytes(cfg) <= 6 * floor


def test_passes_over_many_images_go_in_chunks_and_chunks_change_nothing(monkeypatch):
    conv = ModelConfig(arch="conv", image_shape=(3, 256, 256), hidden=(64, 128), latent_dim=8)
    assert costs.images_per_chunk(conv) < 1000  # a big model: fewer images at a time
    monkeypatch.setenv("VAE_EXPLORER_PASS_MB", "1")
    assert costs.images_per_chunk(conv) == 1
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=3, likelihood="gaussian")).eval()
    x = torch.rand(50, 1, 8, 8)
    mu_small, _ = encode_posterior(model, x, batch=7)
    monkeypatch.setenv("VAE_EXPLORER_PASS_MB", "256")
    mu_large, _ = encode_posterior(model, x)
    np.testing.assert_allclose(mu_small, mu_large, rtol=1e-6, atol=1e-6)
    large = theory_terms(model, x, n_mc=16, seed=1)
    monkeypatch.setattr("training.analysis.latent.images_per_chunk", lambda cfg, most=1000: 16 * 3)  # 3 images a chunk
    small = theory_terms(model, x, n_mc=16, seed=1)
    for name in ("recon_nll", "recon_se", "kl", "kl_mc", "kl_mc_se", "sq_error"):
        assert getattr(small, name) == pytest.approx(getattr(large, name), rel=1e-5), name
