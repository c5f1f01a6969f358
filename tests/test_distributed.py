"""fit under torchrun: two CPU processes with DistributedDataParallel (gloo); rank 0 writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.waiting import HANG_S
from training.models.open import load_run

pytestmark = pytest.mark.slow  # torchrun trainings of several processes

ROOT = Path(__file__).resolve().parent.parent
# A constant learning rate: a decaying schedule depends on the planned epochs, so a run extended by --resume
# --epochs could not equal one planned that long (tests/test_trainer.py checks resumes within a schedule).
FIT = ["-m", "training", "fit", "--dataset", "digits", "--hidden", "32", "--latent-dim", "2", "--batch-size", "32",
       "--device", "cpu", "--lr-schedule", "constant"]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=HANG_S, env=env)  # a hang guard
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_torchrun_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    proc = torchrun(*FIT, "--epochs", "2", "--out", str(out))
    assert "2 process(es)" in proc.stdout
    assert proc.stdout.count("epoch 2/2") == 1  # only rank 0 reports
    history = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["test_loss"] < history[0]["test_loss"] + 5
    run = load_run(out)
    assert all(torch.isfinite(p).all() for p in run.model.parameters())
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_a_resumed_distributed_run_equals_the_uninterrupted_one(tmp_path):
    torchrun(*FIT, "--epochs", "2", "--quiet", "--out", str(tmp_path / "full"))
    torchrun(*FIT, "--epochs", "1", "--quiet", "--out", str(tmp_path / "part"))
    torchrun("-m", "training", "fit", "--resume", "--epochs", "2", "--device", "cpu", "--quiet",
             "--out", str(tmp_path / "part"))
    full, part = load_run(tmp_path / "full").model.state_dict(), load_run(tmp_path / "part").model.state_dict()
    assert all(torch.equal(full[k], part[k]) for k in full)


def test_a_stop_request_stops_every_rank_together(tmp_path):
    """Rank 0 alone reads the stop request; the ranks agree after each step, so none waits forever."""
    from tests.conftest import wait_for
    from training.cli import main
    from training.runs.status import read_status

    out = tmp_path / "ddp-stop"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *FIT,
           "--epochs", "100000", "--quiet", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (out / "status.json").is_file() and read_status(out).epoch >= 2, "epoch 2 under torchrun")
        assert main(["stop", str(out), "--wait", str(int(HANG_S))]) == 0
        _, err = proc.communicate(timeout=HANG_S)  # a hang guard
        assert proc.returncode == 0, err[-3000:]
    finally:
        proc.kill()
    status = read_status(out)
    assert status.state == "stopped" and status.reason.startswith("Stopped; the checkpoint of epoch")
    assert load_run(out).epoch == status.epoch >= 2
