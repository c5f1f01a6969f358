"""A run's Elapsed time counts every session it trained (Stop, then Resume), and a device asked for in the app's
form reaches its trainer. The clock is the status file's own times, so the tests set them instead of waiting."""

from __future__ import annotations

from pathlib import Path

from tests.test_trainings import FakeLauncher  # records launches, starts nothing
from training.core.config import RunConfig
from training.jobs.control import resume, submit
from training.runs.status import FINISHED, QUEUED, STOPPED, RunStatus, read_status, write_status

MODEL = {"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2}


def tiny(**train) -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 1, "batch_size": 256, **train})


def test_trained_seconds_add_the_earlier_sessions_to_this_one():
    assert RunStatus(state=QUEUED).trained_seconds(50.0) is None  # never started
    assert RunStatus(state=QUEUED, earlier_seconds=10.0).trained_seconds(50.0) == 10.0  # resumed, waiting
    running = RunStatus(state="running", started_at=100.0, earlier_seconds=10.0)
    assert running.trained_seconds(104.0) == 14.0  # not 4: the 10 s before Stop count too
    assert running.changed(state=STOPPED, ended_at=103.0).trained_seconds(999.0) == 13.0  # its end, not now


def test_resume_carries_the_time_trained_before_stop(tmp_path):
    launcher = FakeLauncher()
    run_dir = submit(tmp_path, "stopped-once", tiny(), launcher)
    write_status(run_dir, read_status(run_dir).changed(state=STOPPED, started_at=1000.0, ended_at=1010.0,
                                                       heartbeat=1010.0))
    resume(run_dir, launcher)
    queued = read_status(run_dir)
    assert queued.state == QUEUED and queued.started_at is None
    assert queued.earlier_seconds == 10.0 and queued.trained_seconds(2000.0) == 10.0
    # stopped and resumed again: 10 s + 5 s
    write_status(run_dir, queued.changed(state=STOPPED, started_at=3000.0, ended_at=3005.0, heartbeat=3005.0))
    resume(run_dir, launcher)
    assert read_status(run_dir).earlier_seconds == 15.0


def test_an_interrupted_session_counts_up_to_its_last_heartbeat(tmp_path):
    launcher = FakeLauncher()
    run_dir = submit(tmp_path, "killed-once", tiny(), launcher)
    # recorded as running, nobody holds its lock, heartbeat long ago: interrupted
    write_status(run_dir, read_status(run_dir).changed(state="running", started_at=1000.0, heartbeat=1007.0))
    resume(run_dir, launcher)
    assert read_status(run_dir).earlier_seconds == 7.0


def test_the_resumed_training_keeps_counting_and_trains_on_the_device_asked_for(tmp_path, monkeypatch):
    """The worker's door (what ``python -m training fit --resume --queued-at`` runs), in this process."""
    import training.jobs.trainer as trainer_module
    from training.jobs.fit import fit_queued

    asked = []
    real_pick = trainer_module.pick_device
    monkeypatch.setattr(trainer_module, "pick_device", lambda name="auto": asked.append(name) or real_pick("cpu"))
    run_dir = submit(tmp_path, "on-cpu", tiny(), FakeLauncher(), device="cpu")
    queued = read_status(run_dir)
    assert queued.device == "cpu"
    write_status(run_dir, queued.changed(earlier_seconds=10.0))  # as Resume leaves a run that trained 10 s
    fit_queued(run_dir, queued.queued_at, threads=1)  # the launcher's default device: auto
    done = read_status(run_dir)
    assert done.state == FINISHED and asked == ["cpu"]
    assert done.earlier_seconds == 10.0
    assert done.trained_seconds() == 10.0 + (done.ended_at - done.started_at) > 10.0
