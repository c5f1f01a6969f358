"""Image folders are read faithfully: every bit depth scaled by its own range, skipped files counted and
named with why, links never followed out of the folder, huge images refused from their header, and a
run resumed only on the data it was trained on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from training.cli import main
from training.data.folder import MAX_PIXELS, load_folder
from training.runs.status import read_status


def grey_png(path: Path, value: int, bits: int = 8, side: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if bits == 16 else np.uint8
    Image.fromarray(np.full((side, side), value, dtype)).save(path)


def test_16_bit_images_are_scaled_by_their_depth_not_saturated(tmp_path):
    for i, value in enumerate((0, 16384, 32768, 49152, 65535)):
        grey_png(tmp_path / f"{i}.png", value, bits=16)
    assert Image.open(tmp_path / "2.png").mode.startswith("I")  # PIL reads them as 16-bit
    data = load_folder(tmp_path, image_size=8)
    means = sorted(float(x.mean()) for x in (*data.x_train, *data.x_test))
    expected = [v / 65535 for v in (0, 16384, 32768, 49152, 65535)]
    np.testing.assert_allclose(means, expected, atol=1 / 255)  # 8-bit storage: within one grey level
    assert data.skipped == 0


def test_8_and_16_bit_images_of_the_same_grey_agree(tmp_path):
    grey_png(tmp_path / "a.png", 128)
    grey_png(tmp_path / "b.png", 128 * 257, bits=16)
    data = load_folder(tmp_path, image_size=8)
    values = {round(float(x.mean()), 3) for x in (*data.x_train, *data.x_test)}
    assert values == {round(128 / 255, 3)}


def test_skipped_files_are_counted_and_named_with_why(tmp_path):
    for i in range(4):
        grey_png(tmp_path / "digits" / f"{i}.png", 40 * i)
    (tmp_path / "digits" / "broken.png").write_bytes(b"not an image")
    side = int(MAX_PIXELS ** 0.5) + 1
    Image.new("L", (side, side)).save(tmp_path / "digits" / "huge.png")  # small file, huge image
    data = load_folder(tmp_path, image_size=8)
    assert data.skipped == 2 and len(data.x_train) + len(data.x_test) == 4
    note = data.skipped_note
    assert note.startswith("2 file(s) in folder:") and "digits/broken.png (not readable as an image" in note
    assert f"digits/huge.png ({side} x {side} pixels, over the {MAX_PIXELS:,} allowed)" in note


def test_links_leading_out_of_the_folder_are_never_followed(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    for i in range(3):
        grey_png(folder / "a" / f"{i}.png", 30 * i)
    outside = tmp_path / "elsewhere"
    grey_png(outside / "secret.png", 255)
    os.symlink("/", folder / "root")                       # a class folder that is the whole disk
    os.symlink(outside, folder / "b")                      # a class folder elsewhere
    os.symlink(outside / "secret.png", folder / "a" / "leak.png")  # one file elsewhere
    os.symlink(folder / "a", folder / "c")                 # a link within the folder is fine
    walked = []  # every folder listed: "/" must never be, whatever the machine's speed
    for method in ("iterdir", "rglob"):
        real = getattr(Path, method)
        monkeypatch.setattr(Path, method, lambda self, *a, _real=real: (walked.append(self), _real(self, *a))[1])
    data = load_folder(folder, image_size=8)
    monkeypatch.undo()
    assert walked and all(str(p.resolve()).startswith(str(folder.resolve())) for p in walked), walked
    assert data.label_names == ["a", "c"]
    assert len(data.x_train) + len(data.x_test) == 6
    assert data.skipped == 4  # root, b, and leak.png seen through a and through c
    assert "root (a folder link leading out of the folder)" in data.skipped_note
    assert "a/leak.png (a link leading out of the folder)" in data.skipped_note
    assert float(max(x.max() for x in (*data.x_train, *data.x_test))) < 0.5  # secret.png (white) never read


def test_the_command_line_and_the_run_status_say_what_was_skipped(tmp_path, capsys):
    for i in range(6):
        grey_png(tmp_path / "imgs" / f"{i}.png", 40 * i)
    (tmp_path / "imgs" / "bad.png").write_bytes(b"x")
    run = tmp_path / "run"
    argv = ["fit", "--dataset", f"folder:{tmp_path / 'imgs'}", "--image-size", "8", "--hidden", "16",
            "--latent-dim", "2", "--epochs", "1", "--quiet", "--out", str(run)]
    assert main(argv) == 0
    assert "note: 1 file(s) in folder:" in capsys.readouterr().err
    assert "bad.png (not readable as an image" in read_status(run).data_note


def test_resume_on_changed_images_is_refused_and_on_the_same_images_allowed(tmp_path, capsys):
    for i in range(8):
        grey_png(tmp_path / "imgs" / f"{i}.png", 30 * i)
    run = tmp_path / "run"
    argv = ["fit", "--dataset", f"folder:{tmp_path / 'imgs'}", "--image-size", "8", "--hidden", "16",
            "--latent-dim", "2", "--epochs", "1", "--quiet", "--out", str(run)]
    assert main(argv) == 0
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "2"]) == 0  # same images: fine
    grey_png(tmp_path / "imgs" / "new.png", 200)
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "is not what" in err and "its images changed since" in err and "Start a new run" in err
    from training.models.open import load_run
    assert load_run(run).epoch == 2  # nothing trained on the changed data
