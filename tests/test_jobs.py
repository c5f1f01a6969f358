"""The training-job manager: runs in the background, reports, queues, stops, cancels and fails cleanly."""

import time

import pytest

from explorer.jobs import DONE, FAILED, QUEUED, RUNNING, STOPPED, JobManager, max_trainings_from_env
from training.checkpoint import load_run
from training.config import RunConfig
from training.errors import UserError
from tests.conftest import stop_all, wait_for

MODEL = {"image_shape": (1, 8, 8), "hidden": (32,), "latent_dim": 2}


def tiny(**train) -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 2, **train})


def endless() -> RunConfig:
    """Runs far longer than any test waits; small batches so a step is short."""
    return tiny(epochs=100_000, batch_size=16)


@pytest.fixture
def manager():
    m = JobManager(max_running=1)
    yield m
    stop_all(m)



def test_a_tiny_training_completes_and_writes_a_loadable_run(manager, tmp_path):
    job_id = manager.start("s1", tiny(), tmp_path / "run")
    assert manager.get(job_id).status in (RUNNING, DONE)
    view = manager.wait(job_id, timeout=30)
    assert view.status == DONE, view.error
    assert (view.epoch, view.epochs) == (2, 2)
    assert view.fraction == 1.0 and view.eta is None and view.elapsed > 0
    assert [r["epoch"] for r in view.records] == [1, 2]
    assert {"train_recon", "test_recon", "train_kl", "test_kl", "beta"} <= set(view.records[-1])
    assert len(view.steps) == view.global_step == 2 * view.steps_per_epoch
    assert [s.step for s in view.steps] == list(range(1, view.global_step + 1))
    assert all(s.recon > 0 and s.kl >= 0 and s.beta == 1.0 for s in view.steps)
    run = load_run(tmp_path / "run")
    assert run.epoch == 2 and run.config == tiny()
    assert view.has_model


def test_stop_ends_a_running_job_within_a_second_and_keeps_a_loadable_checkpoint(manager, tmp_path):
    job_id = manager.start("s1", endless(), tmp_path / "run")
    assert wait_for(lambda: manager.get(job_id).epoch >= 2), "the training never got going"
    assert manager.get(job_id).eta > 0
    asked = time.monotonic()
    manager.stop(job_id)
    view = manager.wait(job_id, timeout=1.0)
    assert time.monotonic() - asked < 1.0
    assert view.status == STOPPED
    assert "checkpoint of epoch" in view.message
    run = load_run(tmp_path / "run")
    assert 1 <= run.epoch <= view.epoch


def test_jobs_beyond_the_limit_wait_in_line_then_run(manager, tmp_path):
    first = manager.start("s1", endless(), tmp_path / "first")
    second = manager.start("s1", tiny(epochs=1), tmp_path / "second")
    third = manager.start("s2", tiny(epochs=1), tmp_path / "third")
    assert manager.get(first).status == RUNNING
    assert (manager.get(second).status, manager.get(second).queue_position) == (QUEUED, 1)
    assert (manager.get(third).status, manager.get(third).queue_position) == (QUEUED, 2)
    assert manager.get(first).queue_position is None
    manager.stop(first)
    assert manager.wait(second, timeout=30).status == DONE
    assert manager.wait(third, timeout=30).status == DONE
    assert load_run(tmp_path / "third").epoch == 1


def test_a_queued_job_is_cancelled_without_writing_anything(manager, tmp_path):
    first = manager.start("s1", endless(), tmp_path / "first")
    queued = manager.start("s1", tiny(), tmp_path / "queued")
    later = manager.start("s1", tiny(), tmp_path / "later")
    manager.stop(queued)
    view = manager.get(queued)
    assert view.status == STOPPED and view.message == "Cancelled before it started."
    assert manager.get(later).queue_position == 1
    manager.stop(first)
    assert manager.wait(later, timeout=30).status == DONE
    assert not (tmp_path / "queued").exists()


