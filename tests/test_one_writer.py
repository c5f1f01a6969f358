"""Files that are not what they claim to be, and one writer per run even when its lock file goes.

A run folder's files are read through one checked reader (training/core/files.py ``read_bounded``): a FIFO in
place of status.json, steps.csv, history.jsonl or config.json never blocks a listing, the queue, ``load_run``
or ``evaluate``, and a link to /dev/zero is one sentence, never an endless read. A training whose ``.lock`` is
removed (or whose whole folder is) stops with one sentence and writes nothing more; while its heartbeat is
fresh nobody else may take the run over. Every reader runs in a thread or a process awaited with the hang
guard (tests/waiting.py), so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.waiting import HANG_S, exited, until
from training.cli import main
from training.core.errors import UserError
from training.core.files import read_bounded
from training.models.catalogue import list_runs
from training.models.open import load_run
from training.runs.layout import CHECKPOINT, CONFIG, HISTORY, LOCK, STATUS, STEPS, read_history, read_run_config
from training.runs.queue import scan
from training.runs.status import (FINISHED, FRESH_S, INTERRUPTED, RUNNING, Owner, RunStatus, observed_state, read_status,
                                  write_status)
from training.runs.step_log import read_steps

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--quiet"]
FILES = [STATUS, STEPS, HISTORY, CONFIG]
READERS = {STATUS: read_status, STEPS: read_steps, HISTORY: read_history, CONFIG: read_run_config}


def returns(fn, *args):
    """What FN(*ARGS) returns or raises, run in a thread awaited with the hang guard: a read that blocks (a FIFO)
    fails the test instead of hanging it."""
    box: dict = {}

    def call():
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # noqa: BLE001 (handed to the test)
            box["error"] = err
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG_S)  # a hang guard, not a budget
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} still blocks after {HANG_S:.0f} s (a hang?)"
    return box


def one_sentence(err: BaseException | None) -> str:
    assert isinstance(err, UserError), repr(err)
    text = str(err)
    assert "\n" not in text and text.endswith("."), text
    return text


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real run folder (1 epoch of digits, finished): config, weights, history, checkpoint, status, steps."""
    out = tmp_path_factory.mktemp("writer") / "run"
    assert main(["fit", *TINY, "--batch-size", "256", "--epochs", "1", "--out", str(out)]) == 0
    assert {CONFIG, HISTORY, CHECKPOINT, STATUS, STEPS} <= {p.name for p in out.iterdir()}
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "runs" / "run"))


# -- defensive reads ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FILES)
def test_a_fifo_in_place_of_a_run_file_blocks_no_reader(run, name, capsys):
    (run / name).unlink()
    os.mkfifo(run / name)
    listed = returns(list_runs, run.parent)  # the Models page's listing: skips the run or lists it, never blocks
    assert "error" not in listed, listed
    queued = returns(scan, run.parent)  # the queue of the runs folder
    assert "error" not in queued, queued
    own = returns(READERS[name], run)
    assert "is not a regular file" in one_sentence(own.get("error"))
    if name in (CONFIG, HISTORY):  # the files that opening a model reads: one sentence ("not a regular file",
        phrase = (run / name).name  # or for a config that is no file, "has no config.json"), naming the file
        assert phrase in one_sentence(returns(load_run, run).get("error"))
        assert returns(main, ["evaluate", str(run), "--iw-samples", "2"]).get("value") == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and phrase in err, err


@pytest.mark.parametrize("name", FILES)
def test_a_link_to_dev_zero_as_a_run_file_is_one_sentence_never_an_endless_read(run, name):
    (run / name).unlink()
    (run / name).symlink_to("/dev/zero")
    assert "is a link" in one_sentence(returns(READERS[name], run).get("error"))
    assert "error" not in returns(list_runs, run.parent)
    # where links are followed (files the operator names), a device is still refused before any read
    followed = returns(read_bounded, run / name, 1024, "a test file", True)
    assert "is not a regular file" in one_sentence(followed.get("error"))


def test_a_folder_in_place_of_a_run_file_is_one_sentence(run):
    (run / HISTORY).unlink()
    (run / HISTORY).mkdir()
    assert "is not a regular file" in one_sentence(returns(load_run, run).get("error"))


