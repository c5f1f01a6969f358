"""Foreign ONNX graphs run in a limited worker process (training/models/sandbox.py), never in ours.

Each hostile graph is a few bytes on disk whose cost appears only when it runs: a 32000x32000 tensor built
from a 16-byte initializer, an intermediate of (B, B, 256), a 40 GB allocation, outputs of (B^2, 2) above a
batch of 1, NaN outputs, a chain of MatMuls that runs for minutes. Each is refused with one sentence, and
this process's own peak memory does not move while it is checked.
"""

from __future__ import annotations

import gc
import json
import os
import resource
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from training.cli import main
from training.core.config import ModelConfig
from training.core.errors import UserError
from training.models import onnx_graph
from training.models.onnx_runtime import OnnxVAE, check_upload, load_folder
from benchmarks.hostile_graphs import (IMAGE, Z, batch_squared, blowup, decoder, encoder, matmul_chain,
                                      nan_output, squared_output)
from tests.waiting import until

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_FOREIGN_MB", "512")
    monkeypatch.setenv("VAE_EXPLORER_FOREIGN_SECONDS", "3")


@pytest.mark.parametrize("make, words", [
    (lambda: (encoder(), blowup(32000)), "more than 512 MB of memory"),
    (lambda: (encoder(), blowup(100000)), "more than 512 MB of memory"),
    (lambda: (encoder(), batch_squared()), "more than 512 MB of memory"),
    (lambda: (squared_output(), decoder()), "outputs of shapes"),
    (lambda: (encoder(), nan_output()), "not finite numbers"),
    (lambda: (encoder(), matmul_chain()), "it was stopped"),  # by the CPU, the wall or the memory limit
], ids=["32000-squared", "40-GB", "batch-squared", "B-squared-output", "NaN", "matmul-chain"])
def test_a_hostile_upload_is_refused_in_one_sentence_and_costs_this_process_nothing(make, words, small_limits):
    encoder_bytes, decoder_bytes = make()
    assert len(encoder_bytes) + len(decoder_bytes) < 20_000  # a few bytes on disk: the cost is at run time
    before = peak_rss_mb()
    with pytest.raises(UserError) as caught:
        check_upload(encoder_bytes, decoder_bytes, None)
    message = str(caught.value)
    assert words in message and "\n" not in message and "Traceback" not in message
    assert peak_rss_mb() - before < 150, "the graph ran in this process"


def test_a_good_pair_gives_what_onnx_runtime_gives_in_process(small_limits):
    encoder_bytes, decoder_bytes = encoder(), decoder()
    files = check_upload(encoder_bytes, decoder_bytes, None)
    assert set(files) == {"encoder.onnx", "decoder.onnx", "model.json"}
    cfg = ModelConfig(image_shape=IMAGE, latent_dim=Z, hidden=(1,))
    model = OnnxVAE(cfg, encoder_bytes, decoder_bytes)
    x = np.random.default_rng(3).random((2500, *IMAGE), np.float32)  # more than one chunk
    mu, logvar = model.encode(torch.from_numpy(x))
    theirs = ort.InferenceSession(encoder_bytes, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(mu.numpy(), theirs[0], atol=1e-6)
    np.testing.assert_allclose(logvar.numpy(), theirs[1], atol=1e-6)
    z = np.random.default_rng(4).standard_normal((3, 5, Z)).astype(np.float32)
    x_mean = model.decode_mean(torch.from_numpy(z))
    (want,) = ort.InferenceSession(decoder_bytes, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.reshape(-1, Z)})
    assert x_mean.shape == (3, 5, *IMAGE)
    np.testing.assert_allclose(x_mean.numpy().reshape(want.shape), want, atol=1e-6)


def test_a_call_past_a_limit_leaves_the_model_usable(small_limits):
    """After a refused call the next one gets a fresh worker (the big one is only paid at a large batch)."""
    cfg = ModelConfig(image_shape=IMAGE, latent_dim=Z, hidden=(1,))
    model = OnnxVAE(cfg, encoder(), batch_squared())
    model.decode_mean(torch.zeros(1, Z))
    first = model._worker.pid
    with pytest.raises(UserError, match="memory"):
        model.decode_mean(torch.zeros(model.chunk, Z))
    assert model.decode_mean(torch.zeros(4, Z)).shape == (4, *IMAGE)
    assert model._worker.pid not in (None, first)


def test_the_worker_process_ends_with_its_model(small_limits):
    cfg = ModelConfig(image_shape=IMAGE, latent_dim=Z, hidden=(1,))
    model = OnnxVAE(cfg, encoder(), decoder())
    model.decode_mean(torch.zeros(1, Z))
    pid = model._worker.pid
    assert pid is not None and Path(f"/proc/{pid}").exists()
    del model
    gc.collect()
    until(lambda: not Path(f"/proc/{pid}").exists(), "the worker process ends once its model is gone")


def test_evaluate_refuses_a_folder_whose_graph_gives_nan_with_exit_2_and_one_line(tmp_path, capsys, small_limits):
    folder = tmp_path / "nan-model"
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes(encoder())
    (folder / "decoder.onnx").write_bytes(nan_output())
    (folder / "model.json").write_text(json.dumps({"format": "vae-explorer/onnx", "dataset": "digits8"}))
    assert main(["evaluate", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not finite numbers" in err


@pytest.mark.parametrize("data", [b"", b"\x00" * 7])
def test_an_empty_graph_file_is_called_empty_not_an_operator_set(data, tmp_path):
    with pytest.raises(UserError) as caught:
        onnx_graph.parse_graph(data, "encoder", "encoder.onnx")
    assert "operator set ;" not in str(caught.value) and "not an ONNX model" in str(caught.value)


def test_the_limits_are_the_operators_settings(monkeypatch):
    from training.core.environment import foreign_limits

    monkeypatch.setenv("VAE_EXPLORER_FOREIGN_MB", "2048")
    monkeypatch.setenv("VAE_EXPLORER_FOREIGN_SECONDS", "9")
    assert foreign_limits() == (2048, 9)
    monkeypatch.setenv("VAE_EXPLORER_FOREIGN_MB", "²")
    with pytest.raises(UserError, match="VAE_EXPLORER_FOREIGN_MB"):
        foreign_limits()


def test_a_call_past_the_wall_limit_returns_even_if_the_worker_never_dies(small_limits):
    """A stopped worker (SIGSTOP: it neither answers nor spends CPU, so its CPU limit never ends it) costs the
    caller the wall limit, not forever: it is killed and the call is one sentence."""
    import signal

    model = OnnxVAE(ModelConfig(image_shape=IMAGE, latent_dim=Z, hidden=(1,)), encoder(), decoder())
    model.decode_mean(torch.zeros(1, Z))
    pid = model._worker.pid
    os.kill(pid, signal.SIGSTOP)
    with pytest.raises(UserError, match="took longer than 3 seconds"):
        model.decode_mean(torch.zeros(1, Z))
    until(lambda: not Path(f"/proc/{pid}").exists(), "the stopped worker is killed")
    assert model.decode_mean(torch.zeros(2, Z)).shape == (2, *IMAGE)  # a fresh worker serves the next call
