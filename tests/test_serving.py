"""Served to others, visitors never name server paths: the runs folders and the image folders are the
operator's list, picked from, never typed; locally, today's freedom stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from explorer.state import serving
from explorer.widgets.train_form import FOLDER_CHOICE, config_from_form
from training.core.errors import UserError
from tests.waiting import HANG_S

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")


@pytest.fixture
def operator(tmp_path, monkeypatch):
    """A served app whose operator offers two runs folders and one image folder."""
    runs_a, runs_b, images = tmp_path / "runs-a", tmp_path / "runs-b", tmp_path / "images"
    images.mkdir()
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "1")
    monkeypatch.setenv("VAE_EXPLORER_RUNS", f"{runs_a}:{runs_b}")
    monkeypatch.setenv("VAE_EXPLORER_IMAGE_FOLDERS", str(images))
    return runs_a, runs_b, images


def open_page(page: str, typed_root: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["runs_root"] = str(typed_root)  # what a session might carry: not offered, replaced
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_served_the_runs_folder_is_picked_from_the_operators_list(operator, tmp_path):
    runs_a, runs_b, _ = operator
    at = open_page("views/models.py", tmp_path / "anywhere")
    assert not [t for t in at.text_input if t.label == "Runs folder"]  # nothing to type a path into
    (choice,) = [s for s in at.selectbox if s.label == "Runs folder"]
    assert choice.options == ["runs-a", "runs-b"] and choice.value == str(runs_a)  # by name: no server path shown
    assert at.session_state["runs_root"] == str(runs_a)  # the session's own path was not kept
    choice.set_value(str(runs_b)).run()
    assert at.session_state["runs_root"] == str(runs_b)


def test_served_the_image_folder_is_picked_and_others_are_refused(operator, tmp_path):
    _, _, images = operator
    at = open_page("views/train.py", tmp_path / "anywhere")
    at.selectbox(key="train_dataset").set_value(FOLDER_CHOICE).run()  # the folder fields are the folder set's only
    assert not [t for t in at.text_input if t.label == "Image folder"]
    (choice,) = [s for s in at.selectbox if s.label == "Image folder"]
    assert choice.options == ["images"]  # by name: no server path shown
    form = {"dataset": "folder:PATH", "folder": "/etc", "channels": 1, "image_size": 28}
    with pytest.raises(UserError, match="only on the image folders its operator offers"):
        config_from_form(form)
    form = {**form, "folder": str(images), "arch": "mlp", "hidden": "", "latent_dim": 2, "likelihood": "bernoulli",
            "sigma": 0.1, "beta": 1.0, "warmup_epochs": 0.0, "cycles": 0, "free_bits": 0.0, "epochs": 1,
            "batch_size": 64, "lr": 1e-3, "seed": 0}
    assert config_from_form(form).train.dataset == f"folder:{images}"


def test_locally_visitors_type_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "0")
    at = open_page("views/models.py", tmp_path / "mine")
    assert [t for t in at.text_input if t.label == "Runs folder"][0].value == str(tmp_path / "mine")
    at.switch_page("views/train.py").run()
    assert not [t for t in at.text_input if t.label == "Image folder"]  # shown for the folder data set only
    at.selectbox(key="train_dataset").set_value(FOLDER_CHOICE).run()
    assert [t for t in at.text_input if t.label == "Image folder"]


@pytest.mark.parametrize("address, env, expected", [
    (None, "", True),            # Streamlit's default: every interface
    ("0.0.0.0", "", True),
    ("192.168.1.5", "", True),
    ("localhost", "", False),
    ("127.0.0.1", "", False),
    ("0.0.0.0", "0", False),     # the operator's explicit choice
    ("localhost", "1", True),
])
def test_served_means_reachable_from_other_machines_unless_the_operator_says(monkeypatch, address, env, expected):
    monkeypatch.setenv("VAE_EXPLORER_SERVED", env)
    previous = st_config.get_option("server.address")
    st_config.set_option("server.address", address)
    try:
        assert serving.served() is expected
    finally:
        st_config.set_option("server.address", previous)


def test_a_bad_served_setting_is_one_sentence(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "maybe")
    with pytest.raises(UserError, match="VAE_EXPLORER_SERVED must be 1 or 0"):
        serving.served()
