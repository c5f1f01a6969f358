"""The trainer: it learns, it is deterministic, it resumes exactly, it stops, it catches divergence."""

import threading

import pytest
import torch

from tests.conftest import small_config
from training.core.config import RunConfig
from training.jobs.trainer import Trainer, TrainingDiverged
from training.models.open import load_run
from training.runs.layout import CHECKPOINT

VOLATILE = {"seconds", "samples_per_second"}


def _stable(history):
    return [{k: v for k, v in rec.items() if k not in VOLATILE} for rec in history]


def test_three_epochs_on_mnist5k_lower_the_test_loss(mnist5k, tmp_path):
    config = RunConfig(model={"latent_dim": 8}, train={"epochs": 3})
    history = Trainer(config, mnist5k, run_dir=tmp_path / "run").fit()
    losses = [rec["test_loss"] for rec in history]
    assert len(losses) == 3
    assert losses[2] < losses[0] - 5, losses
    assert losses[0] < 300  # an untrained Bernoulli decoder scores ~543 nats (784 ln 2)
    for key in ("epoch", "beta", "train_recon", "train_kl", "train_loss", "test_recon", "test_kl",
                "test_loss", "kl_per_dim", "seconds", "samples_per_second"):
        assert key in history[-1]
    assert len(history[-1]["kl_per_dim"]) == 8
    assert history[-1]["test_loss"] == pytest.approx(history[-1]["test_recon"] + history[-1]["test_kl"])


def test_same_seed_same_history_and_other_seed_differs(digits):
    a = Trainer(small_config(), digits).fit()
    b = Trainer(small_config(), digits).fit()
    c = Trainer(small_config(seed=1), digits).fit()
    assert _stable(a) == _stable(b)
    assert _stable(a) != _stable(c)


