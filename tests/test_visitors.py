"""The app's side of trainings: who a visitor is, and cancelling the queued trainings of visitors who left."""

from __future__ import annotations

import binascii
import os
from types import SimpleNamespace

import pytest

from explorer.state import trainings
from training.core.config import RunConfig
from training.jobs.control import submit
from training.runs.lock import RunLock
from training.runs.status import QUEUED, RUNNING, STOPPED, Owner, read_status, write_status

CONFIG = RunConfig(model={"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2}, train={"dataset": "digits"})


class FakeLauncher:
    kind, max_running = "local", 1

    def launch(self, run_dir, queued_at):
        pass


def xsrf_cookie(token: bytes, mask: bytes) -> str:
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(masked).decode()}|1700000000"


def test_the_visitor_token_is_the_same_whatever_mask_the_cookie_was_written_with():
    token = os.urandom(16)
    assert trainings._token_from_cookie(xsrf_cookie(token, b"\x01\x02\x03\x04")) == token
    assert trainings._token_from_cookie(xsrf_cookie(token, b"\xff\x00\xaa\x55")) == token
    for bad in ("", "1|abc", "2|zz|zz|1", "2|0102|aabb|1", "3|01020304|aabb|1"):
        assert trainings._token_from_cookie(bad) is None


@pytest.fixture
def registry(monkeypatch):
    fresh = trainings._Visitors()
    monkeypatch.setattr(trainings, "_visitors", lambda: fresh)
    return fresh


def test_queued_trainings_of_a_visitor_who_left_are_cancelled_and_running_ones_kept(registry, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    fake = FakeLauncher()
    running = submit(root, "running", CONFIG, fake, requested_by="gone")
    queued_gone = submit(root, "queued-gone", CONFIG, fake, requested_by="gone")
    queued_here = submit(root, "queued-here", CONFIG, fake, requested_by="here")
    queued_unknown = submit(root, "queued-before-restart", CONFIG, fake, requested_by="seen-by-an-earlier-server")
    registry.sessions.update({"gone": {"s1", "s2"}, "here": {"s3", "s4"}})
    alive = {"s4"}  # one of "here"'s two tabs is still open
    monkeypatch.setattr(trainings, "session_alive", lambda s: s in alive)
    with RunLock(running):  # stands in for the live training process of "running"
        write_status(running, read_status(running).changed(state=RUNNING, owner=Owner.me()))
        assert trainings.visitors_who_left() == {"gone"}
        assert trainings.cancel_queued_of_left_visitors(root) == 1
        assert read_status(running).state == RUNNING
    assert read_status(queued_gone).state == STOPPED
    assert read_status(queued_here).state == QUEUED
    assert read_status(queued_unknown).state == QUEUED  # not seen leaving this server: it starts when there is room
    alive.clear()
    assert trainings.cancel_queued_of_left_visitors(root) == 1
    assert read_status(queued_here).state == STOPPED


def test_outside_a_streamlit_server_every_session_is_alive():
    from streamlit.runtime import Runtime

    assert not Runtime.exists()
    assert trainings.session_alive("local") and trainings.session_alive("anything")


def test_inside_a_server_unknown_sessions_have_ended(monkeypatch):
    from streamlit.runtime import Runtime

    known = {"connected", "disconnected-but-resumable"}
    fake = SimpleNamespace(_session_mgr=SimpleNamespace(get_session_info=lambda s: object() if s in known else None))
    monkeypatch.setattr(Runtime, "_instance", fake)
    assert trainings.session_alive("connected")
    assert trainings.session_alive("disconnected-but-resumable")
    assert not trainings.session_alive("expired")


def test_a_broken_runtime_api_never_cancels(monkeypatch):
    from streamlit.runtime import Runtime

    def boom(_):
        raise AttributeError("moved")

    monkeypatch.setattr(Runtime, "_instance", SimpleNamespace(_session_mgr=SimpleNamespace(get_session_info=boom)))
    assert trainings.session_alive("whatever")
