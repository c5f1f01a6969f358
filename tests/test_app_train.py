"""The Train and Models pages, driven through Streamlit's AppTest."""

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from training.jobs.control import stop_run
from training.models.open import load_run
from training.runs.layout import CONFIG, WEIGHTS
from training.runs.queue import scan
from training.runs.status import ACTIVE, read_status
from explorer import DEMOS as BUNDLED_DEMOS
from tests.conftest import wait_state
from tests.waiting import HANG_S, until

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")
DEMOS = sorted(p for p in BUNDLED_DEMOS.iterdir() if (p / WEIGHTS).is_file())


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A runs folder of the test's own; afterwards, no training the test started is left running."""
    root = tmp_path / "runs"
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(root))
    yield root
    for run_dir, _, state in scan(root):
        if state in ACTIVE:
            stop_run(run_dir)
            wait_state(run_dir, "stopped", "finished", "failed")


def open_page(page: str, runs_root: Path, run_path: Path | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["runs_root"] = str(runs_root)
    if run_path is not None:
        at.session_state["run_path"] = str(run_path)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def run_until(at: AppTest, done, what: str = "the page shows what the test waits for") -> AppTest:
    """Rerun the page until DONE(at) holds: an event on the page, however long the machine takes (the hang
    guard of tests/waiting.py aside)."""
    def rerun() -> bool:
        if done(at):
            return True
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
        return False
    until(rerun, what)
    return at


def fill_tiny_form(at: AppTest, name: str, epochs: int = 2, batch_size: int = 128) -> None:
    at.selectbox(key="train_dataset").set_value("digits")
    at.number_input(key="train_latent_dim").set_value(2)
    at.text_input(key="train_hidden").set_value("16")
    at.number_input(key="train_epochs").set_value(epochs)
    at.number_input(key="train_batch_size").set_value(batch_size)
    at.text_input(key="train_name").set_value(name)


def submit(at: AppTest) -> AppTest:
    (button,) = [b for b in at.button if b.label == "Start training"]
    return button.click().run()


def epoch_shown(at: AppTest) -> int:
    """The epoch the progress bar names, 0 before the first step."""
    texts = [p.proto.text for p in at.get("progress")]
    found = [re.match(r"Epoch (\d+) ", text) for text in texts]
    return max((int(m.group(1)) for m in found if m), default=0)


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no {label!r} button among {[b.label for b in at.button]}"
    return found[0]


@pytest.mark.parametrize("demo", DEMOS, ids=lambda p: p.name)
def test_train_and_models_pages_run_on_each_bundled_model(runs, demo):
    at = open_page("views/train.py", runs, demo)
    assert at.title[0].value == "Train a VAE"
    assert at.selectbox(key="train_dataset").options[:2] == ["mnist5k", "digits"]
    at.switch_page("views/models.py").run()
    assert not at.exception, at.exception
    assert button(at, "In use").key == f"use_{demo}"  # the current model's card
    assert len([b for b in at.button if b.label == "Use"]) == len(DEMOS) - 1
    assert {d.label for d in at.get("download_button")} >= {WEIGHTS, CONFIG}
    assert at.session_state["run_path"] == str(demo)


def test_number_inputs_are_labelled_and_explained_by_the_configs_fields(runs):
    """Label, default and help (with the range) from the field; no min/max in the browser, which would
    keep an out-of-range value from being submitted at all (Start would seem to do nothing)."""
    at = open_page("views/train.py", runs)
    from training.core.config import ModelConfig, TrainConfig  # one declaration: title, default, bounds

    for key, section, field in (("train_latent_dim", ModelConfig, "latent_dim"), ("train_lr", TrainConfig, "lr"),
                                ("train_warmup", TrainConfig, "warmup_epochs"), ("train_seed", TrainConfig, "seed")):
        widget = at.number_input(key=key)
        assert widget.label == section.model_fields[field].title
        assert widget.value == section.model_fields[field].default
        assert widget.min is None and widget.max is None
    assert "from 1 to 512" in at.number_input(key="train_latent_dim").help
    assert "(more than 0 and at most 10)" in at.number_input(key="train_lr").help
    assert "(at least 0)" in at.number_input(key="train_seed").help
    assert "from 1 to 100,000" in at.number_input(key="train_epochs").help


@pytest.mark.slow  # a training in a process of its own
def test_a_tiny_training_from_the_train_page_completes_and_can_be_used(runs):
    at = open_page("views/train.py", runs)
    fill_tiny_form(at, "tiny-ui")
    submit(at)
    assert not at.error, [e.value for e in at.error]
    run_until(at, lambda at: any("Finished 2 epochs" in s.value for s in at.success))
    assert len(at.get("plotly_chart")) == 3  # recon, KL, beta
    button(at, "Use").click().run()
    assert at.session_state["run_path"] == str(runs / "tiny-ui")
    assert load_run(runs / "tiny-ui").epoch == 2


@pytest.mark.slow  # a training in a process of its own
def test_stop_on_the_train_page_keeps_the_last_checkpoint(runs):
    at = open_page("views/train.py", runs)
    fill_tiny_form(at, "long-ui", epochs=100_000, batch_size=16)
    submit(at)
    run_until(at, lambda at: epoch_shown(at) >= 3, "epoch 3 in progress")
    asked_in = epoch_shown(at)
    button(at, "Stop").click().run()
    run_until(at, lambda at: any("Stopped; the checkpoint of epoch" in w.value for w in at.warning), "stopped")
    # It kept at least what the page had shown finished, and stopped long before its plan. How many epochs a
    # fast machine trains between the page's last redraw and the press is the machine's business, not the test's.
    run = load_run(runs / "long-ui")
    history = [json.loads(line) for line in (runs / "long-ui" / "history.jsonl").read_text().splitlines()]
    assert asked_in - 1 <= run.epoch < 100_000 and run.epoch >= 2
    assert [h["epoch"] for h in history] == list(range(1, run.epoch + 1))  # the checkpoint is the last epoch kept
    assert read_status(runs / "long-ui").state == "stopped"
    assert button(at, "Use") and button(at, "Resume")


@pytest.mark.parametrize("changes, sentence", [
    ({"train_warmup": 2.0, "train_cycles": 3}, "Choose either a linear warm-up or cyclical annealing, not both."),
    ({"train_arch": "conv", "train_hidden": "8,8,8,8"}, "needs image sides divisible by 16"),
    ({"train_hidden": "64,lots"}, "'Hidden sizes' must be comma-separated whole numbers"),  # the form's words
    ({"train_hidden": "64,99999"}, "'Hidden sizes' 64,99999 is not allowed: hidden sizes must be between 1 and 8192"),
    ({"train_name": "../evil"}, "is not a valid run name"),
    ({"train_latent_dim": 99999}, "'Latent dimensions' 99999 is not allowed: it must be at most 512."),
    ({"train_lr": 50.0}, "'Learning rate' 50.0 is not allowed"),
    ({"train_epochs": 0}, "'Epochs' 0 is not allowed"),
    ({"train_dataset": "shapes", "train_image_size": 999}, "'Image size (pixels)' 999 is not allowed for shapes"),
    ({"train_dataset": "folder:PATH"}, "Type the image folder's path"),
])
def test_invalid_settings_show_one_sentence_and_start_nothing(runs, changes, sentence):
    at = open_page("views/train.py", runs)
    fill_tiny_form(at, "never-made")
    if "train_dataset" in changes:  # the fields of that data set appear once it is chosen
        at.selectbox(key="train_dataset").set_value(changes["train_dataset"]).run()
    for key, value in changes.items():
        at.get_by_key(key).set_value(value)
    submit(at)
    assert not at.exception
    assert [e.value for e in at.error] and sentence in at.error[0].value
    assert not runs.exists() or list(runs.iterdir()) == []
    assert not (runs.parent / "evil").exists()
    assert scan(runs) == []


def test_use_on_the_models_page_selects_a_saved_run(runs):
    saved = runs / "copied-demo"
    shutil.copytree(DEMOS[0], saved)
    at = open_page("views/models.py", runs)
    at.button(key=f"use_{saved}").click().run()
    assert not at.exception
    assert at.session_state["run_path"] == str(saved)
    assert at.button(key=f"use_{saved}").label == "In use"


def test_a_model_chosen_anywhere_shows_at_once_everywhere_and_once_in_the_picker(runs, monkeypatch):
    saved = runs / "copied-demo"
    shutil.copytree(DEMOS[0], saved)
    monkeypatch.chdir(runs.parent)
    at = open_page("views/models.py", runs)
    at.session_state["run_path"] = "runs/copied-demo"  # a relative spelling of the same run
    at.run()
    picker = at.selectbox(key="model_picker")
    assert len(picker.options) == len(set(picker.options)) == len(DEMOS) + 1  # every run once
    assert picker.value == str(saved.resolve())
    assert at.button(key=f"use_{saved}").label == "In use"

    at.button(key=f"use_{DEMOS[1]}").click().run()  # a Use button inside the cards' fragment
    assert at.selectbox(key="model_picker").value == str(DEMOS[1].resolve())  # the sidebar, same rerun
    assert at.button(key=f"use_{DEMOS[1]}").label == "In use"

    upload(at, (DEMOS[0] / WEIGHTS).read_bytes(), (DEMOS[0] / CONFIG).read_bytes(), "uploaded-one")
    uploaded = runs / "uploaded-one"
    assert at.selectbox(key="model_picker").value == str(uploaded.resolve())  # not one click later
    assert at.button(key=f"use_{uploaded}").label == "In use"
    assert any("it is now the current model" in m.value for m in at.success)


def test_balance_outlines_the_current_run_however_it_is_spelled(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from explorer.figures.rate_distortion import rate_distortion

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "a").mkdir(parents=True)
    runs = [SimpleNamespace(path=tmp_path / "runs" / name, name=name, beta=1.0, likelihood="bernoulli", latent_dim=2,
                            dataset="digits", test_kl=1.0 + i, test_recon=10.0 - i) for i, name in enumerate("ab")]
    fig = rate_distortion(runs, current="runs/a")
    assert list(fig.data[0].marker.line.width) == [3, 0]


def test_the_runs_folder_field_changes_where_runs_are_listed(runs, tmp_path):
    other = tmp_path / "elsewhere"
    shutil.copytree(DEMOS[0], other / "found-here")
    at = open_page("views/models.py", runs)
    at.text_input(key="models_runs_root").set_value(str(other)).run()
    assert at.session_state["runs_root"] == str(other)
    assert f"use_{other / 'found-here'}" in [b.key for b in at.button]


def upload(at: AppTest, weights: bytes, config: bytes, name: str) -> AppTest:
    at.file_uploader(key="upload_weights").upload(WEIGHTS, weights)
    at.file_uploader(key="upload_config").upload(CONFIG, config, "application/json")
    at.text_input(key="upload_name").set_value(name)
    return button(at, "Check, save and use").click().run()


def test_a_corrupt_upload_shows_an_error_and_writes_nothing(runs):
    at = open_page("views/models.py", runs)
    before = at.session_state["run_path"] if "run_path" in at.session_state else None
    upload(at, b"\x80\x04garbage, not safetensors", (DEMOS[0] / CONFIG).read_bytes(), "broken")
    assert not at.exception
    assert len(at.error) == 1 and "The uploaded weights file does not match the config" in at.error[0].value
    assert not runs.exists() or list(runs.iterdir()) == []
    assert (at.session_state["run_path"] if "run_path" in at.session_state else None) == before


def test_a_valid_upload_is_saved_and_becomes_the_current_model(runs):
    at = open_page("views/models.py", runs)
    upload(at, (DEMOS[0] / WEIGHTS).read_bytes(), (DEMOS[0] / CONFIG).read_bytes(), "shared")
    assert not at.exception and not at.error
    assert at.session_state["run_path"] == str(runs / "shared")
    assert load_run(runs / "shared").config.model.latent_dim == load_run(DEMOS[0]).config.model.latent_dim


def fake_run(runs: Path, name: str, state: str, **status) -> Path:
    """A copy of a demo with a status file saying ``state`` (as a training process would write it)."""
    from training.runs.status import RunStatus, write_status

    run_dir = runs / name
    shutil.copytree(DEMOS[0], run_dir)
    write_status(run_dir, RunStatus(state=state, queued_at=time.time(), epochs=50, epoch=50, **status))
    return run_dir


def test_failed_and_interrupted_runs_are_marked_and_never_offered_as_models(runs):
    from training.runs.status import Owner

    failed = fake_run(runs, "bad-lr", "failed", reason="Training diverged in epoch 1: the loss became NaN.")
    lost = fake_run(runs, "lost", "running", owner=Owner("elsewhere", 999_999))  # nobody holds its lock
    good = fake_run(runs, "good", "finished")
    at = open_page("views/models.py", runs)
    picker = at.sidebar.selectbox(key="model_picker")
    offered = [label.split(" ")[0] for label in picker.options]
    assert "good" in offered and "bad-lr" not in offered and "lost" not in offered
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert ":red-badge[failed]" in text and ":red-badge[interrupted]" in text
    assert "Training diverged in epoch 1" in text
    keys = [b.key for b in at.button]
    assert f"use_{good}" in keys and f"use_{failed}" not in keys and f"use_{lost}" not in keys
    assert f"resume_card_{lost}" in keys and f"resume_card_{failed}" not in keys
    assert {f"delete_{failed}", f"delete_{lost}", f"delete_{good}"} <= set(keys)
    assert not any(k.startswith("delete_") and "demos" in k for k in keys)  # demos cannot be deleted


def test_a_training_started_elsewhere_shows_live_on_the_train_page_with_stop(runs):
    from training.runs.lock import RunLock
    from training.runs.status import Owner

    run_dir = fake_run(runs, "from-the-shell", "running", owner=Owner("somewhere", 4242), steps_per_epoch=10,
                       step=3, global_step=493, launcher="cli")
    with RunLock(run_dir):  # the shell's training process holds its run
        at = open_page("views/train.py", runs)
        assert [s.value for s in at.subheader] == ["from-the-shell"]
        assert any("Epoch 50 of 50, step 3 of 10" in p.proto.text for p in at.get("progress"))
        assert button(at, "Stop").key == "stop_from-the-shell"
        assert not [b for b in at.button if b.label == "Delete"]
    at.run()  # its process is gone now
    assert any(e.value.startswith("Interrupted at epoch") for e in at.error)
    assert button(at, "Resume")
