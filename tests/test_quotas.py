"""A served app's quotas (issue 23, findings 3 and 9): trainings per visitor address and per runs folder, queued
runs that wait without a process, and data sets refused before they are built when they would not fit."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.state import trainings
from training.cli import main
from training.core.config import RunConfig
from training.core.environment import max_queued_from_env
from training.core.errors import UserError
from training.data import load_dataset
from training.data import shapes as shapes_module
from training.data.budget import build_bytes
from training.data.shapes import load_shapes
from training.jobs.control import resume, start_sweep, stop_run, submit
from training.jobs.launcher import LocalLauncher, start_queued
from training.core.settings import flag_name
from training.runs.lock import RunLock, owner_alive
from training.runs.queue import queue_positions, scan
from training.runs.status import (ACTIVE, FINISHED, QUEUED, RUNNING, STOPPED, Owner, read_status, write_status)
from tests.conftest import state_of, wait_for, wait_state
from tests.waiting import HANG_S

MODEL = {"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2}
APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")


def tiny(**train) -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 1, **train})


def endless() -> RunConfig:
    return tiny(epochs=100_000, batch_size=16)


class FakeLauncher:
    """Starts nothing: the runs stay queued."""

    kind, max_running = "local", 1

    def launch(self, run_dir: Path, queued_at: float) -> None:
        pass


@pytest.fixture
def served(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "1")
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    fresh = trainings._Visitors()
    monkeypatch.setattr(trainings, "_visitors", lambda: fresh)
    return tmp_path / "runs"


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    yield root
    for run_dir, status, _ in scan(root):  # never leave a training behind
        if status.owner is not None and owner_alive(run_dir):
            os.kill(status.owner.pid, signal.SIGKILL)


# -- per address, per runs folder ------------------------------------------------------------------------
def test_a_new_browser_context_from_the_same_address_cannot_pass_the_address_quota(served, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAX_QUEUED", "100")  # the folder's cap is not what this test is about
    fake = FakeLauncher()
    for i in range(trainings.MAX_ACTIVE_PER_VISITOR):  # one browser, its four trainings
        submit(served, f"mine-{i}", tiny(), fake, **trainings.quota("v-first-browser", address="203.0.113.7"))
    with pytest.raises(UserError, match="You already have 4 trainings queued or running"):
        submit(served, "again", tiny(), fake, **trainings.quota("v-second-browser", address="203.0.113.7"))
    with pytest.raises(UserError, match="A sweep of 2 runs beside your 4 trainings"):
        start_sweep(served, "sw", tiny(), (1.0, 2.0), fake, flag_name,
                    **trainings.quota("v-third-browser", address="203.0.113.7", per_visitor=8 - 3))
    submit(served, "someone-else", tiny(), fake, **trainings.quota("v-other", address="198.51.100.9"))
    assert not (served / "again").exists() and not (served / "sw-beta1").exists()
    status = read_status(served / "mine-0")
    assert status.requested_by == "v-first-browser" and status.requested_from.startswith("a-")
    assert "203.0.113.7" not in (served / "mine-0" / "status.json").read_text()  # kept as a key, never the address
    assert read_status(served / "someone-else").requested_from != status.requested_from


def test_locally_the_address_is_not_counted_and_the_folder_has_no_cap(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "0")
    assert trainings.quota("v", address="203.0.113.7") == {"requested_by": "v", "max_per_visitor": 4}
    assert trainings.address_key(None) is None


def test_the_runs_folder_takes_at_most_its_cap_of_trainings_running_and_queued_together(served, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAX_QUEUED", "3")
    fake = FakeLauncher()
    running = submit(served, "running", tiny(), fake, **trainings.quota("v-a", address="192.0.2.1"))
    submit(served, "queued-1", tiny(), fake, **trainings.quota("v-b", address="192.0.2.2"))
    with RunLock(running):  # stands in for its live training process
        write_status(running, read_status(running).changed(state=RUNNING, owner=Owner.me()))
        submit(served, "queued-2", tiny(), fake, **trainings.quota("v-c", address="192.0.2.3"))
        with pytest.raises(UserError, match="This server already has 3 trainings queued or running, the most it takes"):
            submit(served, "fourth", tiny(), fake, **trainings.quota("v-d", address="192.0.2.4"))
        with pytest.raises(UserError, match="would pass the 3 it takes"):
            start_sweep(served, "sw", tiny(), (1.0, 2.0), fake, flag_name, **trainings.quota("v-e", address="192.0.2.5"))
        stop_run(served / "queued-2")
        submit(served, "fourth", tiny(), fake, **trainings.quota("v-d", address="192.0.2.4"))  # the cancel made room
        with pytest.raises(UserError, match="the most it takes"):  # a resume counts like a new training
            resume(served / "queued-2", fake, **trainings.quota("v-c", address="192.0.2.3"))
        assert read_status(served / "queued-2").state == STOPPED
        assert sum(state in ACTIVE for _, _, state in scan(served)) == 3
    for bad in ("0", "many", "²"):
        monkeypatch.setenv("VAE_EXPLORER_MAX_QUEUED", bad)
        with pytest.raises(UserError, match="VAE_EXPLORER_MAX_QUEUED must be a whole number"):
            max_queued_from_env()
    monkeypatch.delenv("VAE_EXPLORER_MAX_QUEUED")
    monkeypatch.setenv("VAE_EXPLORER_MAX_TRAININGS", "2")
    assert max_queued_from_env() == 8


def start_on_the_train_page(name: str) -> AppTest:
    """A new session that asks the Train page for a small digits training called NAME."""
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.run()
    at.switch_page("views/train.py").run()
    at.selectbox(key="train_dataset").set_value("digits")
    at.text_input(key="train_hidden").set_value("16")
    at.text_input(key="train_name").set_value(name)
    (button,) = [b for b in at.button if b.label == "Start training"]
    button.click().run()
    return at


def test_the_train_form_shows_the_servers_refusal_in_one_sentence(served, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAX_QUEUED", "1")
    monkeypatch.setattr(LocalLauncher, "spawn", lambda self, run_dir, queued_at: None)  # nothing starts
    submit(served, "first", tiny(), FakeLauncher(), requested_by="someone")
    at = start_on_the_train_page("second")
    assert [e.value for e in at.error] == [
        "This server already has 1 trainings queued or running, the most it takes; try again when one has finished."]
    assert not (served / "second").exists()


def test_below_the_disk_floor_the_train_form_starts_nothing(served, monkeypatch):
    import shutil

    usage = shutil.disk_usage(served.parent)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=100 * 1024**2))
    monkeypatch.setattr(LocalLauncher, "spawn", lambda self, run_dir, queued_at: None)  # nothing starts
    at = start_on_the_train_page("low-disk")
    assert [e.value for e in at.error] == ["The server's disk has only 100 MB free, less than the 1024 MB it keeps "
                                           "free; nothing more can be saved or trained until space is freed."]
    assert not (served / "low-disk").exists()


# -- queued runs wait without a process -------------------------------------------------------------------
def processes_naming(run_dir: Path) -> list[int]:
    """Processes whose command line names the run folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if {str(run_dir).encode(), str(run_dir.resolve()).encode()} & set(argv):
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_queued_runs_have_no_process_and_start_when_a_slot_frees(root):
    local = LocalLauncher(max_running=1, threads=1, nice=0)
    first = submit(root, "first", endless(), local)
    second = submit(root, "second", tiny(), local)
    third = submit(root, "third", endless(), local)
    wait_state(first, RUNNING)
    for run_dir in (second, third):
        status = read_status(run_dir)
        assert status.state == QUEUED and status.owner is None and status.launched_at is None
        assert processes_naming(run_dir) == []  # waiting costs nothing: no process polls the folder
    assert len(processes_naming(first)) == 1
    assert queue_positions(root) == {second: 1, third: 2}
    stop_run(first)  # its training ends and starts the next in line itself
    assert wait_state(second, FINISHED, STOPPED).state == FINISHED
    status = wait_state(third, RUNNING)
    # A training that dies starts nobody: the app's refresh does (here its function, as the Train page calls it).
    os.kill(status.owner.pid, signal.SIGKILL)
    fourth = submit(root, "fourth", tiny(), FakeLauncher())  # queued by a launcher that starts nothing
    wait_for(lambda: state_of(third) not in ACTIVE, "the killed training is seen as gone")
    assert read_status(fourth).owner is None and processes_naming(fourth) == []
    assert start_queued(root, local) == [fourth]
    assert wait_state(fourth, FINISHED, STOPPED).state == FINISHED
    assert start_queued(root, local) == []


