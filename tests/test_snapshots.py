"""Snapshots of the weights at a schedule of epochs, under a byte budget; the epoch scrubber shows them."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.widgets import epochs
from training.core.config import ModelConfig
from training.runs import snapshots
from training.vae.model import VAE
from tests.waiting import HANG_S

pytestmark = pytest.mark.slow  # a training in a process of its own

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "explorer" / "app.py"


def test_the_schedule_is_dense_early_and_ends_at_the_last_epoch():
    assert snapshots.schedule(50) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 50]
    assert snapshots.schedule(3) == [1, 2, 3] and snapshots.schedule(1) == [1]
    assert len(snapshots.schedule(100_000)) < 40  # about two per doubling


def test_snapshots_round_trip_in_half_precision_and_stay_under_the_budget(tmp_path, monkeypatch):
    cfg = ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(32,))
    torch.manual_seed(0)
    model = VAE(cfg)
    size = snapshots.snapshot_bytes(cfg)
    monkeypatch.setenv(snapshots.ENV, "1")  # 1 MB: room for some of the 12 a 50-epoch run asks for
    allowed = snapshots.budget_bytes() // size
    for epoch in range(1, 51):
        snapshots.save(tmp_path, cfg, model, epoch, 50)
    kept = snapshots.kept_epochs(tmp_path)
    assert kept[0] == 1 and kept[-1] == 50 and set(kept) <= set(snapshots.schedule(50))
    assert len(kept) <= allowed or len(kept) == 12
    assert sum(p.stat().st_size for p in (tmp_path / "snapshots").iterdir()) <= max(snapshots.budget_bytes(),
                                                                                   12 * size)
    back = snapshots.load(tmp_path, cfg, 50)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(back[name].numpy(), value.numpy(), rtol=1e-3, atol=1e-4)

    tight = tmp_path / "tight"
    tight.mkdir()  # a run folder exists before its training saves into it (snapshots.save never makes it)
    monkeypatch.setenv(snapshots.ENV, str(max(1, (3 * size) // snapshots.costs.MB)))
    if snapshots.enabled(cfg):
        for epoch in range(1, 51):
            snapshots.save(tight, cfg, model, epoch, 50)
        assert len(snapshots.kept_epochs(tight)) * size <= snapshots.budget_bytes()
    monkeypatch.setenv(snapshots.ENV, "0")  # off
    assert not snapshots.save(tmp_path / "off", cfg, model, 1, 50) and snapshots.kept_epochs(tmp_path / "off") == []


def test_a_model_too_large_for_the_budget_keeps_none(tmp_path, monkeypatch):
    monkeypatch.setenv(snapshots.ENV, "1")
    big = ModelConfig(latent_dim=16, hidden=(2048, 1024))
    assert not snapshots.enabled(big)
    assert not snapshots.save(tmp_path, big, torch.nn.Linear(1, 1), 1, 10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "snap"
    argv = [sys.executable, "-m", "training", "fit", "--dataset", "digits", "--latent-dim", "2", "--hidden", "32",
            "--epochs", "6", "--batch-size", "32", "--threads", "1", "--quiet", "--out", str(run)]
    subprocess.run(argv, cwd=ROOT, check=True, timeout=HANG_S)  # a hang guard
    return run


def test_a_training_keeps_its_snapshots_and_the_scrubber_shows_different_images(trained):
    assert snapshots.kept_epochs(trained) == [1, 2, 3, 4, 6]
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(trained)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    slider = at.select_slider(key=f"{epochs.KEY}_sliders")
    assert list(slider.options) == ["1", "2", "3", "4", "6", "latest"]

    def decoded_url():
        (img,) = [n for n in at.get_by_key("decoded") if getattr(n, "type", None) == "image"]
        return img.value[0]

    latest = decoded_url()
    shown = {}
    for epoch in (1, 3):
        at.session_state[epochs.KEY] = epoch
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown[epoch] = decoded_url()
    assert len({latest, shown[1], shown[3]}) == 3  # z = 0 decodes differently at epochs 1, 3 and the end
    for page in ("views/latent_map.py", "views/samples.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        name = page.split("/")[1].removesuffix(".py").replace("latent_map", "map")
        assert str(at.select_slider(key=f"{epochs.KEY}_{name}").value) == "3"  # one chosen epoch for every page


def test_a_replaced_snapshot_file_is_one_sentence_never_unpickled(tmp_path):
    from training.core.errors import UserError

    cfg = ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,))
    snapshots.path_of(tmp_path, 1).parent.mkdir(parents=True)
    snapshots.path_of(tmp_path, 1).write_bytes(b"\x80\x04K\x01." * 10)  # a pickle, renamed
    with pytest.raises(UserError, match="not a valid safetensors file"):
        snapshots.load(tmp_path, cfg, 1)
    with open(snapshots.path_of(tmp_path, 1), "wb") as f:  # far larger than this model's snapshot
        f.truncate(snapshots.snapshot_bytes(cfg) + 2 * 1024**2)
    with pytest.raises(UserError, match="a snapshot of this model is about"):
        snapshots.load(tmp_path, cfg, 1)
