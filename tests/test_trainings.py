"""Trainings as processes: submit, queue, stop, fail, interrupt, resume and delete, all read back from
the run folder (status.json, steps.csv, history.jsonl) and never from the process that started them."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from training.cli import main
from training.core.config import RunConfig
from training.core.environment import max_trainings_from_env
from training.core.errors import UserError
from training.jobs.control import adopt_queued, delete_run, resume, stop_run, submit
from training.jobs.launcher import LocalLauncher
from training.models.open import load_run
from training.runs.lock import RunLock, owner_alive
from training.runs.queue import queue_positions
from training.runs.status import (CANCELLED, FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, STOPPED, Owner,
                                  RunStatus, read_status, write_status)
from explorer import DEMOS as BUNDLED_DEMOS
from training.models.catalogue import list_runs
from training.runs.step_log import read_steps
from tests.conftest import state_of, wait_for, wait_state
from tests.waiting import HANG_S, exited

pytestmark = pytest.mark.slow  # trainings in processes of their own, queues, kills

MODEL = {"image_shape": (1, 8, 8), "hidden": (32,), "latent_dim": 2}


def tiny(**train) -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 2, **train})


def endless() -> RunConfig:
    return tiny(epochs=100_000, batch_size=16)


class FakeLauncher:
    """Records launches and starts nothing: the runs stay queued, unclaimed."""

    kind, max_running = "local", 1

    def __init__(self):
        self.launched: list[tuple[Path, float]] = []

    def launch(self, run_dir: Path, queued_at: float) -> None:
        self.launched.append((run_dir, queued_at))


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    yield root
    for run_dir in root.iterdir() if root.is_dir() else []:  # never leave a training behind
        status = read_status(run_dir) if (run_dir / "status.json").is_file() else None
        if status is not None and status.owner is not None and owner_alive(run_dir):
            os.kill(status.owner.pid, signal.SIGKILL)


@pytest.fixture
def local():
    return LocalLauncher(max_running=1, threads=1, nice=0)


# -- the whole life, in real processes ----------------------------------------------------------------
def test_a_submitted_training_runs_in_its_own_process_and_records_everything(root, local):
    run_dir = submit(root, "tiny", tiny(), local, requested_by="visitor-a")
    assert state_of(run_dir) in (QUEUED, RUNNING)  # visible at once, before its process has started
    status = wait_state(run_dir, FINISHED, FAILED)
    assert status.state == FINISHED, status.reason
    assert status.owner.pid != os.getpid() and status.launcher == "local" and status.requested_by == "visitor-a"
    assert (status.epoch, status.epochs, status.global_step) == (2, 2, 2 * status.steps_per_epoch)
    assert status.fraction == 1.0 and status.started_at <= status.ended_at
    steps = read_steps(run_dir)
    assert [r.step for r in steps] == list(range(1, status.global_step + 1))
    assert all(r.recon > 0 and r.kl >= 0 and r.beta == 1.0 and r.n == 1 for r in steps)
    assert load_run(run_dir).epoch == 2 and load_run(run_dir).config == tiny()
    assert not owner_alive(run_dir) and not (run_dir / "stop").exists()
    (summary,) = list_runs(root)
    assert summary.state == FINISHED and summary.ready


def test_a_training_runs_below_the_servers_priority_even_under_autogroup_scheduling(root):
    run_dir = submit(root, "niced", endless(), LocalLauncher(max_running=1, threads=1, nice=10))
    # The process lowers its priority before it claims the run: its pid in the status is enough (a niced
    # process beside busy test workers would take minutes to import torch and train a step; nothing here needs it).
    pid = wait_for(lambda: (read_status(run_dir).owner or None) and read_status(run_dir).owner.pid,
                   "the niced training claims its run")
    stat = Path(f"/proc/{pid}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[16]) == 10  # field 19 of proc(5): the nice value
    assert os.getsid(pid) == pid  # a session of its own: a killed server leaves it running
    group = Path(f"/proc/{pid}/autogroup")
    if group.exists():  # autogroup scheduling: nice works only within a session, so the group is niced too
        assert group.read_text().split()[-1] == "10"
        assert Path("/proc/self/autogroup").read_text() != group.read_text()  # the caller's group untouched
    os.kill(pid, signal.SIGKILL)  # stopping is tested below, at the tests' own priority


def test_stop_ends_a_running_training_after_its_current_step_and_keeps_its_checkpoint(root, local):
    run_dir = submit(root, "long", endless(), local)
    wait_for(lambda: (read_status(run_dir).epoch or 0) >= 2 and state_of(run_dir) == RUNNING, "epoch 2 running")
    assert read_status(run_dir).eta > 0
    asked_in = read_status(run_dir).epoch
    assert stop_run(run_dir) == RUNNING  # asked; the training itself records the end
    status = wait_state(run_dir, STOPPED, FAILED, FINISHED)
    assert status.state == STOPPED
    # The status names the epoch in progress; a stopped run names the last one it finished and saved. It
    # stopped within the epoch it was in when asked (keeping the one before), or at that epoch's end if the
    # request met it there, never later: the request is read between steps, whatever the machine's speed. The
    # status read above may lag the process by its write interval (PROGRESS_EVERY_S), in which a short epoch of
    # this tiny training can end: one epoch more is the same promptness (seen on a busy machine).
    assert asked_in - 1 <= status.epoch <= asked_in + 1
    assert status.reason.startswith("Stopped; the checkpoint of epoch") and not (run_dir / "stop").exists()
    assert 1 <= load_run(run_dir).epoch <= status.epoch
    summary = next(r for r in list_runs(root))
    assert summary.ready and summary.resumable


def test_the_queue_is_first_come_first_served_and_cancelling_keeps_the_order(root, local):
    first = submit(root, "first", endless(), local)
    wait_state(first, RUNNING)
    second = submit(root, "second", tiny(epochs=1), local)
    cancelled = submit(root, "cancelled", tiny(epochs=1), local)
    third = submit(root, "third", tiny(epochs=1), local)
    assert all(read_status(r).owner is None for r in (second, cancelled, third))  # waiting, without a process
    assert queue_positions(root) == {second: 1, cancelled: 2, third: 3}
    stop_run(cancelled)
    assert wait_state(cancelled, STOPPED, FAILED, FINISHED).state == STOPPED
    assert read_status(cancelled).reason == CANCELLED
    assert queue_positions(root) == {second: 1, third: 2}
    stop_run(first)
    for run_dir in (second, third):
        assert wait_state(run_dir, FINISHED, FAILED).state == FINISHED
    assert read_status(second).started_at < read_status(third).started_at
    assert not (cancelled / "model.safetensors").exists()  # it never trained


def test_a_diverging_training_fails_with_the_trainers_sentence(root, local):
    config = RunConfig(model={**MODEL, "likelihood": "gaussian", "sigma": 0.001},
                       train={"dataset": "digits", "epochs": 3, "lr": 10, "lr_schedule": "constant"})  # no warm-up
    status = wait_state(submit(root, "diverge", config, local), FAILED, FINISHED)
    assert status.state == FAILED
    assert status.reason.startswith("Training diverged in epoch 1") and status.reason.count(".") <= 3
    assert "smaller learning rate" in status.reason  # the form's words, not only the flag
    (summary,) = list_runs(root)
    assert summary.state == FAILED and not summary.ready and not summary.resumable


def test_an_unknown_dataset_fails_with_one_sentence(root, local):
    status = wait_state(submit(root, "nodata", tiny(dataset="no-such-set"), local), FAILED, FINISHED)
    assert status.state == FAILED and status.reason.startswith("Unknown dataset 'no-such-set'")


def test_a_killed_training_is_interrupted_and_resume_finishes_it_exactly_once(root, local):
    run_dir = submit(root, "killed", tiny(epochs=25, batch_size=16), local)
    wait_for(lambda: (read_status(run_dir).epoch or 0) >= 3 and state_of(run_dir) == RUNNING, "epoch 3 running")
    os.kill(read_status(run_dir).owner.pid, signal.SIGKILL)
    wait_for(lambda: state_of(run_dir) == INTERRUPTED, "seen as interrupted")
    summary = next(r for r in list_runs(root))
    assert not summary.ready and summary.resumable
    resume(run_dir, local, requested_by="visitor-b")
    status = wait_state(run_dir, FINISHED, FAILED)
    assert status.state == FINISHED and status.requested_by == "visitor-b" and status.start_step > 0
    history = [json.loads(line)["epoch"] for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert history == list(range(1, 26))
    assert [r.step for r in read_steps(run_dir)] == list(range(1, status.global_step + 1))


# -- one writer per run -----------------------------------------------------------------------------
def test_the_command_line_refuses_a_run_that_a_live_process_owns(tmp_path, capsys):
    run_dir = tmp_path / "owned"
    assert main(["fit", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--epochs", "1", "--quiet",
                 "--out", str(run_dir)]) == 0
    before = {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with RunLock(run_dir):  # another live writer
        assert main(["fit", "--resume", "--epochs", "2", "--quiet", "--out", str(run_dir)]) == 2
        assert "is being written" in capsys.readouterr().err
        with pytest.raises(UserError, match="still training"):
            resume(run_dir, FakeLauncher())
        with pytest.raises(UserError, match="stop it before deleting"):
            delete_run(run_dir)
    assert {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_a_new_run_cannot_take_a_folder_with_anything_in_it(tmp_path, capsys):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    assert main(["fit", "--dataset", "digits", "--epochs", "1", "--quiet", "--out", str(tmp_path / "old")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["keep.txt"]


def test_submit_refuses_taken_names_names_outside_and_a_visitor_over_the_limit(root):
    fake = FakeLauncher()
    (root / "old").mkdir(parents=True)
    (root / "old" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        submit(root, "old", tiny(), fake)
    with pytest.raises(UserError, match="not a valid run name"):
        submit(root, "../evil", tiny(), fake)
    submit(root, "a", endless(), fake, requested_by="greedy", max_per_visitor=2)
    submit(root, "b", endless(), fake, requested_by="greedy", max_per_visitor=2)
    with pytest.raises(UserError, match="already have 2 trainings"):
        submit(root, "c", endless(), fake, requested_by="greedy", max_per_visitor=2)
    submit(root, "d", tiny(), fake, requested_by="someone-else", max_per_visitor=2)
    assert not (root / "c").exists() and [p.name for p, _ in fake.launched] == ["a", "b", "d"]
    assert [p.name for p in (root / "old").iterdir()] == ["keep.txt"]
    assert queue_positions(root) == {root / "a": 1, root / "b": 2, root / "d": 3}


def test_a_symlinked_name_leading_outside_is_refused(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UserError, match="outside"):
        submit(root, "evil", tiny(), FakeLauncher())
    assert list(outside.iterdir()) == []


# -- queued runs without a process ---------------------------------------------------------------------
def test_an_unclaimed_queued_run_is_cancelled_by_the_app_itself(root):
    run_dir = submit(root, "waiting", tiny(), FakeLauncher())
    assert state_of(run_dir) == QUEUED and read_status(run_dir).owner is None
    assert stop_run(run_dir) == STOPPED
    assert read_status(run_dir).reason == CANCELLED


def test_a_queued_run_whose_process_never_came_is_interrupted_and_relaunched_by_a_new_server(root):
    fake = FakeLauncher()
    run_dir = submit(root, "orphan", tiny(), fake)
    status = read_status(run_dir)
    write_status(run_dir, status.changed(queued_at=status.queued_at - 3600))  # queued long ago, still waiting
    assert state_of(run_dir) == QUEUED  # for a slot, without a process: it waits as long as it takes
    write_status(run_dir, status.changed(queued_at=status.queued_at - 3600, launched_at=status.queued_at - 3500))
    assert state_of(run_dir) == INTERRUPTED  # its process was started long ago and never claimed it
    later = FakeLauncher()
    assert adopt_queued(root, later) == 1
    assert later.launched == [(run_dir, status.queued_at - 3600)]  # keeps its place in the queue
    assert read_status(run_dir).launched_at is None and state_of(run_dir) == QUEUED  # waits for a slot again
    ray_queued = status.changed(launcher="ray", queued_at=0.0)
    write_status(run_dir, ray_queued)
    assert state_of(run_dir) == QUEUED  # Ray starts it when the cluster has room: not interrupted


def test_a_recorded_running_run_without_a_live_owner_is_interrupted(tmp_path):
    run_dir = tmp_path / "ghost"
    run_dir.mkdir()
    write_status(run_dir, RunStatus(state=RUNNING, owner=Owner("elsewhere", 999_999), queued_at=time.time()))
    assert state_of(run_dir) == INTERRUPTED
    with RunLock(run_dir):
        assert state_of(run_dir) == RUNNING


# -- delete ------------------------------------------------------------------------------------------
def test_delete_removes_a_run_at_once_and_never_a_demo(root):
    run_dir = submit(root, "doomed", tiny(), FakeLauncher())
    stop_run(run_dir)
    delete_run(run_dir)
    assert not run_dir.exists()
    assert [p.name for p in root.iterdir()] == [".queue.lock"]  # the folder's queue's lock; no trash left behind
    demo = next(p for p in BUNDLED_DEMOS.iterdir() if p.is_dir())
    with pytest.raises(UserError, match="bundled demo"):
        delete_run(demo, bundled=BUNDLED_DEMOS)
    assert demo.is_dir()


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAX_TRAININGS", "3")
    assert max_trainings_from_env() == 3 and LocalLauncher().max_running == 3
    assert LocalLauncher(max_running=2, threads=None).threads == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.delenv("VAE_EXPLORER_MAX_TRAININGS")
    assert max_trainings_from_env() >= 1
    for bad in ("0", "two", "-1", "²"):  # a superscript is a digit to str.isdigit(), not to int()
        monkeypatch.setenv("VAE_EXPLORER_MAX_TRAININGS", bad)
        with pytest.raises(UserError, match="VAE_EXPLORER_MAX_TRAININGS must be a whole number"):
            max_trainings_from_env()
    monkeypatch.delenv("VAE_EXPLORER_MAX_TRAININGS")
    monkeypatch.setenv("VAE_EXPLORER_TRAINING_NICE", "19")
    assert LocalLauncher().nice == 19 and LocalLauncher(nice=5).nice == 5
    monkeypatch.delenv("VAE_EXPLORER_TRAINING_NICE")
    assert LocalLauncher().nice == 10
    for bad in ("20", "-3", "low", "³"):
        monkeypatch.setenv("VAE_EXPLORER_TRAINING_NICE", bad)
        with pytest.raises(UserError, match="VAE_EXPLORER_TRAINING_NICE must be a whole number from 0 to 19"):
            LocalLauncher()


def test_the_stop_command_stops_a_cli_training_and_refuses_a_folder_without_one(tmp_path, capsys):
    import subprocess
    import sys

    run_dir = tmp_path / "cli"
    proc = subprocess.Popen([sys.executable, "-m", "training", "fit", "--dataset", "digits", "--hidden", "16",
                             "--latent-dim", "2", "--batch-size", "16", "--epochs", "100000", "--quiet",
                             "--out", str(run_dir)], cwd=Path(__file__).resolve().parent.parent)
    try:
        wait_for(lambda: (run_dir / "status.json").is_file() and state_of(run_dir) == RUNNING
                 and read_status(run_dir).epoch >= 1, "the CLI training in epoch 1")
        assert read_status(run_dir).launcher == "cli" and read_status(run_dir).owner.pid == proc.pid
        assert main(["stop", str(run_dir), "--wait", str(int(HANG_S))]) == 0  # returns once stopped
        assert capsys.readouterr().out.strip() == f"{run_dir}: stopped"
        assert exited(proc) == 0
    finally:
        proc.kill()
    assert main(["stop", str(tmp_path)]) == 2
    assert "has no training to stop" in capsys.readouterr().err