@pytest.mark.slow
def test_a_queued_run_without_a_process_is_cancelled_and_its_place_taken_by_the_next(root):
    local = LocalLauncher(max_running=1, threads=1, nice=0)
    first = submit(root, "first", endless(), local)
    cancelled = submit(root, "cancelled", tiny(), local)
    after = submit(root, "after", tiny(), local)
    wait_state(first, RUNNING)
    assert stop_run(cancelled) == STOPPED and processes_naming(cancelled) == []
    stop_run(first)
    assert wait_state(after, FINISHED, STOPPED).state == FINISHED
    assert read_status(cancelled).state == STOPPED and not (cancelled / "model.safetensors").exists()


# -- data sets counted before they are built ----------------------------------------------------------------
def test_the_128_px_shapes_of_an_uploaded_config_are_refused_before_a_byte_is_built(monkeypatch, tmp_path, capsys):
    built = []
    monkeypatch.setattr(shapes_module, "sample_factors", lambda *a: built.append(a))  # never reached
    kept = load_shapes.cache_nbytes()
    for seed in (0, 7):
        with pytest.raises(UserError, match=r"Building the shapes data set at 128x128 pixels would take about "
                                            r"3,266 MB of memory, more than the 2,048 MB this server allows "
                                            r"\(VAE_EXPLORER_MAX_DATA_MB\); choose a smaller image size\."):
            load_dataset("shapes", image_size=128, seed=seed)
    config = RunConfig(model={"image_shape": (1, 128, 128), "hidden": (16,), "latent_dim": 2},
                       train={"dataset": "shapes"})
    with pytest.raises(UserError, match="3,266 MB"):
        submit(tmp_path / "runs", "big", config, FakeLauncher())
    assert not (tmp_path / "runs" / "big").exists()
    assert main(["fit", "--dataset", "shapes", "--image-size", "128", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "cli")]) == 2
    assert "3,266 MB" in capsys.readouterr().err and not (tmp_path / "cli").exists()
    assert built == [] and load_shapes.cache_nbytes() == kept
    monkeypatch.setenv("VAE_EXPLORER_MAX_DATA_MB", "4096")  # the operator's choice
    with pytest.raises(TypeError):  # past the check, into the (stubbed) build
        load_dataset("shapes", image_size=128, seed=1)
    assert built == [(10_000, 1)]  # the factors of 10,000 shapes at seed 1: the build's first step


