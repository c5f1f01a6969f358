"""The shapes set takes a size (``fit --dataset shapes --dataset-size N``, the Train form's 'Number of images'): the
run trains on that many, the app reloads the same set, other data sets and sizes out of bounds are refused in one
sentence, a size past the memory limit is refused with its figure before anything is built, and the runs written
before the setting existed keep their data and their test-set names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from explorer.state import shared, trainings
from training.cli import main
from training.core.config import RunConfig, SHAPES_SIZE_RANGE
from training.core.errors import UserError
from training.data import load_dataset
from training.data import shapes as shapes_module
from training.data.budget import build_bytes
from training.models.open import load_run
from tests.test_app_train import open_page, runs, submit  # noqa: F401 - fixture
from tests.test_train_form import FakeLauncher, shown

SMALL = ["--image-size", "8", "--hidden", "8", "--latent-dim", "2", "--batch-size", "8", "--epochs", "1", "--quiet"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err  # one sentence
    return err


def _history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def test_fit_trains_on_the_size_asked_for_and_the_app_reloads_that_set(tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "--dataset", "shapes", "--dataset-size", "50", *SMALL, "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["dataset_size"] == 50
    assert _history(out)[-1]["step"] == 40 // 8  # 40 train images (four in five) in batches of 8
    run = load_run(out)
    data = shared.data_of(run)  # what every page encodes
    assert (len(data.x_train), len(data.x_test)) == (40, 10)
    assert shared.test_set_id(run) != shared.test_set_id(load_run(_default_size_run(tmp_path)))


def _default_size_run(tmp_path: Path) -> Path:
    out = tmp_path / "default"
    if not out.exists():
        assert main(["fit", "--dataset", "shapes", *SMALL, "--out", str(out)]) == 0
    return out


def test_a_default_size_run_keeps_its_data_and_its_test_set_name(tmp_path):
    out = _default_size_run(tmp_path)
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["dataset_size"] is None and _history(out)[-1]["step"] == 8000 // 8
    c, h, _ = config["model"]["image_shape"]
    t = config["train"]  # the name as it was before a size could be asked for: the map caches keep their files
    before = hashlib.sha1(f"{t['dataset']}|{c}|{h}|{t['seed']}|{t['binarize']}".encode()).hexdigest()[:16]
    assert shared.test_set_id(load_run(out)) == before
    asked = load_dataset("shapes", image_size=8, dataset_size=10_000)  # asking for the default size: the same images
    assert asked.fingerprint() == load_dataset("shapes", image_size=8).fingerprint()


def test_an_old_config_without_the_field_loads_with_the_default_size():
    old = {"format": "vae-explorer/run", "version": 1, "model": {"image_shape": [1, 28, 28]},
           "train": {"dataset": "shapes", "epochs": 1}}
    assert RunConfig.from_json(json.dumps(old)).train.dataset_size is None


def test_each_size_is_its_own_data_set():
    small, other = load_dataset("shapes", image_size=8, dataset_size=20), load_dataset("shapes", image_size=8,
                                                                                        dataset_size=30)
    assert (len(small.x_train), len(small.x_test), len(other.x_train), len(other.x_test)) == (16, 4, 24, 6)
    assert small.fingerprint() != other.fingerprint()
    assert tuple(small.y_test.shape) == (4, 5) and float(small.x_train.max()) <= 1.0


@pytest.mark.parametrize("command", ["fit", "sweep"])
def test_another_data_set_takes_no_size(tmp_path, capsys, command):
    extra = ["--beta", "1,2"] if command == "sweep" else []
    assert main([command, "--dataset", "digits", "--dataset-size", "50", *extra, "--out", str(tmp_path / "r")]) == 2
    assert "Only the shapes data set takes a size; digits comes with its own number of images." in _error_line(capsys)
    assert not (tmp_path / "r").exists()
    with pytest.raises(UserError, match="Only the shapes data set takes a size; mnist5k"):
        RunConfig.from_dict({"model": {}, "train": {"dataset": "mnist5k", "dataset_size": 50}})


@pytest.mark.parametrize("size", [0, SHAPES_SIZE_RANGE[1] + 1, -5])
def test_a_size_out_of_bounds_is_one_sentence(tmp_path, capsys, size):
    assert main(["fit", "--dataset", "shapes", f"--dataset-size={size}", *SMALL, "--out", str(tmp_path / "r")]) == 2
    assert "must be a whole number of images from 10 to 737,280" in _error_line(capsys)
    assert not (tmp_path / "r").exists()
    with pytest.raises(UserError, match="train.dataset_size"):
        RunConfig.from_dict({"model": {}, "train": {"dataset": "shapes", "dataset_size": size}})


def test_a_size_past_the_memory_limit_is_refused_with_its_figure_before_a_byte_is_built(tmp_path, capsys,
                                                                                         monkeypatch):
    built = []
    monkeypatch.setattr(shapes_module, "sample_factors", lambda *a: built.append(a))  # never reached
    monkeypatch.setenv("VAE_EXPLORER_MAX_DATA_MB", "300")
    need = -(-build_bytes("shapes", 28, 100_000) // 1024**2)
    assert need == 695  # 2 x 299 MB of float32 (kept in the data cache, a copy for its caller) + 96 MB of render
    assert main(["fit", "--dataset", "shapes", "--dataset-size", "100000", "--out", str(tmp_path / "r")]) == 2
    assert ("Building the shapes data set of 100,000 images at 28x28 pixels would take about 695 MB of memory, more "
            "than the 300 MB this server allows (VAE_EXPLORER_MAX_DATA_MB)") in _error_line(capsys)
    monkeypatch.delenv("VAE_EXPLORER_MAX_DATA_MB")  # the default 2,048 MB: dSprites' full size is past it
    with pytest.raises(UserError, match="737,280 images at 28x28 pixels would take about 2,302 MB"):
        load_dataset("shapes", dataset_size=737_280)
    assert built == [] and not (tmp_path / "r").exists()


def test_the_train_form_shows_the_number_of_images_for_shapes_only_and_it_reaches_the_run(runs, monkeypatch):
    monkeypatch.setattr(trainings, "launcher", lambda root: FakeLauncher())
    at = open_page("views/train.py", runs)
    assert not shown(at, ["train_dataset_size"])  # mnist5k: a fixed number of images
    at.selectbox(key="train_dataset").set_value("shapes").run()
    field = at.number_input(key="train_dataset_size")
    assert field.label == "Number of images" and field.value == 10_000
    for name, size, stored in (("asked", 500, 500), ("as-before", 10_000, None)):
        at.number_input(key="train_image_size").set_value(8)
        at.number_input(key="train_dataset_size").set_value(size)
        at.number_input(key="train_latent_dim").set_value(2)
        at.text_input(key="train_hidden").set_value("8")
        at.number_input(key="train_epochs").set_value(1)
        at.text_input(key="train_name").set_value(name)
        submit(at)
        assert not at.error, [e.value for e in at.error]
        assert json.loads((runs / name / "config.json").read_text())["train"]["dataset_size"] == stored
    at.number_input(key="train_dataset_size").set_value(5)
    at.text_input(key="train_name").set_value("too-few")
    submit(at)
    assert "'Number of images' 5 is not allowed" in " ".join(e.value for e in at.error)
    assert not (runs / "too-few").exists()
    at.selectbox(key="train_dataset").set_value("digits").run()
    assert not shown(at, ["train_dataset_size"])


def test_an_onnx_export_of_a_sized_run_names_its_size_and_opens_on_that_set(tmp_path):
    from training.models.onnx_export import export_run
    from training.models.open import read_config

    out = tmp_path / "run"
    assert main(["fit", "--dataset", "shapes", "--dataset-size", "50", *SMALL, "--out", str(out)]) == 0
    onnx = export_run(out, tmp_path / "onnx")
    assert json.loads((onnx / "model.json").read_text())["dataset_size"] == 50
    assert read_config(onnx).train.dataset_size == 50  # scored on the set it was trained on
    assert read_config(_default_size_run(tmp_path)).train.dataset_size is None
    default_onnx = export_run(_default_size_run(tmp_path), tmp_path / "default-onnx")
    assert "dataset_size" not in json.loads((default_onnx / "model.json").read_text())
