"""What keeps fit's epochs fast without changing what it computes or writes: the Bernoulli -ln q(x|z) from
vectorised kernels, the epoch's writes on a writer thread, the recorder's progress folded only when written."""

import threading

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import small_config
from training.jobs.trainer import Trainer, TrainingDiverged
from training.runs import snapshots
from training.runs.background import BackgroundWriter
from training.runs.checkpoint import _read_safetensors
from training.runs.layout import CHECKPOINT
from training.vae.bernoulli import bernoulli_nll


def test_bernoulli_nll_and_its_gradient_match_float64_over_the_whole_range_of_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.linspace(-40, 40, 784 * 8), torch.randn(784 * 8, generator=g) * 6]).reshape(16, 1, 28, 28)
    x = torch.rand(16, 1, 28, 28, generator=g)
    x[:8] = (x[:8] > 0.5).float()  # binary and grey images
    leaf = logits.clone().requires_grad_()
    nll = bernoulli_nll(x, leaf)
    nll.sum().backward()
    ref_leaf = logits.double().requires_grad_()
    ref = F.binary_cross_entropy_with_logits(ref_leaf, x.double(), reduction="none").flatten(-3).sum(-1)
    ref.sum().backward()
    torch32 = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(-3).sum(-1)
    # as close to float64 as torch's own float32 loss (a sum of 784 terms carries float32 rounding)
    assert (nll.double() - ref).abs().max() <= 2 * (torch32.double() - ref).abs().max() + 1e-5
    torch.testing.assert_close(nll.double(), ref, rtol=3e-7, atol=1e-5)
    torch.testing.assert_close(leaf.grad.double(), ref_leaf.grad, rtol=1e-6, atol=1e-7)
    assert bernoulli_nll(x, torch.full_like(x, float("nan"))).isnan().all()  # divergence still shows


def test_bernoulli_nll_broadcasts_over_samples_and_gives_the_gradient_of_x():
    x = torch.rand(3, 1, 4, 4).requires_grad_()
    logits = torch.randn(2, 3, 1, 4, 4).requires_grad_()
    nll = bernoulli_nll(x, logits)
    assert nll.shape == (2, 3)
    nll.sum().backward()
    torch.testing.assert_close(x.grad, -logits.detach().sum(0))


def test_the_writer_runs_one_job_at_a_time_in_order_and_raises_its_error_on_the_training_thread():
    writer, done, release = BackgroundWriter(), [], threading.Event()
    writer.submit(lambda: (release.wait(), done.append(1)))
    assert done == []  # submit returned while the job waits
    release.set()
    writer.submit(lambda: done.append(2))  # waits for the first
    assert done[0] == 1
    writer.wait()
    assert done == [1, 2]

    def fail():
        raise OSError(28, "No space left on device")

    writer.submit(fail)
    with pytest.raises(OSError):
        writer.wait()
    writer.wait()  # raised once


def test_fit_returns_only_once_the_last_epochs_checkpoint_and_snapshot_are_on_disk(digits, tmp_path):
    config = small_config(epochs=3)
    Trainer(config, digits, run_dir=tmp_path).fit()
    _, meta = _read_safetensors(tmp_path / CHECKPOINT)
    assert meta["epoch"] == "3"
    assert snapshots.kept_epochs(tmp_path) == snapshots.schedule(3)


def test_a_failing_write_stops_the_training_with_its_error(digits, tmp_path, monkeypatch):
    import training.runs.checkpoint as checkpoint

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_checkpoint", full)
    with pytest.raises(OSError):
        Trainer(small_config(epochs=3), digits, run_dir=tmp_path).fit()


def test_divergence_is_raised_with_the_writes_before_it_finished(digits, tmp_path):
    config = small_config(epochs=3)
    trainer = Trainer(config, digits, run_dir=tmp_path)
    trainer.run_epoch()
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged):
        trainer.fit()
    _, meta = _read_safetensors(tmp_path / CHECKPOINT)
    assert meta["epoch"] == "1"  # the last good epoch's checkpoint, complete
