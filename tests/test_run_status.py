"""The run folder's own record of its training: status.json and steps.csv, read back as they were written."""

from __future__ import annotations

import json
import time

import pytest

from training.core.errors import UserError
from training.runs.status import RunStatus, read_status, write_status
from training.runs.step_log import MAX_ROWS, StepLogWriter, StepRow, merge, read_steps


def test_a_status_reads_back_equal(tmp_path):
    status = RunStatus(state="running", launcher="local", requested_by="v", queued_at=time.time(), epoch=3,
                       epochs=10, step=4, steps_per_epoch=32, global_step=68, start_step=32, train_seconds=2.0)
    write_status(tmp_path, status)
    assert read_status(tmp_path) == status
    assert status.eta == pytest.approx(2.0 / 36 * (320 - 68))
    assert read_status(tmp_path / "nowhere") is None


@pytest.mark.parametrize("content, sentence", [
    (b"\x00\xff not json", "not valid JSON"),
    (b"[1, 2]", "not a status file"),
    (json.dumps({"format": "vae-explorer/status", "state": "exploded"}).encode(), "unknown state"),
    (json.dumps({"format": "vae-explorer/status", "state": "interrupted"}).encode(), "unknown state"),
    (json.dumps({"format": "vae-explorer/status", "state": "running", "epoch": -1}).encode(), "epoch"),
    (json.dumps({"format": "vae-explorer/status", "state": "running", "owner": {"host": "h"}}).encode(), "malformed"),
    (json.dumps({"format": "vae-explorer/status", "state": "running", "heartbeat": "soon"}).encode(), "heartbeat"),
    (b" " * 70_000, "a status file is a few hundred"),
])
def test_a_damaged_status_is_one_sentence(tmp_path, content, sentence):
    (tmp_path / "status.json").write_bytes(content)
    with pytest.raises(UserError, match=sentence):
        read_status(tmp_path)


def test_the_step_log_stays_bounded_and_its_means_stay_exact(tmp_path):
    writer = StepLogWriter(tmp_path, max_rows=8, flush_every=0.0)
    for step in range(1, 101):
        writer.add(step, recon=float(step), kl=2.0 * step, beta=1.0)
    writer.flush()
    rows = read_steps(tmp_path)
    assert len(rows) < 8 and writer.stride == 16
    assert sum(r.n for r in rows) == rows[-1].step  # every step counted once, until the open bucket
    start = 0
    for r in rows:  # each row is the mean over its own n steps
        assert r.recon == pytest.approx(sum(range(start + 1, r.step + 1)) / r.n, rel=1e-5)
        assert r.kl == pytest.approx(2 * r.recon, rel=1e-5)
        start = r.step


def test_a_resumed_step_log_drops_the_steps_after_its_checkpoint(tmp_path):
    writer = StepLogWriter(tmp_path, flush_every=0.0)
    for step in range(1, 11):
        writer.add(step, 1.0, 1.0, 1.0)
    writer.flush()
    StepLogWriter(tmp_path, start_step=6)
    assert [r.step for r in read_steps(tmp_path)] == [1, 2, 3, 4, 5, 6]
    StepLogWriter(tmp_path, start_step=0)
    assert read_steps(tmp_path) == []


def test_a_reader_ignores_a_row_still_being_written_and_refuses_garbage(tmp_path):
    (tmp_path / "steps.csv").write_text("step,recon,kl,beta,n\n1,2.5,0.5,1,1\n2,2.4,0.")
    assert read_steps(tmp_path) == [StepRow(1, 2.5, 0.5, 1.0, 1)]
    (tmp_path / "steps.csv").write_text("step,recon,kl,beta,n\nnot,a,row\n")
    with pytest.raises(UserError, match="malformed row"):
        read_steps(tmp_path)
    assert MAX_ROWS * 60 < 4 * 1024**2  # the size limit leaves room for a full log


def test_merging_rows_weights_by_their_counts():
    assert merge(StepRow(2, 1.0, 2.0, 0.5, 2), StepRow(3, 4.0, 8.0, 1.0, 1)) == StepRow(3, 2.0, 4.0, 2.0 / 3, 3)


def test_an_epochs_last_step_is_on_disk_before_its_checkpoint(tmp_path):
    """The trainer writes the epoch's checkpoint right after its last step: a kill then must not leave the step
    log short of the checkpoint's step (a resume starts after it, so those steps would never be logged)."""
    from training.jobs.progress import Progress
    from training.runs.recorder import RunRecorder

    recorder = RunRecorder(tmp_path, RunStatus(state="running"))
    recorder.start_steps(0)
    try:
        for step in range(1, 5):  # within one status interval: only the epoch's end flushes
            recorder.progress(Progress(kind="step", epoch=1, epochs=2, step=step, steps_per_epoch=4,
                                       global_step=step, beta=1.0, recon=2.0, kl=0.5))
        assert [r.step for r in read_steps(tmp_path)] == [1, 2, 3, 4]
    finally:
        recorder.close(state="finished")
