"""Defensive reads (a FIFO or a link to /dev/zero in a run file's place) and one writer per run for real
(a lock file removed under a training that still writes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from training.cli import main
from training.core.errors import UserError
from training.core.files import read_bounded
from training.models.catalogue import list_runs
from training.models.open import load_run
from training.runs.layout import CONFIG, HISTORY, LOCK, STATUS, STEPS, WEIGHTS, read_history
from training.runs.queue import scan
from training.runs.status import RUNNING, Owner, RunStatus, observed_state, read_status, write_status
from training.runs.step_log import read_steps
from tests.test_crash_safety import FIT, _start, _training
from tests.waiting import HANG_S, exited, until

pytestmark = pytest.mark.slow  # trains in processes of their own


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("writer") / "run"
    assert main([*FIT, "--epochs", "1", "--out", str(out)]) == 0
    return out


def fresh_copy(trained: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "run"
    shutil.copytree(trained, run)
    return run


def returns(call, what: str):
    """CALL's result or exception, waited for in a thread: a read that blocks fails here instead of hanging."""
    box: dict = {}

    def target():
        try:
            box["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box["error"] = err
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), f"{what} blocked"
    return box


READERS = {
    STATUS: lambda run: read_status(run),
    STEPS: lambda run: read_steps(run),
    HISTORY: lambda run: read_history(run),
    CONFIG: lambda run: load_run(run),
    WEIGHTS: lambda run: load_run(run),
}


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero"])
@pytest.mark.parametrize("name", list(READERS))
def test_a_run_file_that_is_a_fifo_or_a_device_link_is_one_sentence_never_a_wait(trained, tmp_path, name, kind):
    run = fresh_copy(trained, tmp_path)
    (run / name).unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(run / name)
    else:
        (run / name).symlink_to("/dev/zero")
    box = returns(lambda: READERS[name](run), f"reading {name} as a {kind}")
    assert isinstance(box.get("error"), UserError), box
    message = str(box["error"])
    assert "\n" not in message
    assert any(words in message for words in ("not a plain file", "is a link", f"has no {name}")), message
    # the listing and the queue never block on it either: the run is listed as damaged or left out
    listed = returns(lambda: list_runs(run.parent), "listing the runs folder")
    assert "error" not in listed, listed
    queue = returns(lambda: scan(run.parent), "the queue's scan")
    assert "error" not in queue, queue


def test_the_one_reader_refuses_what_is_not_a_plain_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    (tmp_path / "ok").write_bytes(b"12345")
    assert read_bounded(tmp_path / "ok", 5, "a test file") == b"12345"
    for name in ("pipe", "dir"):
        with pytest.raises(UserError, match="not a plain file"):
            read_bounded(tmp_path / name, 10, "a test file")
    with pytest.raises(UserError, match="at most 4"):
        read_bounded(tmp_path / "ok", 4, "a test file")
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "missing", 4, "a test file")


def _long_training(out: Path) -> subprocess.Popen:
    proc = _start(out, "--epochs", "500")
    _training(out, proc)
    return proc


@pytest.mark.parametrize("how", ["rm-lock", "rm-rf-run"])
def test_a_training_whose_lock_file_goes_stops_writing_with_one_sentence(tmp_path, how):
    out = tmp_path / "runs" / "run"
    proc = _long_training(out)
    if how == "rm-lock":
        (out / LOCK).unlink()
    else:  # the training may write a file into it meanwhile: removed again until it is gone
        until(lambda: shutil.rmtree(out, ignore_errors=True) or not out.exists(), "the run folder is removed")
    code = exited(proc, "the training notices its lock is gone")
    err = proc.stderr.read().decode().strip()
    assert code == 2 and "lock file" in err and len(err.splitlines()) == 1, (code, err)
    if how == "rm-rf-run":
        assert not out.exists(), "the removed run folder was made again"


def test_resume_is_refused_while_a_writer_without_its_lock_file_still_beats(tmp_path, trained):
    """The heartbeat says alive though the lock is free: Resume (observed state) and --resume refuse."""
    run = fresh_copy(trained, tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        write_status(run, RunStatus(state=RUNNING, launcher="cli", queued_at=time.time(), started_at=time.time(),
                                    heartbeat=time.time(), owner=Owner(host=os.uname().nodename, pid=writer.pid),
                                    epochs=3))
        (run / LOCK).unlink(missing_ok=True)
        assert observed_state(run, read_status(run)) == RUNNING  # not "interrupted": no Resume offered
        assert main(["fit", "--resume", "--epochs", "3", "--quiet", "--out", str(run)]) == 2
    finally:
        writer.stdin.close()
        writer.wait(timeout=HANG_S)
    until(lambda: observed_state(run, read_status(run)) == "interrupted", "its writer gone, the run is interrupted")
    assert main(["fit", "--resume", "--epochs", "2", "--quiet", "--out", str(run)]) == 0
