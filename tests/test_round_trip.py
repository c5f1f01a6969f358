"""A run downloaded as "all as .zip" on the Models page and uploaded back is the same run (issue 23, finding 11):
file by file, and page by page (Models card, Balance, Latent sliders' used and unused dimensions)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.state.uploads import save_uploaded_zip
from tests.waiting import HANG_S
from training.cli import main
from training.core.errors import UserError
from training.runs import archive, snapshots
from training.runs.checkpoint import read_safetensors_bytes
from training.runs.layout import HISTORY, STEPS, WEIGHTS, read_history

APP = Path(__file__).resolve().parents[1] / "explorer" / "app.py"
# What stays behind: the training process's own files (its lock, status, log, stop request) and the optimizer's
# resume state (an uploaded run is a finished run: training/runs/archive.py says why).
LEFT_BEHIND = {".lock", "status.json", "train.log", "stop", "checkpoint.safetensors"}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(original, uploaded back): a tiny run trained here, and its Models-page zip uploaded into another folder."""
    ours = tmp_path_factory.mktemp("ours") / "tiny"
    assert main(["fit", "--dataset", "digits", "--latent-dim", "3", "--hidden", "32", "--epochs", "4",
                 "--batch-size", "32", "--threads", "1", "--quiet", "--out", str(ours)]) == 0
    data = archive.write(archive.run_files(ours), ours.name)  # what explorer/views/models.py's zipped() gives
    back = save_uploaded_zip(data, tmp_path_factory.mktemp("theirs"), "came-back")
    return ours, back


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_every_file_a_page_reads_comes_back_byte_for_byte(both):
    ours, back = both
    original, returned = files_of(ours), files_of(back)
    assert set(original) - set(returned) <= LEFT_BEHIND
    assert set(returned) == set(original) - LEFT_BEHIND
    assert {HISTORY, STEPS} <= set(returned) and len(snapshots.kept_epochs(back)) == 4  # epochs 1, 2, 3, 4
    for name, data in returned.items():
        if name == WEIGHTS:  # re-serialised from the validated tensors: equal once parsed (safetensors writes its
            continue         # metadata's keys in no fixed order, so not always the same bytes)
        assert data == original[name], name  # config.json is re-serialised too, and gives the same bytes
    ours_tensors, ours_meta = read_safetensors_bytes(original[WEIGHTS], WEIGHTS)
    back_tensors, back_meta = read_safetensors_bytes(returned[WEIGHTS], WEIGHTS)
    assert back_meta == ours_meta and back_meta["epoch"] == "4"  # was: epoch 0
    assert back_tensors.keys() == ours_tensors.keys()
    assert all(torch.equal(back_tensors[k], ours_tensors[k]) for k in ours_tensors)
    assert len(read_history(back)) == 4


def page_text(at: AppTest, *names: str) -> list[str]:
    """Every text, label and help of the page, with the run's name and folder replaced by RUN."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error",
                 "metric", "text"):
        texts += [str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in getattr(at, kind)]
    texts += [f"{s.label} | {s.help}" for s in at.slider]
    texts += [f"{s.label} | {s.value}" for s in at.select_slider]
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    return [pattern.sub("RUN", t) for t in texts]


def pages(run: Path) -> dict[str, list[str]]:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["runs_root"] = str(run.parent)
    at.session_state["run_path"] = str(run)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {"sliders": page_text(at, str(run), run.parent.name, run.name)}
    for page in ("views/models.py", "views/balance.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown[page] = page_text(at, str(run.parent), str(run), run.parent.name, run.name)
    return shown


def test_every_page_shows_the_uploaded_run_as_the_original(both):
    ours, back = both
    original, returned = pages(ours), pages(back)
    assert any("epochs 4 of 4" in t for t in returned["views/models.py"])  # was: epochs 0 of 4
    assert sum(t.startswith("z_") and "KL to the prior" in t for t in returned["sliders"]) == 3  # used or ignored
    for page in original:
        assert returned[page] == original[page], page


@pytest.mark.parametrize("name, data, match", [
    (HISTORY, b'{"epoch": 1}\n{"epoch": \n', "^history.jsonl line 2 is not valid JSON"),
    (HISTORY, b'[1, 2]\n', "not an epoch record"),
    (STEPS, b"step,recon,kl,beta,n\n1,x,2,3,1\n", "malformed row"),
    ("snapshots/epoch-0001.safetensors", b"\x10\0\0\0\0\0\0\0{not safetensors}", "not a valid safetensors file"),
    ("snapshots/epoch-0001.safetensors", None, "does not fit the model"),  # another model's snapshot
    ("snapshots/evil.py", b"import os", "no file of a model"),
    ("snapshots/epoch-00001.safetensors", b"", "no file of a model"),  # not the name snapshots.py gives epoch 1
    ("snapshots/sub/epoch-0001.safetensors", b"", "no file of a model"),
])
def test_a_run_zip_with_a_bad_history_step_log_or_snapshot_is_one_sentence_and_writes_nothing(both, tmp_path, name,
                                                                                              data, match):
    ours, _ = both
    files = archive.run_files(ours)
    if data is None:  # a snapshot of a model of another shape
        import safetensors.torch

        data = safetensors.torch.save({"encoder.weight": torch.zeros(2, 2, dtype=torch.float16)})
    files[name] = data
    with pytest.raises(UserError, match=match) as info:
        save_uploaded_zip(archive.write(files, "tiny"), tmp_path, "x")
    assert "\n" not in str(info.value) and "vae-upload-" not in str(info.value)  # no scratch folder of the server
    assert list(tmp_path.iterdir()) == []
