"""A model as one .zip (training/runs/archive.py, explorer/state/uploads.py): what the Models page downloads it takes back;
an ONNX model's zip becomes an ONNX folder; every hostile archive is one sentence and writes nothing."""

from __future__ import annotations

import io
import stat
import struct
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


# -- damaged archives and huge directories (issue 23, finding 5) -----------------------------------------------
RUN_ZIP = run_zip(DEMOS / "mnist5k-z2")


def flipped_data_byte(data: bytes) -> bytes:
    """DATA with one byte of model.safetensors' compressed data flipped: its checksum no longer matches."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("mnist5k-z2/model.safetensors")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    at = start + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def longer_than_declared(data: bytes) -> bytes:
    """A zip whose history.jsonl holds more bytes than its headers declare (stored, so the size is the length)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("run/config.json", CONFIG_BYTES)
        z.writestr("run/history.jsonl", b'{"epoch": 1}\n' * 10)
    raw = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo("run/history.jsonl")
    declared = info.file_size - 13
    # the local header (offset 22) and the central directory entry (offset 24) both say 13 bytes fewer
    struct.pack_into("<L", raw, info.header_offset + 22, declared)
    for at in range(len(raw) - 4):
        if raw[at:at + 4] == b"PK\x01\x02" and raw[at + 46:at + 46 + len(info.filename)] == info.filename.encode():
            struct.pack_into("<L", raw, at + 24, declared)
    return bytes(raw)


def encrypted(data: bytes) -> bytes:
    """DATA with its first member marked encrypted (bit 0 of the flags, local header and directory)."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x01
    return bytes(raw)


def many_empty_entries(n: int) -> bytes:
    """A zip of N empty stored entries, its central directory written directly (zipfile would take seconds)."""
    local, central = bytearray(), bytearray()
    for i in range(n):
        name = f"e{i}".encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0,
                               0, 0, len(local)) + name
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    # ZIP64 end record and locator, then the classic end record saying "see ZIP64"
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), len(local))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(central), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(local + central + end64 + locator + end)


@pytest.mark.parametrize("make, match", [
    (flipped_data_byte, "is damaged"),
    (lambda data: data[:len(data) // 2], "not a zip archive"),  # truncated: its end record is gone
    (longer_than_declared, "is damaged|not the size it declares"),
    (encrypted, "is encrypted"),
])
def test_a_damaged_zip_is_one_sentence_on_the_models_page_upload(tmp_path, make, match):
    with pytest.raises(UserError, match=match) as info:
        save_uploaded_zip(make(RUN_ZIP), tmp_path, "x")
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_member_is_one_sentence():
    """Cut inside the last member's data, the directory still read from a rebuilt end: the read ends early."""
    data = RUN_ZIP
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("mnist5k-z2/model.safetensors")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    cut = bytearray(data)
    cut[start + 100:start + info.compress_size] = b""  # the member's data ends 100 bytes in; the rest follows
    with pytest.raises(UserError, match="damaged|not a zip archive|not the size"):
        archive.read(bytes(cut), 64 * 1024**2)


@pytest.mark.parametrize("entries", [650_000, archive.MAX_MEMBERS + 1])
def test_a_zip_of_many_entries_is_refused_before_its_directory_is_parsed(tmp_path, monkeypatch, entries):
    data = many_empty_entries(entries)

    def no_parsing(*args, **kwargs):
        raise AssertionError("zipfile.ZipFile parsed a directory the end record had already refused")

    monkeypatch.setattr(zipfile, "ZipFile", no_parsing)
    with pytest.raises(UserError, match=f"holds {entries:,} entries|holds {entries} entries"):
        save_uploaded_zip(data, tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_larger_than_its_bound_is_refused_before_parsing(monkeypatch):
    data = bytearray(many_empty_entries(3))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<4s4H2LH", data, end, b"PK\x05\x06", 0, 0, 3, 3, archive.MAX_DIRECTORY_BYTES + 1, 0, 0)
    del data[end - 76:end]  # no ZIP64 records: the classic end record's sizes are the ones read
    monkeypatch.setattr(zipfile, "ZipFile", None)
    with pytest.raises(UserError, match="list of entries"):
        archive.read(bytes(data), 1024)


# -- JSON at the upload boundary (issue 23, item 5) ---------------------------------------------------------------
@pytest.mark.parametrize("config, english, chinese", [
    (b'{"model": {,}}', "The uploaded config is not valid JSON (its first error is at line 1, column 12).",
     "上传的配置不是有效的 JSON（第一处错误在第 1 行第 12 列）。"),
    (b'{"model": "\xff"}', "The uploaded config is not valid JSON: byte 11 is not UTF-8 text.", "上传的配置不是有效的 JSON：第 11 个字节不是 UTF-8 文本。"),
    (b"[" * 100_000, "The uploaded config is not valid JSON: its brackets nest too deeply.",
     "上传的配置不是有效的 JSON：括号嵌套太深。"),
])
def test_an_uploaded_config_that_is_not_json_is_one_sentence_of_our_own_in_both_languages(tmp_path, monkeypatch,
                                                                                           config, english, chinese):
    from explorer import i18n
    from explorer.state.uploads import save_uploaded_run

    weights = (DEMOS / "mnist5k-z2" / "model.safetensors").read_bytes()
    with pytest.raises(UserError) as info:
        save_uploaded_run(config, weights, tmp_path, "x")
    assert str(info.value) == english  # no "Expecting property name enclosed in double quotes"
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    assert i18n.error_text(info.value) == chinese
    assert list(tmp_path.iterdir()) == []
