"""Trainings queued by a browser session that has ended are cancelled; running ones keep running."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer import jobs as jobs_module
from explorer.jobs import QUEUED, RUNNING, STOPPED, JobManager, shared_manager, streamlit_session_alive
from training.config import RunConfig
from tests.conftest import stop_all, wait_for

MODEL = {"image_shape": (1, 8, 8), "hidden": (32,), "latent_dim": 2}


def endless() -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 100_000, "batch_size": 16})



@pytest.fixture
def alive():
    return {"a", "b", "c", "d"}


@pytest.fixture
def manager(alive):
    m = JobManager(max_running=1, session_alive=lambda s: s in alive)
    yield m
    stop_all(m)


def test_queued_jobs_of_an_ended_session_are_cancelled_and_running_ones_kept(manager, alive, tmp_path):
    running = manager.start("a", endless(), tmp_path / "a")
    queued_b = manager.start("b", endless(), tmp_path / "b")
    queued_c = manager.start("c", endless(), tmp_path / "c")
    assert wait_for(lambda: manager.get(running).status == RUNNING)
    alive -= {"a", "b"}  # both browser tabs closed
    assert manager.cancel_ended_sessions() == 1
    b = manager.get(queued_b)
    assert b.status == STOPPED and "session" in b.message and b.message.endswith(".")
    assert not (tmp_path / "b").exists()
    assert manager.get(running).status == RUNNING  # a running training is never killed for it
    assert manager.get(queued_c).status == QUEUED and manager.get(queued_c).queue_position == 1
    assert manager.cancel_ended_sessions() == 0


def test_a_new_submission_sweeps_ended_sessions(manager, alive, tmp_path):
    manager.start("a", endless(), tmp_path / "a")
    stale = manager.start("b", endless(), tmp_path / "b")
    alive.discard("b")
    fresh = manager.start("c", endless(), tmp_path / "c")
    assert manager.get(stale).status == STOPPED
    assert manager.get(fresh).queue_position == 1


def test_a_freed_slot_skips_jobs_of_ended_sessions(alive, tmp_path):
    manager = JobManager(max_running=1, session_alive=lambda s: s in alive)
    try:
        first = manager.start("a", endless(), tmp_path / "a")
        stale = manager.start("b", endless(), tmp_path / "b")
        nxt = manager.start("c", endless(), tmp_path / "c")
        assert wait_for(lambda: manager.get(first).status == RUNNING)
        alive.discard("b")
        manager.stop(first)
        assert manager.wait(first, timeout=10).status == STOPPED
        assert wait_for(lambda: manager.get(nxt).status == RUNNING)
        assert manager.get(stale).status == STOPPED and not (tmp_path / "b").exists()
    finally:
        stop_all(manager)


def test_listing_jobs_also_sweeps(manager, alive, tmp_path):
    manager.start("a", endless(), tmp_path / "a")
    stale = manager.start("b", endless(), tmp_path / "b")
    alive.discard("b")
    statuses = {j.id: j.status for j in manager.jobs()}
    assert statuses[stale] == STOPPED


def test_cancel_session_cancels_only_that_sessions_queued_jobs(manager, tmp_path):
    running = manager.start("a", endless(), tmp_path / "a1")
    mine = manager.start("a", endless(), tmp_path / "a2")
    other = manager.start("b", endless(), tmp_path / "b")
    assert manager.cancel_session("a") == 1
    assert manager.get(mine).status == STOPPED
    assert manager.get(running).status == RUNNING
    assert manager.get(other).status == QUEUED
    assert manager.cancel_session("nobody") == 0


def test_without_a_session_check_nothing_is_cancelled(tmp_path):
    manager = JobManager(max_running=1)
    try:
        manager.start("a", endless(), tmp_path / "a")
        queued = manager.start("gone", endless(), tmp_path / "b")
        assert manager.cancel_ended_sessions() == 0
        assert manager.get(queued).status == QUEUED
    finally:
        stop_all(manager)


# -- asking the Streamlit server ---------------------------------------------------------------
def test_outside_a_streamlit_server_every_session_is_alive():
    from streamlit.runtime import Runtime

    assert not Runtime.exists()
    assert streamlit_session_alive("local") and streamlit_session_alive("anything")


def test_inside_a_server_unknown_sessions_have_ended(monkeypatch):
    from streamlit.runtime import Runtime

    known = {"connected", "disconnected-but-resumable"}
    fake = SimpleNamespace(_session_mgr=SimpleNamespace(get_session_info=lambda s: object() if s in known else None))
    monkeypatch.setattr(Runtime, "_instance", fake)
    assert streamlit_session_alive("connected")
    assert streamlit_session_alive("disconnected-but-resumable")
    assert not streamlit_session_alive("expired")


def test_a_broken_runtime_api_never_cancels(monkeypatch):
    from streamlit.runtime import Runtime

    def boom(_):
        raise AttributeError("moved")

    monkeypatch.setattr(Runtime, "_instance", SimpleNamespace(_session_mgr=SimpleNamespace(get_session_info=boom)))
    assert streamlit_session_alive("whatever")


def test_the_apps_shared_manager_asks_streamlit(monkeypatch):
    monkeypatch.setattr(jobs_module, "_shared", None)
    assert shared_manager().session_alive is streamlit_session_alive
