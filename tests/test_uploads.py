"""Uploading a run: hostile or broken uploads raise one UserError sentence and write nothing."""

import io
import json
import pathlib
import pickle

import pytest
import torch

from explorer.state.uploads import save_uploaded_run
from training.core.config import RunConfig
from training.core.errors import UserError
from training.models.open import load_run
from training.runs.checkpoint import weights_bytes
from training.runs.layout import CONFIG, HISTORY, WEIGHTS
from training.vae.model import VAE

CONFIG_DICT = RunConfig(model={"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2},
                        train={"dataset": "digits"}).model_dump(mode="json")


def config_bytes(**changes) -> bytes:
    data = json.loads(json.dumps(CONFIG_DICT))
    for path, value in changes.items():
        section, key = path.split("__")
        if value is KeyError:
            del data[section][key]
        else:
            data[section][key] = value
    return json.dumps(data).encode()


def model_weights(**model) -> bytes:
    config = RunConfig(model={**CONFIG_DICT["model"], **model}, train=CONFIG_DICT["train"])
    torch.manual_seed(0)
    return weights_bytes(VAE(config.model), epoch=0)


class Marker:
    """Unpickling this creates a file: proof that someone ran pickle on the upload."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "runs"


def assert_nothing_written(root):
    assert not root.exists() or list(root.iterdir()) == []


def test_a_valid_upload_is_saved_loadable_and_complete(root):
    path = save_uploaded_run(config_bytes(), model_weights(), root, "shared-model")
    assert path == (root / "shared-model").resolve()
    assert sorted(p.name for p in path.iterdir()) == sorted([CONFIG, WEIGHTS, HISTORY])
    run = load_run(path)
    assert run.config.model.latent_dim == 2 and run.history == []
    assert [p.name for p in root.iterdir()] == ["shared-model"]  # no staging folder left behind


def test_the_saved_weights_equal_the_uploaded_ones(root):
    weights = model_weights()
    run = load_run(save_uploaded_run(config_bytes(), weights, root, "same"))
    torch.manual_seed(0)
    reference = VAE(RunConfig.model_validate(CONFIG_DICT).model)
    for name, value in reference.state_dict().items():
        assert torch.equal(run.model.state_dict()[name], value), name


def test_a_pickle_renamed_safetensors_is_refused_and_never_unpickled(root, tmp_path):
    marker = tmp_path / "pwned"
    size = len(model_weights())
    for payload in (pickle.dumps(Marker(marker)), _torch_save_bytes(Marker(marker))):
        with pytest.raises(UserError, match="does not match the config: it is"):  # refused by its size
            save_uploaded_run(config_bytes(), payload, root, "evil")
        padded = payload + b"\0" * (size - len(payload))  # of the right size: the parser refuses it
        with pytest.raises(UserError, match="not a"):
            save_uploaded_run(config_bytes(), padded, root, "evil")
    assert not marker.exists()
    assert_nothing_written(root)


def _torch_save_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save({"weights": obj}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("cut", [0, 5, 100, -10])
def test_truncated_weights_are_refused(root, cut):
    weights = model_weights()
    with pytest.raises(UserError, match="does not match the config: it is|not a valid safetensors file"):
        save_uploaded_run(config_bytes(), weights[:cut], root, "cut")
    assert_nothing_written(root)


@pytest.mark.parametrize("config, phrase", [
    (config_bytes(model__extra_layer=3), "model.extra_layer is not a known setting"),
    (config_bytes(model__latent_dim=KeyError), None),  # a default fills it, then the shapes disagree
    (config_bytes(model__latent_dim="two"), "model.latent_dim"),
    (config_bytes(model__latent_dim=100_000), "model.latent_dim"),
    (config_bytes(train__lr=[1]), "train.lr"),
    (b"{not json", "not valid JSON"),
    (b"[]", "invalid"),
    (json.dumps({"model": {}}).encode(), "train is missing"),
    (b" " * 1_000_001, "a run config is a few hundred bytes"),
])
def test_bad_configs_are_refused(root, config, phrase):
    with pytest.raises(UserError) as err:
        save_uploaded_run(config, model_weights(), root, "bad-config")
    if phrase:
        assert phrase in str(err.value)
    assert str(err.value).endswith(".")
    assert_nothing_written(root)


def test_weights_of_another_shape_are_refused(root):
    with pytest.raises(UserError, match="has shape"):
        save_uploaded_run(config_bytes(model__latent_dim=3), model_weights(), root, "mismatch")
    with pytest.raises(UserError, match="does not match the config"):  # by its size, before it is parsed
        save_uploaded_run(config_bytes(model__hidden=[16, 16]), model_weights(), root, "mismatch")
    assert_nothing_written(root)


def test_nan_weights_are_refused(root):
    from safetensors.torch import load, save

    tensors = load(model_weights())
    first = sorted(tensors)[0]
    tensors[first] = tensors[first].clone()
    tensors[first].view(-1)[0] = float("nan")
    with pytest.raises(UserError, match="NaN"):
        save_uploaded_run(config_bytes(), save(tensors), root, "nan")
    assert_nothing_written(root)


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/abs", ".hidden", "", "x" * 101, "bad name"])
def test_unsafe_run_names_are_refused(root, tmp_path, name):
    with pytest.raises(UserError, match="not a valid run name"):
        save_uploaded_run(config_bytes(), model_weights(), root, name)
    assert_nothing_written(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_existing_run_is_never_overwritten(root):
    save_uploaded_run(config_bytes(), model_weights(), root, "taken")
    before = (root / "taken" / WEIGHTS).read_bytes()
    with pytest.raises(UserError, match="already exists"):
        save_uploaded_run(config_bytes(model__latent_dim=3), model_weights(latent_dim=3), root, "taken")
    assert (root / "taken" / WEIGHTS).read_bytes() == before
    assert [p.name for p in root.iterdir()] == ["taken"]


def test_an_upload_naming_a_server_folder_as_its_data_set_is_refused(root):
    with pytest.raises(UserError, match="built-in data set"):
        save_uploaded_run(config_bytes(train__dataset="folder:/usr"), model_weights(), root, "snoop")
    assert_nothing_written(root)
