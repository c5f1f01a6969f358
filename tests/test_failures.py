"""Every failure a user or the machine can cause is one sentence and exit 2, with nothing half-written and
the last good checkpoint kept: paths that cannot be written, a full disk, out of memory, names that are
not UTF-8. A bug (any other exception) keeps its traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from training.cli import main
from training.core.errors import OUT_OF_MEMORY, as_user_error, os_error_sentence
from training.jobs.trainer import Trainer
from training.models.open import load_run
from training.runs.status import FAILED, read_status

TINY = ["fit", "--dataset", "digits", "--hidden", "32", "--latent-dim", "2", "--batch-size", "64", "--quiet"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_out_under_a_file_is_one_sentence_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert main([*TINY, "--epochs", "1", "--out", str(tmp_path / "a-file" / "run")]) == 2
    assert one_line(capsys) == f"error: Cannot use {tmp_path / 'a-file' / 'run'}: part of that path is a file, not a folder."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize("code, words", [(errno.EROFS, "it is on a read-only file system"),
                                         (errno.EACCES, "permission denied"), (errno.ENOSPC, "the disk is full")])
def test_an_out_folder_that_cannot_be_made_is_one_sentence(tmp_path, capsys, monkeypatch, code, words):
    def refuse(self, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(self))
    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main([*TINY, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert one_line(capsys) == f"error: Cannot use {tmp_path / 'run'}: {words}."


def test_a_full_disk_mid_training_keeps_the_last_checkpoint_and_records_why(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0
    import training.runs.checkpoint as checkpoint
    real = checkpoint.atomic_write

    def full(path, data, *args, **kwargs):
        if Path(path).name == "checkpoint.safetensors":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "atomic_write", full)
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "3"]) == 2
    sentence = f"Cannot use {run / 'checkpoint.safetensors'}: the disk is full."
    assert one_line(capsys) == f"error: {sentence}"
    assert load_run(run).epoch == 1  # the last good epoch, whole
    status = read_status(run)
    assert status.state == FAILED and status.reason == sentence
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_out_of_memory_is_one_sentence_and_the_checkpoint_is_kept(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0

    def no_memory(self, *args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                           "you tried to allocate 68719476736 bytes.")

    monkeypatch.setattr(Trainer, "train_step", no_memory)
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "2"]) == 2
    assert one_line(capsys) == f"error: {OUT_OF_MEMORY}"
    assert load_run(run).epoch == 1 and read_status(run).reason == OUT_OF_MEMORY


def test_a_folder_path_that_is_not_utf8_is_one_sentence(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    folder = os.fsdecode(bytes(tmp_path) + b"/\xff")
    Path(folder, "a").mkdir(parents=True)
    for i in range(12):  # readable images: the folder loads, then its name cannot be recorded as UTF-8
        Image.fromarray(np.full((8, 8), 20 * i, np.uint8)).save(Path(folder, "a", f"{i}.png"))
    base = [a for i, a in enumerate(TINY) if "--dataset" not in (a, TINY[i - 1])]  # a flag is given once
    assert main([*base, "--dataset", f"folder:{folder}", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    said = one_line(capsys)
    assert "not valid UTF-8" in said and "\\xff" in said, said  # the byte shown as it is on disk
    assert not (tmp_path / "run").exists()


def test_a_bug_keeps_its_traceback_and_is_recorded(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0

    def bug(self, *args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Trainer, "train_step", bug)
    with pytest.raises(ZeroDivisionError):
        main(["fit", "--resume", "--out", str(run), "--epochs", "2"])
    assert read_status(run).reason == "Training failed unexpectedly (ZeroDivisionError: a bug)."


def test_the_sentences_name_the_path_and_the_reason_in_plain_words():
    assert os_error_sentence(OSError(errno.EDQUOT, "Disk quota exceeded", "/x/y")) == \
        "Cannot use /x/y: the disk quota is used up."
    assert os_error_sentence(OSError(errno.ENOSPC, "No space left on device")) == \
        "A file could not be read or written: the disk is full."
    assert "\\xff" in os_error_sentence(OSError(errno.ENOENT, "x", os.fsdecode(b"/a/\xff")))  # printable
    assert str(as_user_error(MemoryError())) == OUT_OF_MEMORY
    assert as_user_error(ValueError("a bug")) is None and as_user_error(KeyError("k")) is None