def test_resume_equals_an_uninterrupted_run(digits, tmp_path):
    # Extending a 2-epoch run to 4 equals the 4-epoch run at a constant rate; a scheduled rate depends on the
    # planned epochs (it decays towards their end), so for it see the interrupted run of the test below.
    full = Trainer(small_config(epochs=4, lr_schedule="constant"), digits, run_dir=tmp_path / "full").fit()
    Trainer(small_config(epochs=2, lr_schedule="constant"), digits, run_dir=tmp_path / "part").fit()
    resumed = Trainer(small_config(epochs=4, lr_schedule="constant"), digits, run_dir=tmp_path / "part",
                      resume=True).fit()
    assert _stable(resumed) == _stable(full)
    a, b = load_run(tmp_path / "full"), load_run(tmp_path / "part")
    for (name, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(wa, wb), name


def test_checkpoint_round_trip_is_exact(digits, tmp_path):
    trainer = Trainer(small_config(epochs=2), digits, run_dir=tmp_path)
    history = trainer.fit()
    run = load_run(tmp_path)
    assert run.config == trainer.config
    assert run.history == history
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(run.model.state_dict()[name], value), name
    x = digits.x_test[:16]
    with torch.no_grad():
        trainer.model.eval()
        torch.testing.assert_close(run.model.encode(x)[0], trainer.model.encode(x)[0], rtol=0, atol=0)


def test_stop_between_steps_keeps_the_last_complete_checkpoint(mnist5k, tmp_path):
    config = RunConfig(model={"latent_dim": 4}, train={"epochs": 50, "batch_size": 32})
    events = []

    def callback(progress):
        events.append(progress)
        if progress.kind == "epoch" and progress.epoch == 1:
            threading.Timer(0.05, trainer.stop).start()

    trainer = Trainer(config, mnist5k, run_dir=tmp_path, callback=callback)
    history = trainer.fit()
    assert 1 <= len(history) < 50
    assert events[-1].kind == "stopped"
    run = load_run(tmp_path)
    assert run.epoch == len(history)
    assert (tmp_path / CHECKPOINT).is_file()


def test_step_callbacks_report_progress(digits):
    events = []
    trainer = Trainer(small_config(epochs=2), digits, callback=events.append)
    trainer.fit()
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 2 * trainer.steps_per_epoch
    assert [e.global_step for e in steps] == list(range(1, len(steps) + 1))
    assert all(e.recon > 0 and e.kl >= 0 for e in steps)
    assert [e.kind for e in events if e.kind != "step"] == ["epoch", "epoch", "done"]


def test_warmup_beta_rises_over_the_epochs(digits):
    history = Trainer(small_config(epochs=4, warmup_epochs=4), digits).fit()
    betas = [rec["beta"] for rec in history]
    assert betas == sorted(betas) and betas[0] < 0.5 and betas[-1] == pytest.approx(1.0)


def test_divergence_is_caught_and_the_last_good_checkpoint_kept(digits, tmp_path):
    config = small_config(epochs=30, lr=10.0, samples=1, lr_schedule="constant")  # (a warm-up tames even lr 10)
    trainer = Trainer(config, digits, run_dir=tmp_path)
    with pytest.raises(TrainingDiverged, match="lr"):
        trainer.fit()
    run = load_run(tmp_path)  # still loads, and its weights are finite
    assert all(torch.isfinite(p).all() for p in run.model.parameters())
    assert run.epoch == trainer.epoch


def test_the_largest_seed_trains(digits):
    history = Trainer(small_config(epochs=1, seed=2**63 - 1), digits).fit()
    assert len(history) == 1


def test_initialisation_neither_reads_nor_moves_the_global_rng(digits):
    torch.manual_seed(1)
    a = Trainer(small_config(), digits).model.state_dict()
    after_a = torch.random.get_rng_state()
    torch.manual_seed(999)
    torch.randn(10)
    b = Trainer(small_config(), digits).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(1)
    assert torch.equal(torch.random.get_rng_state(), after_a)  # the Trainer left the global stream alone


def _rates_used(trainer):
    """The learning rate of each optimiser step the trainer takes."""
    used, step = [], trainer.optimizer.step

    def recording_step(*args, **kwargs):
        used.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return used


@pytest.mark.parametrize("schedule", ["wsd", "cosine", "constant"])
def test_each_step_uses_the_schedules_rate_and_a_resumed_run_continues_it(digits, tmp_path, schedule):
    from training.vae.objective import lr_at
    full = Trainer(small_config(epochs=4, lr=4e-3, lr_schedule=schedule), digits, run_dir=tmp_path / "full")
    full_rates = _rates_used(full)
    full.fit()
    total = 4 * full.steps_per_epoch
    assert full_rates == [lr_at(s, total, 4e-3, schedule) for s in range(total)]
    part = Trainer(small_config(epochs=4, lr=4e-3, lr_schedule=schedule), digits, run_dir=tmp_path / "part")
    part.callback = lambda p: part.stop() if p.kind == "epoch" and p.epoch == 2 else None
    part.fit()
    resumed = Trainer(small_config(epochs=4, lr=4e-3, lr_schedule=schedule), digits, run_dir=tmp_path / "part",
                      resume=True)
    resumed_rates = _rates_used(resumed)
    history = resumed.fit()
    assert resumed_rates == full_rates[2 * full.steps_per_epoch:]  # the schedule goes on where it stopped
    assert _stable(history) == _stable(full.history)


def test_the_decoder_starts_at_the_mean_image_or_at_pytorchs_initialisation(mnist5k):
    mean = mnist5k.x_train.mean(0)
    logit = torch.logit(mean.clamp(1e-3, 1 - 1e-3))
    mlp = Trainer(RunConfig(model={"latent_dim": 4}, train={}), mnist5k).model
    torch.testing.assert_close(mlp.decoder[-2].bias, logit.flatten())
    with torch.no_grad():  # the untrained decoder's image is about the mean image
        shown = mlp.decode_mean(torch.randn(256, 4)).mean(0)
    assert (shown - mean).abs().mean() < 0.03
    conv = Trainer(RunConfig(model={"latent_dim": 4, "arch": "conv", "hidden": (8, 16)}, train={}), mnist5k).model
    torch.testing.assert_close(conv.decoder[-1].bias, torch.logit(mean.mean()).reshape(1))
    learned = Trainer(RunConfig(model={"latent_dim": 4, "likelihood": "gaussian-learned"}, train={}), mnist5k).model
    torch.testing.assert_close(learned.decoder[-2].bias[:784], logit.flatten())  # the mean's half only
    random = Trainer(RunConfig(model={"latent_dim": 4}, train={"decoder_start": "random"}), mnist5k).model
    assert not torch.allclose(random.decoder[-2].bias, logit.flatten())
    assert random.decoder[-2].bias.abs().max() < 0.1  # PyTorch's default: uniform within 1/sqrt(400)


def test_a_config_written_before_the_schedule_existed_trains_as_it_did():
    old = RunConfig(model={}, train={}).model_dump()
    for key in ("lr_schedule", "decoder_start"):
        del old["train"][key]
    loaded = RunConfig.from_dict(old)
    assert (loaded.train.lr_schedule, loaded.train.decoder_start) == ("constant", "random")
    new = RunConfig(model={}, train={})
    assert (new.train.lr_schedule, new.train.decoder_start) == ("wsd", "mean")
    assert RunConfig.from_json(new.to_json()) == new
