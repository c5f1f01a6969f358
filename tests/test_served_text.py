"""Served to others, what visitors read names no server path and no process, and what they may write is
bounded: uploads per address and per runs folder an hour, and a free-disk floor (training/core/quota.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from explorer import DEMOS, i18n
from explorer.state import serving
from explorer.state.uploads import save_uploaded_run
from training.core import quota
from training.core.errors import UserError, reason
from training.runs.layout import CONFIG, STEPS, WEIGHTS
from training.runs.lock import RunBusy, RunLock, busy_sentence
from training.runs.status import FAILED, QUEUED, RUNNING, Owner, RunStatus, write_status
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "explorer" / "app.py")
DEMO = DEMOS / "mnist5k-z2"
PAGES = ["views/sliders.py", "views/scrub.py", "views/latent_map.py", "views/balance.py", "views/interpolate.py",
         "views/samples.py", "views/train.py", "views/sweep.py", "views/models.py", "views/theory.py"]


@pytest.fixture
def error_details():
    """The app sets client.showErrorDetails when served; it is the process's option: put it back."""
    before = st_config.get_option("client.showErrorDetails")
    yield
    st_config.set_option("client.showErrorDetails", before)


@pytest.fixture
def served_runs(tmp_path, monkeypatch, error_details):
    """A served app's runs folder with a finished run, a running and a queued one (owned by this process, with
    its pid in their status), a failed one whose reason names a file of it, and an uploaded one."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "1")
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(runs))
    monkeypatch.setenv("VAE_EXPLORER_MIN_FREE_MB", "0")  # whatever this machine's disk holds
    runs.mkdir()
    locks = []
    for name, state in [("done", None), ("live", RUNNING), ("waiting", QUEUED), ("broken", FAILED)]:
        shutil.copytree(DEMO, runs / name)
        if state is None:
            continue
        (runs / name / "status.json").unlink(missing_ok=True)
        why = reason("Cannot use {path}: {why}.", path=runs / name / STEPS, why="permission denied")
        status = RunStatus(state=state, launcher="local", queued_at=time.time(), started_at=time.time(),
                           heartbeat=time.time(), owner=Owner.me(), epochs=3, **(why if state == FAILED else {}))
        write_status(runs / name, status)
        locks.append(RunLock(runs / name).acquire())  # a live writer holds each: this process
    save_uploaded_run((DEMO / CONFIG).read_bytes(), (DEMO / WEIGHTS).read_bytes(), runs, "uploaded")
    yield runs
    for lock in locks:
        lock.release()


def page_text(at: AppTest) -> str:
    """Everything the page sends: bodies, labels, help, options, placeholders, captions, errors, dialogs, and the
    widgets' ids (their keys, which the browser's page shows too)."""
    return "\n".join(str(node.proto) for node in at._tree if getattr(node, "proto", None))


def leaks(text: str, runs: Path) -> list[str]:
    folders = "|".join(re.escape(str(f)) for f in (runs, runs.parent, ROOT, Path.home(), DEMOS))
    return re.findall(r".{0,60}(?:" + folders + r"|process \d+|\b" + str(os.getpid()) + r"\b).{0,60}", text)


def test_no_page_shows_a_server_path_or_a_process_when_served(served_runs):
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["run_path"] = str(served_runs / "live")
    at.run()
    seen = []
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        seen.append((page, page_text(at)))
    # what a visitor's own actions bring up: a Delete's question, its refusal (a live process writes the run),
    # a saved upload
    at.switch_page("views/models.py").run()
    at.button(key=f"delete_{serving.widget_key(served_runs / 'broken')}").click().run()
    seen.append(("delete asked", page_text(at)))
    at.button(key="confirm_delete").click().run()
    seen.append(("delete refused", page_text(at)))
    assert [e.value for e in at.error] == ["The run broken is training; stop it before deleting it."]
    at.file_uploader(key="upload_weights").upload(WEIGHTS, (DEMO / WEIGHTS).read_bytes())
    at.file_uploader(key="upload_config").upload(CONFIG, (DEMO / CONFIG).read_bytes(), "application/json")
    at.text_input(key="upload_name").set_value("mine")
    next(b for b in at.button if b.label == "Check, save and use").click().run()
    assert (served_runs / "mine").is_dir()
    seen.append(("upload saved", page_text(at)))
    assert any("Saved as `mine`" in m.value for m in at.success), [m.value for m in at.success]
    assert not at.exception
    assert (served_runs / "broken").is_dir()
    for where, text in seen:
        assert not leaks(text, served_runs), (where, leaks(text, served_runs))
    assert st_config.get_option("client.showErrorDetails") == "none"


def test_a_traceback_is_not_shown_to_a_served_visitor(served_runs, monkeypatch):
    from explorer.state import shared

    def broken(*args, **kwargs):
        raise RuntimeError(f"a bug at {served_runs}")

    at = AppTest.from_file(APP, default_timeout=HANG_S).run()
    monkeypatch.setattr(shared, "list_runs", broken)
    at.switch_page("views/models.py").run()
    assert at.exception
    assert str(served_runs) not in page_text(at) and "Traceback" not in page_text(at)


def test_served_paths_read_as_names():
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:
        m.setenv("VAE_EXPLORER_SERVED", "1")
        m.setenv("VAE_EXPLORER_RUNS", "/srv/vae/runs")
        assert serving.public_text("Cannot use /srv/vae/runs/sw/a/steps.csv: no.") == "Cannot use sw/a/steps.csv: no."
        assert serving.public_text("in /srv/vae/runs.") == "in runs."
        assert serving.public_text("/etc/shadow and 1/2 and http://x/y/z") == "shadow and 1/2 and http://x/y/z"
        busy = RunBusy(busy_sentence(Path("/srv/vae/runs/x"), (30481, "vm")))
        i18n.show_paths_with(serving.public_text)
        try:
            assert i18n.error_text(busy) == ("x is being written by another process right now; wait for it to end, "
                                             "or stop it first (the Stop button, or: python -m training stop x).")
        finally:
            i18n.show_paths_with(None)
        m.setenv("VAE_EXPLORER_SERVED", "0")
        assert serving.shown_path("/srv/vae/runs/a") == "/srv/vae/runs/a"  # one's own machine: as it is


# ---------------------------------------------------------------- quotas and the disk floor
@pytest.fixture
def quotas(monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_UPLOADS_PER_HOUR", "2")
    monkeypatch.setenv("VAE_EXPLORER_UPLOAD_MB_PER_HOUR", "3")
    monkeypatch.setenv("VAE_EXPLORER_FOLDER_UPLOADS_PER_HOUR", "3")
    monkeypatch.setenv("VAE_EXPLORER_FOLDER_UPLOAD_MB_PER_HOUR", "100")


def test_uploads_per_address_are_counted_in_the_runs_folder(tmp_path, quotas):
    root, now = tmp_path / "runs", 1_000_000.0
    quota.admit_upload(root, "203.0.113.5", 1024, now)
    quota.admit_upload(root, "203.0.113.5", 1024, now + 60)
    with pytest.raises(UserError, match=r"^This server takes at most 2 uploads an hour from one address; try again "
                                        r"in 59 minutes\.$"):
        quota.admit_upload(root, "203.0.113.5", 1024, now + 120)
    assert "203.0.113.5" not in (root / quota.LEDGER).read_text()  # kept as a hash
    quota.admit_upload(root, "198.51.100.7", 1024, now + 120)  # another address
    with pytest.raises(UserError, match=r"^This runs folder takes at most 3 uploads an hour"):
        quota.admit_upload(root, "192.0.2.1", 1024, now + 180)
    quota.admit_upload(root, "203.0.113.5", 1024, now + 3601)  # the first has left the hour


def test_upload_bytes_per_address_are_bounded(tmp_path, quotas):
    root = tmp_path / "runs"
    quota.admit_upload(root, "a", 2 * quota.MB, 0.0 + 5000)
    with pytest.raises(UserError, match=r"^This server takes at most 3 MB of uploads an hour from one address"):
        quota.admit_upload(root, "a", 2 * quota.MB, 5001.0)
    before = (root / quota.LEDGER).read_bytes()
    with pytest.raises(UserError):
        quota.admit_upload(root, "a", 2 * quota.MB, 5002.0)
    assert (root / quota.LEDGER).read_bytes() == before  # a refusal records nothing


def test_the_ledger_is_read_and_written_under_its_lock(tmp_path, quotas, monkeypatch):
    """Two sessions or two server processes at the same moment cannot both take the last place: while one
    reads and rewrites the ledger, any other descriptor of the lock file is refused it."""
    import fcntl

    root, refused, read = tmp_path / "runs", [], quota._entries

    def entries_while_another_tries(path, now):
        fd = os.open(root / quota.LEDGER_LOCK, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            refused.append(False)
        except BlockingIOError:
            refused.append(True)
        finally:
            os.close(fd)
        return read(path, now)

    monkeypatch.setattr(quota, "_entries", entries_while_another_tries)
    quota.admit_upload(root, "a", 1, 100.0)
    assert refused == [True]


def test_a_foreign_ledger_is_read_bounded_and_never_followed(tmp_path, quotas):
    root = tmp_path / "runs"
    root.mkdir()
    os.mkfifo(root / quota.LEDGER)  # would block a plain open
    quota.admit_upload(root, "a", 1, 10.0)  # read as empty, then replaced whole
    assert json.loads((root / quota.LEDGER).read_text())["uploads"][0]["bytes"] == 1


def upload_in_new_session(root: Path, name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S).run()
    at.switch_page("views/models.py").run()
    at.file_uploader(key="upload_weights").upload(WEIGHTS, (DEMO / WEIGHTS).read_bytes())
    at.file_uploader(key="upload_config").upload(CONFIG, (DEMO / CONFIG).read_bytes(), "application/json")
    at.text_input(key="upload_name").set_value(name)
    next(b for b in at.button if b.label == "Check, save and use").click().run()
    assert not at.exception
    return at


def test_the_upload_quota_holds_across_sessions_of_one_address(tmp_path, monkeypatch, quotas, error_details):
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "1")
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(runs))
    monkeypatch.setenv("VAE_EXPLORER_MIN_FREE_MB", "0")
    monkeypatch.setenv("VAE_EXPLORER_UPLOAD_MB_PER_HOUR", "100")  # counts, not bytes, here
    monkeypatch.setattr(serving, "visitor_address", lambda: "203.0.113.5")
    for name in ("one", "two"):  # each a new session: a new browser context, no cookie in common
        assert not upload_in_new_session(runs, name).error
    at = upload_in_new_session(runs, "three")
    assert [e.value for e in at.error] == ["This server takes at most 2 uploads an hour from one address; try again "
                                           "in 60 minutes."]
    assert not (runs / "three").exists()
    monkeypatch.setattr(serving, "visitor_address", lambda: "198.51.100.7")
    assert not upload_in_new_session(runs, "three").error and (runs / "three").is_dir()
    at = upload_in_new_session(runs, "four")  # the folder's 3 an hour, whoever asks
    assert "This runs folder takes at most 3 uploads an hour" in at.error[0].value


def test_below_the_disk_floor_uploads_are_refused_and_nothing_is_written(tmp_path, monkeypatch, error_details):
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "1")
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(runs))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000 * quota.MB))
    at = upload_in_new_session(runs, "big")
    assert [e.value for e in at.error] == ["The server's disk has only 1000 MB free, less than the 1024 MB it keeps "
                                           "free; nothing more can be saved or trained until space is freed."]
    assert not runs.exists() or list(runs.iterdir()) == []
    monkeypatch.setenv("VAE_EXPLORER_MIN_FREE_MB", "900")  # the operator's floor
    assert not upload_in_new_session(runs, "big").error and (runs / "big").is_dir()
    monkeypatch.setenv("VAE_EXPLORER_SERVED", "0")  # one's own machine: no floor unless one is set
    monkeypatch.delenv("VAE_EXPLORER_MIN_FREE_MB")
    serving.check_free_disk(runs)


def test_the_disk_floor_and_quotas_refuse_bad_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_MIN_FREE_MB", "lots")
    with pytest.raises(UserError, match="VAE_EXPLORER_MIN_FREE_MB must be a whole number of megabytes"):
        serving.check_free_disk(tmp_path)
    monkeypatch.setenv("VAE_EXPLORER_UPLOADS_PER_HOUR", "0")
    with pytest.raises(UserError, match="VAE_EXPLORER_UPLOADS_PER_HOUR must be a whole number of at least 1"):
        quota.admit_upload(tmp_path, "a", 1)


def test_the_refusals_are_in_chinese_too(monkeypatch, tmp_path):
    from explorer import i18n

    monkeypatch.setattr(i18n, "current", lambda: "zh")
    for err in (UserError("This server takes at most {limit} uploads an hour from one address; try again in "
                          "{minutes} minutes.", limit=2, minutes=5),
                UserError("The server's disk has only {free} MB free, less than the {floor} MB it keeps free; "
                          "nothing more can be saved or trained until space is freed.", free=1, floor=2)):
        text = i18n.error_text(err)
        assert text != str(err) and re.search(r"[\u4e00-\u9fff]", text)

