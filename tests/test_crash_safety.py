"""Killed at any moment, a run folder still holds a complete, loadable checkpoint that resumes."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.cli import main
from training.core.errors import UserError
from training.models.open import load_run
from training.runs.layout import CHECKPOINT
from training.runs.status import read_status
from tests.waiting import until

pytestmark = pytest.mark.slow  # kills and resumes trainings in processes of their own

ROOT = Path(__file__).resolve().parent.parent
FIT = ["fit", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--batch-size", "16", "--quiet"]


def _start(out: Path, *extra: str, args: list[str] = FIT) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "training", *args, "--out", str(out), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _resume(out: Path, epochs: str) -> subprocess.Popen:
    """`fit --resume`: the run's own settings, only the planned epochs given (other settings are refused)."""
    return _start(out, "--epochs", epochs, args=["fit", "--resume", "--quiet"])


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    def there() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-1000:]
        return path.exists()
    until(there, f"{path} appears")


def _training(out: Path, proc: subprocess.Popen) -> None:
    """Until PROC owns the run and trains (so that a kill meets training, not Python starting up)."""
    def training() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-1000:]
        try:
            status = read_status(out)
        except UserError:  # replaced at this instant: read again
            return False
        return status is not None and status.state == "running" and status.owner is not None \
            and status.owner.pid == proc.pid and status.steps_per_epoch > 0
    until(training, f"process {proc.pid} trains {out}")


def _global_step(out: Path, proc: subprocess.Popen) -> int:
    assert proc.poll() is None, proc.stderr.read().decode()[-1000:]
    try:
        status = read_status(out)
    except UserError:  # replaced at this instant: read again
        return -1
    return status.global_step if status is not None else -1


def test_sigkill_at_random_moments_never_leaves_a_broken_run(tmp_path):
    """Killed at a random step of its training (counted in steps, so the moments are the same on any machine),
    four times over; the last kill comes after an epoch's end, so that the run has moved on."""
    rng = random.Random(1234)
    out = tmp_path / "run"
    proc = _start(out, "--epochs", "400")
    _wait_for(out / CHECKPOINT, proc)
    epochs_seen = []
    for attempt in range(4):
        _training(out, proc)
        status = read_status(out)
        per_epoch, start = status.steps_per_epoch, status.global_step
        last = attempt == 3
        target = start + rng.randint(per_epoch + 1 if last else 1, 2 * per_epoch)
        until(lambda: _global_step(out, proc) >= target, f"step {target} of {out}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run = load_run(out)  # must load, whatever moment the kill hit
        history = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
        assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
        epochs_seen.append(run.epoch)
        proc = _resume(out, "400")
    _training(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert epochs_seen == sorted(epochs_seen) and epochs_seen[-1] > 0, epochs_seen


@pytest.mark.parametrize("schedule", ["constant", "wsd"])
def test_resumed_after_kill_matches_an_uninterrupted_run(tmp_path, schedule):
    # A constant rate: killed in a 400-epoch run, resumed to 2 epochs more, equal to a run of that many epochs.
    # A scheduled rate decays towards the planned last epoch, so its run is resumed with the epochs it planned.
    planned = "400" if schedule == "constant" else "6"
    out = tmp_path / "killed"
    proc = _start(out, "--epochs", planned, "--lr-schedule", schedule)
    _wait_for(out / "history.jsonl", proc)
    until(lambda: (out / "history.jsonl").read_text().count("\n") >= 2, "two epochs recorded")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = load_run(out).epoch
    target = done + 2 if schedule == "constant" else int(planned)
    assert main([*FIT[:1], "--resume", "--out", str(out), "--epochs", str(target), "--quiet"]) == 0
    reference = tmp_path / "reference"
    assert main([*FIT, "--out", str(reference), "--epochs", str(target), "--lr-schedule", schedule]) == 0
    volatile = {"seconds", "samples_per_second"}
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k not in volatile}  # noqa: E731
                       for l in (p / "history.jsonl").read_text().splitlines()]
    assert strip(out) == strip(reference)
    resumed, uninterrupted = load_run(out).model.state_dict(), load_run(reference).model.state_dict()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_no_temporary_files_are_left_after_a_clean_run(tmp_path):
    out = tmp_path / "clean"
    assert main([*FIT, "--out", str(out), "--epochs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "model.safetensors", "history.jsonl", "checkpoint.safetensors", "status.json", "steps.csv",
         ".lock", "snapshots"])
    assert [p.name for p in (out / "snapshots").iterdir()] == ["epoch-0001.safetensors"]
