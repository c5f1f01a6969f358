"""The Train form shows only what applies (per data set and likelihood), in plain words; a device choice where a GPU
exists; a finished run opens in Latent sliders; Elapsed counts every session. Through Streamlit's AppTest."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from explorer.state import trainings
from training.runs.status import QUEUED, read_status
from tests.test_app_train import button, fake_run, fill_tiny_form, open_page, runs, submit  # noqa: F401 - fixture

FIELDS = ("train_folder", "train_image_size", "train_channels")


def shown(at, keys) -> set[str]:
    present = set()
    for key in keys:
        try:
            at.get_by_key(key)
        except KeyError:
            continue
        present.add(key)
    return present


@pytest.mark.parametrize("dataset, expected", [
    ("mnist5k", set()),                        # a fixed size: nothing to set
    ("digits", set()),
    ("shapes", {"train_image_size"}),          # drawn at any size, always grey
    ("folder:PATH", set(FIELDS)),              # a folder: its path, the size and grey or colour
])
def test_the_data_fields_are_shown_only_for_the_data_sets_that_use_them(runs, dataset, expected):
    at = open_page("views/train.py", runs)
    at.selectbox(key="train_dataset").set_value(dataset).run()
    assert not at.exception, at.exception
    assert shown(at, FIELDS) == expected


@pytest.mark.parametrize("likelihood, has_sigma", [("bernoulli", False), ("gaussian", True),
                                                     ("gaussian-learned", False)])
def test_the_decoders_fixed_sigma_is_shown_only_for_the_gaussian(runs, likelihood, has_sigma):
    at = open_page("views/train.py", runs)
    at.selectbox(key="train_likelihood").set_value(likelihood).run()
    assert ("train_sigma" in shown(at, ["train_sigma"])) == has_sigma
    if has_sigma:
        assert at.number_input(key="train_sigma").label == "Decoder σ̃ (pixel noise)"


def test_the_labels_are_plain_words_with_one_notation_for_beta(runs):
    at = open_page("views/train.py", runs)
    at.selectbox(key="train_likelihood").set_value("gaussian").run()
    labels = [w.label for kind in ("number_input", "text_input", "selectbox", "radio") for w in at.get(kind)]
    form = [label for label in labels if label]
    assert at.number_input(key="train_beta").label == "β (weight of the KL term)"
    assert at.text_input(key="train_beta_sweep").label == "β sweep"
    assert not [label for label in form if "~" in label or "beta" in label.lower()], form


def test_rarely_changed_settings_wait_in_more_settings(runs):
    at = open_page("views/train.py", runs)
    (more,) = [e for e in at.get("expander") if e.label.startswith("More settings")]
    inside = {w.key for kind in ("number_input", "selectbox") for w in more.get(kind)}
    assert inside == {"train_warmup", "train_cycles", "train_free_bits", "train_seed", "train_lr_schedule",
                      "train_decoder_start"}


class FakeLauncher:
    """Starts nothing: the run stays queued, with the status the form wrote."""

    kind, max_running = "local", 1

    def launch(self, run_dir: Path, queued_at: float) -> None:
        pass


def test_without_a_gpu_there_is_no_device_choice(runs, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    at = open_page("views/train.py", runs)
    assert not shown(at, ["train_device"])


def test_with_a_gpu_the_device_chosen_reaches_the_training(runs, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(trainings, "launcher", lambda root: FakeLauncher())
    at = open_page("views/train.py", runs)
    device = at.selectbox(key="train_device")
    assert device.options == ["automatic (the GPU)", "CPU", "GPU (CUDA)"] and device.value == "auto"
    fill_tiny_form(at, "on-the-gpu")
    device.set_value("cuda")
    submit(at)
    assert not at.error, [e.value for e in at.error]
    status = read_status(runs / "on-the-gpu")
    assert status.state == QUEUED and status.device == "cuda"  # what `--device cuda` gives the trainer

    at.selectbox(key="train_device").set_value("auto")  # automatic: the launcher's own --device
    fill_tiny_form(at, "automatic")
    submit(at)
    assert read_status(runs / "automatic").device is None


def test_a_finished_run_opens_in_latent_sliders_as_the_current_model(runs):
    done = fake_run(runs, "just-done", "finished", started_at=time.time() - 30, ended_at=time.time())
    at = open_page("views/train.py", runs)
    assert any("Finished 50 epochs in 30 s" in s.value for s in at.success)
    opener = at.button(key="open_train_just-done")
    assert opener.label == "Open in Latent sliders"
    opener.click().run()
    assert not at.exception, at.exception
    assert at.session_state["run_path"] == str(done)
    assert at.title[0].value == "Latent sliders"


def test_a_run_that_is_not_finished_offers_no_opening(runs):
    fake_run(runs, "stopped-one", "stopped", started_at=100.0, ended_at=110.0)
    at = open_page("views/train.py", runs)
    assert not [b for b in at.button if (b.key or "").startswith("open_")]


def test_elapsed_counts_the_time_before_stop_after_resume(runs):
    """10 s trained, Stop, Resume, 4 s more: Elapsed says 14 s, not 4 s."""
    fake_run(runs, "resumed", "stopped", started_at=1000.0, ended_at=1004.0, earlier_seconds=10.0)
    at = open_page("views/train.py", runs)
    (elapsed,) = [m for m in at.metric if m.label == "Elapsed"]
    assert elapsed.value == "14 s"
