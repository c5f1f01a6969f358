"""A model as one .zip (training/runs/archive.py, explorer/state/uploads.py): what the Models page downloads it takes back;
an ONNX model's zip becomes an ONNX folder; every hostile archive is one sentence and writes nothing."""

from __future__ import annotations

import io
import stat
import warnings
import zipfile

import numpy as np
import pytest
import torch

from explorer import DEMOS
from explorer.state.uploads import save_uploaded_zip
from training.cli import main
from training.core.errors import UserError
from training.models.open import load_run
from training.runs import archive

def run_zip(run_dir) -> bytes:
    """What "all as .zip" on the Models page gives for RUN_DIR."""
    return archive.write(archive.run_files(run_dir), run_dir.name)


def test_a_downloaded_run_zip_uploads_back_as_the_same_model(tmp_path):
    path = save_uploaded_zip(run_zip(DEMOS / "mnist5k-z2"), tmp_path, "back")
    back, ours = load_run(path), load_run(DEMOS / "mnist5k-z2")
    assert back.config == ours.config
    z = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.equal(back.model.decode_mean(z), ours.model.decode_mean(z))


@pytest.mark.slow  # exports, zips and opens ONNX graphs (about 8 s)
def test_an_onnx_zip_uploads_as_an_onnx_model(tmp_path):
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(tmp_path / "exported")]) == 0
    path = save_uploaded_zip(run_zip(tmp_path / "exported"), tmp_path / "runs", "from-onnx")
    assert sorted(p.name for p in path.iterdir()) == ["decoder.onnx", "encoder.onnx", "model.json"]
    z = torch.randn(4, 2)
    with torch.no_grad():
        np.testing.assert_allclose(load_run(path).model.decode_mean(z).numpy(),
                                   load_run(DEMOS / "mnist5k-z2").model.decode_mean(z).numpy(), atol=1e-5)


def zip_of(entries, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, data in entries:
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return buffer.getvalue()


CONFIG_BYTES = (DEMOS / "mnist5k-z2" / "config.json").read_bytes()


@pytest.mark.parametrize("data, match", [
    (b"PK\x03\x04 not really a zip", "not a zip archive"),
    (zip_of([("../config.json", CONFIG_BYTES)]), "at its top or in one folder"),
    (zip_of([("/abs/config.json", CONFIG_BYTES)]), "at its top or in one folder"),
    (zip_of([("a/b/config.json", CONFIG_BYTES)]), "at its top or in one folder"),
    (zip_of([("run/config.json", CONFIG_BYTES)], symlink="run/model.safetensors"), "link or a special file"),
    (zip_of([("run/inner.zip", b"PK")]), "no file of a model"),
    (zip_of([("run/evil.py", b"import os")]), "no file of a model"),
    (zip_of([("run/adapter.json", b'{"spec": "os:system"}')]), "no file of a model"),
    (zip_of([("a/config.json", CONFIG_BYTES), ("b/model.safetensors", b"x")]), "different folders"),
    (zip_of([("run/config.json", CONFIG_BYTES), ("run/config.json", CONFIG_BYTES)]), "twice"),
    (zip_of([("run/history.jsonl", b"")]), "neither a run"),
])
def test_a_hostile_zip_is_one_sentence_and_writes_nothing(tmp_path, data, match):
    with pytest.raises(UserError, match=match) as info:
        save_uploaded_zip(data, tmp_path, "x")
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert list(tmp_path.iterdir()) == []


def test_sizes_are_checked_before_anything_is_unpacked():
    bomb = zip_of([("run/model.safetensors", b"\0" * (2 * 1024 * 1024))])  # deflates to a few KB
    with pytest.raises(UserError, match="more than 1 MB once unpacked"):
        archive.read(bomb, 1024 * 1024)