def test_every_bundled_data_set_fits_the_default_limit():
    for name in ("mnist5k", "digits", "mnist", "fashion-mnist", "kmnist", "cifar10"):
        assert build_bytes(name) <= 2048 * 1024**2, name
    assert build_bytes("shapes", 96) <= 2048 * 1024**2 < build_bytes("shapes", 128)
    assert build_bytes("folder:/anywhere") is None  # bounded by its own image count (training/data/folder.py)


def test_the_data_cache_keeps_what_fits_its_bytes(monkeypatch):
    load_shapes.cache_clear()
    one = 10_000 * 8 * 8 * 4 + 10_000 * 5 * 4  # images and factors of 8 px shapes
    monkeypatch.setenv("VAE_EXPLORER_DATA_CACHE_MB", "0")
    load_dataset("shapes", image_size=8, seed=1)
    assert load_shapes.cache_nbytes() == 0  # nothing kept
    monkeypatch.setenv("VAE_EXPLORER_DATA_CACHE_MB", "6")  # room for two 8 px sets, not three
    for seed in (1, 2, 3):
        load_dataset("shapes", image_size=8, seed=seed)
    assert load_shapes.cache_nbytes() == 2 * one
    first, again = load_dataset("shapes", image_size=8, seed=3), load_dataset("shapes", image_size=8, seed=3)
    assert first.x_train.data_ptr() != again.x_train.data_ptr()  # each caller its own copy
    monkeypatch.setenv("VAE_EXPLORER_DATA_CACHE_MB", "-1")
    with pytest.raises(UserError, match="VAE_EXPLORER_DATA_CACHE_MB must be a whole number of megabytes, at least 0"):
        load_dataset("shapes", image_size=8, seed=4)
    load_shapes.cache_clear()