def test_a_diverging_job_fails_with_the_trainers_sentence(manager, tmp_path):
    config = RunConfig(model={**MODEL, "likelihood": "gaussian", "sigma": 0.001},
                       train={"dataset": "digits", "epochs": 3, "lr": 10})
    view = manager.wait(manager.start("s1", config, tmp_path / "run"), timeout=30)
    assert view.status == FAILED
    assert view.error.startswith("Training diverged in epoch 1") and view.error.count(".") <= 3


def test_an_unknown_dataset_fails_with_one_sentence_and_writes_nothing(manager, tmp_path):
    view = manager.wait(manager.start("s1", tiny(dataset="no-such-set"), tmp_path / "run"), timeout=30)
    assert view.status == FAILED
    assert view.error.startswith("Unknown dataset 'no-such-set'")
    assert not (tmp_path / "run").exists()


def test_a_failed_job_frees_its_slot_for_the_next(manager, tmp_path):
    bad = manager.start("s1", tiny(dataset="no-such-set"), tmp_path / "bad")
    good = manager.start("s1", tiny(epochs=1), tmp_path / "good")
    assert manager.wait(bad, timeout=30).status == FAILED
    assert manager.wait(good, timeout=30).status == DONE


def test_run_folders_are_never_shared_or_overwritten(manager, tmp_path):
    manager.start("s1", endless(), tmp_path / "busy")
    with pytest.raises(UserError, match="already queued or running"):
        manager.start("s2", tiny(), tmp_path / "busy")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        manager.start("s1", tiny(), tmp_path / "old")
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["keep.txt"]


def test_each_session_sees_its_own_jobs_newest_first(manager, tmp_path):
    a1 = manager.start("a", endless(), tmp_path / "a1")
    b1 = manager.start("b", tiny(), tmp_path / "b1")
    a2 = manager.start("a", tiny(), tmp_path / "a2")
    assert [j.id for j in manager.jobs("a")] == [a2, a1]
    assert [j.id for j in manager.jobs("b")] == [b1]
    assert manager.jobs("nobody") == []


def test_step_records_and_finished_jobs_are_bounded(tmp_path):
    m = JobManager(max_running=1, max_finished=2, max_steps=5)
    done = m.wait(m.start("s", tiny(), tmp_path / "run"), timeout=30)
    assert done.global_step > 5 and len(done.steps) == 5
    assert done.steps[-1].step == done.global_step
    blocker = m.start("s", endless(), tmp_path / "blocker")
    cancelled = [m.start("s", tiny(), tmp_path / f"q{i}") for i in range(3)]
    for job_id in cancelled:
        m.stop(job_id)
    kept = {j.id for j in m.jobs()}
    assert kept == {blocker, *cancelled[1:]}  # the two newest finished jobs and the running one
    m.stop(blocker)
    m.wait(blocker, timeout=5)


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_MAX_TRAININGS", "3")
    assert max_trainings_from_env() == 3 and JobManager().max_running == 3
    monkeypatch.delenv("VAE_EXPLORER_MAX_TRAININGS")
    assert max_trainings_from_env() >= 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("VAE_EXPLORER_MAX_TRAININGS", bad)
        with pytest.raises(UserError, match="VAE_EXPLORER_MAX_TRAININGS must be a whole number"):
            max_trainings_from_env()


def test_one_session_cannot_fill_the_queue(tmp_path):
    m = JobManager(max_running=1, max_active_per_session=2)
    try:
        m.start("greedy", endless(), tmp_path / "a")
        m.start("greedy", endless(), tmp_path / "b")
        with pytest.raises(UserError, match="already has 2 trainings"):
            m.start("greedy", endless(), tmp_path / "c")
        assert not (tmp_path / "c").exists()
        other = m.start("someone-else", tiny(), tmp_path / "d")  # other sessions still get in line
        assert m.get(other).status == QUEUED
    finally:
        stop_all(m)