# -- one writer: a fresh heartbeat is alive -------------------------------------------------------------------
@pytest.fixture
def live_process():
    """A process of this machine that lives until the test ends (it waits for its stdin to close)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield proc
    proc.stdin.close()
    exited(proc)


def _running(owner_pid: int, heartbeat: float) -> RunStatus:
    return RunStatus(state=RUNNING, owner=Owner(host=socket.gethostname(), pid=owner_pid), heartbeat=heartbeat,
                     queued_at=heartbeat, started_at=heartbeat, epochs=1)


def test_a_fresh_heartbeat_without_a_lock_file_is_alive_and_refuses_a_resume(run, live_process, capsys):
    """The original training writes on (its .lock was removed): the run is running to every reader, and
    neither `fit --resume` nor the app's Resume may start a second writer."""
    (run / LOCK).unlink()
    write_status(run, _running(live_process.pid, time.time()))
    assert observed_state(run, read_status(run)) == RUNNING
    assert [state for _, _, state in scan(run.parent)] == [RUNNING]
    assert returns(main, ["fit", "--resume", "--out", str(run), "--quiet"]).get("value") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"process {live_process.pid}" in err, err
    from training.jobs import control

    refused = returns(control.resume, run, None)
    assert "still training" in one_sentence(refused.get("error"))
    assert read_status(run).owner.pid == live_process.pid  # nothing taken over


def test_a_stale_heartbeat_or_a_dead_owner_is_interrupted(run, live_process):
    write_status(run, _running(live_process.pid, time.time() - FRESH_S - 1))
    assert observed_state(run, read_status(run)) == INTERRUPTED
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    exited(dead)
    write_status(run, _running(dead.pid, time.time()))  # killed a moment ago: no need to wait out its heartbeat
    assert observed_state(run, read_status(run)) == INTERRUPTED
    write_status(run, read_status(run).changed(state=FINISHED))
    assert observed_state(run, read_status(run)) == FINISHED


# -- one writer: the owner notices its lock is gone -----------------------------------------------------------
def _train(out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "training", "fit", *TINY, "--batch-size", "16", "--epochs", "400", "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _training(out: Path, proc: subprocess.Popen) -> RunStatus:
    """Until PROC owns OUT and has finished an epoch (so its checkpoints are being written)."""
    def training():
        assert proc.poll() is None, proc.stderr.read().decode()[-1000:]
        try:
            status = read_status(out)
        except UserError:
            return None
        return status if status is not None and status.owner is not None and status.owner.pid == proc.pid \
            and status.state == RUNNING and status.epoch >= 1 else None
    return until(training, f"process {proc.pid} trains {out}")


def _stops_with_the_sentence(proc: subprocess.Popen) -> str:
    try:
        assert exited(proc, "the training stops once its lock file is gone") == 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read().decode().strip()
    assert err.count("\n") == 0 and "was removed or replaced while it trained" in err, err
    return err


def test_a_training_whose_lock_file_is_removed_stops_and_writes_no_end(tmp_path):
    out = tmp_path / "run"
    proc = _train(out)
    _training(out, proc)
    (out / LOCK).unlink()
    _stops_with_the_sentence(proc)
    status = read_status(out)
    assert status.state == RUNNING and status.ended_at is None  # its end was not written
    assert observed_state(out, status) == INTERRUPTED  # its process is gone: Resume is offered now
    assert not (out / LOCK).exists()


def test_a_training_whose_folder_is_removed_does_not_remake_it(tmp_path):
    out = tmp_path / "run"
    proc = _train(out)
    _training(out, proc)
    until(lambda: shutil.rmtree(out, ignore_errors=True) or not out.exists(), f"{out} is removed")
    _stops_with_the_sentence(proc)
    assert not out.exists()


def test_a_fifo_in_place_of_a_training_log_is_refused_never_waited_on(tmp_path):
    """The launchers append a training's output to RUN/train.log: a FIFO there (no reader) or a link is one
    sentence at once; a regular file is appended to."""
    from training.core.files import open_appending

    os.mkfifo(tmp_path / "train.log")
    box = returns(open_appending, tmp_path / "train.log", "a training's log")
    assert isinstance(box.get("error"), UserError) and "not a regular file" in str(box["error"]), box
    (tmp_path / "link.log").symlink_to("/dev/null")
    with pytest.raises(UserError, match="not a regular file"):
        open_appending(tmp_path / "link.log", "a training's log")
    with open_appending(tmp_path / "ok.log", "a training's log") as log:
        log.write(b"one\n")
    with open_appending(tmp_path / "ok.log", "a training's log") as log:
        log.write(b"two\n")
    assert (tmp_path / "ok.log").read_bytes() == b"one\ntwo\n"
