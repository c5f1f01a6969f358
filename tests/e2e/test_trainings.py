"""Trainings as processes, seen in headless Chromium: what survives a reload, a second tab, a killed
server and a killed training, and deleting a run from the Models page.

Each training here is a real ``python -m training fit`` process (started by the app's LocalLauncher,
or by the command line for the Delete test); the ``trainings`` fixture kills whatever is still alive
at the end, whether or not the test passed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (after_reruns, choose, fill_number, fresh_name, new_context, press, require_browser,
                                screenshot)
from tests.waiting import HANG_MS, exited, until
from benchmarks.harness import ROOT, Server
from training.runs.lock import owner_alive
from training.runs.status import read_status, request_stop

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)
# digits (8x8), hidden 32, batch 8: 180 steps, about 0.15-0.3 s an epoch on 2 cores
BATCH = "8"


# -- helpers ------------------------------------------------------------------------------------
def key_class(key: str) -> str:
    """The CSS class Streamlit gives an element with this key."""
    return ".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def start_training(page, url: str, name: str, epochs: int) -> None:
    """Fill the Train page's form (digits, z = 2, hidden 32, small batches) and press Start."""
    page.goto(f"{url}/train")
    page.locator(".st-key-train_dataset").wait_for(timeout=TIMEOUT)
    choose(page, "train_dataset", "digits")
    fill_number(page, "train_latent_dim", "2")
    page.locator(".st-key-train_hidden input").fill("32")
    fill_number(page, "train_epochs", str(epochs))
    fill_number(page, "train_batch_size", BATCH)
    page.locator(".st-key-train_name input").fill(name)
    page.get_by_role("button", name=re.compile("Start training")).click()


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def epoch_shown(page, epochs: int) -> int:
    """The epoch in the progress text 'Epoch N of EPOCHS' (EPOCHS is unique to a test's run)."""
    found = re.findall(rf"Epoch (\d+) of {epochs}\b", main_text(page))
    assert found, f"no 'Epoch N of {epochs}' on the page"
    return int(found[0])


def wait_epoch_above(page, epochs: int, above: int) -> int:
    """Until the page's progress text shows an epoch greater than ``above``; that epoch."""
    page.wait_for_function(
        """([epochs, above]) => {
             const m = document.querySelector('[data-testid="stMain"]')?.innerText
                         .match(new RegExp('Epoch (\\\\d+) of ' + epochs + '\\\\b'));
             return m && parseInt(m[1]) > above;
           }""", arg=[epochs, above], timeout=TIMEOUT)
    return epoch_shown(page, epochs)


def shows_live_run(page, name: str, epochs: int) -> int:
    """The Train page shows ``name`` in detail, with its progress and its Stop button; the epoch shown."""
    run_heading(page, name).first.wait_for(timeout=TIMEOUT)
    page.get_by_text(re.compile(rf"Epoch \d+ of {epochs}\b")).first.wait_for(timeout=TIMEOUT)
    stop = page.locator(key_class(f"stop_{name}")).get_by_role("button", name="Stop")
    from playwright.sync_api import expect  # imported here: without playwright the tests skip, not error

    expect(stop).to_be_enabled(timeout=TIMEOUT)  # disabled while the tab is not connected
    return epoch_shown(page, epochs)


def shot(page, name: str, anchor) -> None:
    """A screenshot with ``anchor`` (a locator) at the top: Streamlit's main area scrolls by itself,
    so a full-page screenshot shows only its first screen."""
    anchor.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    # a moment when every element is fresh (none faded, waiting for the running rerun)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stMain\"] [data-stale=\"true\"]')",
                           timeout=TIMEOUT)
    screenshot(page, name)


def run_heading(page, name: str):
    return page.locator('[data-testid="stMain"] h3', has_text=name)


def status_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def shorten_plan(run_dir: Path, epochs: int) -> None:
    """Plan EPOCHS in all for a run nobody writes now (its config.json, validated and written whole): a test's
    training is started too long to end by itself, and given its end only once it has shown what it must."""
    from training.models.open import read_config
    from training.runs.layout import CONFIG, atomic_write

    config = read_config(run_dir)
    shorter = config.model_copy(update={"train": config.train.model_copy(update={"epochs": epochs})})
    atomic_write(run_dir / CONFIG, type(config).model_validate(shorter.model_dump()).to_json().encode())


def process_alive(pid: int) -> bool:
    """os.kill(pid, 0), not counting a zombie (a killed child nobody has reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owner_of(run_dir: Path) -> int | None:
    """The pid in the run's status, if it names one (None while the file is replaced)."""
    try:
        owner = status_of(run_dir)["owner"]
    except (OSError, ValueError):
        return None
    return owner["pid"] if owner else None


def running_owner(run_dir: Path) -> int:
    """Until the run's status says running with an owner whose lock is held; the owner's pid."""
    def check():
        try:
            status = status_of(run_dir)
        except (OSError, ValueError):
            return None
        if status["state"] == "running" and status["owner"] and status["steps_per_epoch"] and owner_alive(run_dir):
            return status["owner"]["pid"]
        return None
    return until(check, f"{run_dir.name} running with a live owner")


def kill_trainings(root: Path) -> None:
    """Ask every live training under ``root`` to stop, then SIGKILL those still alive after 5 s."""
    if not root.is_dir():
        return
    live = [d for d in root.iterdir() if d.is_dir() and owner_alive(d)]
    for run_dir in live:
        request_stop(run_dir)
    deadline = time.monotonic() + 5  # cleanup's grace period before SIGKILL, not a wait any test depends on
    while time.monotonic() < deadline and any(owner_alive(d) for d in live):
        time.sleep(0.1)
    for run_dir in live:
        if owner_alive(run_dir):
            status = read_status(run_dir)
            if status is not None and status.owner is not None:
                try:
                    os.kill(status.owner.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def trainings(server):
    """The session server's runs folder; its live trainings are stopped or killed afterwards."""
    yield server.runs_root
    kill_trainings(server.runs_root)


@pytest.fixture
def own_server(tmp_path):
    """A server of this test alone on a fresh runs folder (it gets killed and restarted); at the end
    every server it became is stopped and every training in its folder killed."""
    require_browser()
    servers = [Server(ROOT / "explorer" / "app.py", tmp_path / "runs")]
    yield servers
    for s in servers:
        if s.proc.poll() is None:
            s.stop()
    kill_trainings(tmp_path / "runs")


def stopped_box(page):
    """The Train page's detail says so in a warning box; a row of another stopped run says it in plain text."""
    return page.locator('[data-testid="stAlertContentWarning"]',
                        has_text=re.compile(r"Stopped; the checkpoint of epoch \d+ is kept\."))


# -- 1. reload and second tabs ------------------------------------------------------------------
def test_a_reload_and_other_tabs_show_the_same_live_training_and_stop_it(chromium, page, server, trainings):
    name, epochs = fresh_name("e2e-reload"), 1997
    run_dir = trainings / name
    start_training(page, server.url, name, epochs)
    first = shows_live_run(page, name, epochs)
    pid = running_owner(run_dir)
    assert pid != server.pid and process_alive(pid)
    page.get_by_text(re.compile(r"process \d+ on ")).first.wait_for(timeout=TIMEOUT)
    shot(page, "trainings-live", run_heading(page, name))

    page.reload()
    after_reload = shows_live_run(page, name, epochs)
    wait_epoch_above(page, epochs, max(first, after_reload))  # still advancing in the reloaded tab

    other_visitor = new_context(chromium)
    try:
        second = other_visitor.new_page()
        second.goto(f"{server.url}/train")
        shows_live_run(second, name, epochs)
        third = page.context.new_page()  # the same visitor's second tab
        third.goto(f"{server.url}/train")
        shows_live_run(third, name, epochs)
        shot(second, "trainings-second-visitor", run_heading(second, name))

        second.locator(key_class(f"stop_{name}")).get_by_role("button", name="Stop").click()
        for tab in (page, third, second):  # the detail's box (rows of other stopped runs say it too)
            stopped_box(tab).wait_for(timeout=TIMEOUT)
            run_heading(tab, name).first.wait_for(timeout=TIMEOUT)
            # no Stop once stopped (detached, or kept hidden by Streamlit as a retained element of an earlier run)
            tab.locator(key_class(f"stop_{name}")).wait_for(state="hidden", timeout=TIMEOUT)
            tab.locator(key_class(f"resume_{name}")).get_by_role("button", name="Resume").wait_for(timeout=TIMEOUT)
            assert tab.locator('[data-testid="stException"]').count() == 0
        shot(page, "trainings-stopped", run_heading(page, name))
    finally:
        other_visitor.close()
    status = until(lambda: (s := status_of(run_dir))["state"] == "stopped" and s, "status.json: stopped")
    kept = re.search(r"checkpoint of epoch (\d+)", stopped_box(page).inner_text()).group(1)
    assert status["reason"] == f"Stopped; the checkpoint of epoch {kept} is kept."
    assert 0 < int(kept) < epochs
    until(lambda: not owner_alive(run_dir), "the stopped training's process exits")


# -- 2. SIGKILL of the server, then of the training ---------------------------------------------
def test_a_training_outlives_a_killed_server_and_a_killed_training_resumes_to_the_end(chromium, own_server):
    name, epochs = "e2e-kill", 100_000  # more than it can train before the test ends it (shorten_plan)
    server = own_server[0]
    run_dir = server.runs_root / name
    context = new_context(chromium)
    try:
        page = context.new_page()
        start_training(page, server.url, name, epochs)
        shows_live_run(page, name, epochs)
        pid = running_owner(run_dir)

        server.kill()  # SIGKILL: no shutdown code runs
        assert server.proc.returncode == -signal.SIGKILL
        before = status_of(run_dir)["global_step"]
        until(lambda: status_of(run_dir)["global_step"] > before, "training advances without a server")
        assert process_alive(pid) and owner_alive(run_dir) and status_of(run_dir)["state"] == "running"
        assert status_of(run_dir)["owner"]["pid"] == pid

        server = server.restart()  # same runs folder, same port: the open tab reconnects by itself
        own_server.append(server)
        run_heading(page, name).first.wait_for(timeout=TIMEOUT)
        live = shows_live_run(page, name, epochs)
        wait_epoch_above(page, epochs, live)  # shown live by the new server
        assert epoch_shown(page, epochs) < epochs and process_alive(pid)
        shot(page, "trainings-after-server-restart", run_heading(page, name))
        fresh = context.new_page()  # and a tab opened after the restart
        fresh.goto(f"{server.url}/train")
        shows_live_run(fresh, name, epochs)
        fresh.close()

        os.kill(pid, signal.SIGKILL)
        alert = page.locator('[data-testid="stAlertContentError"]', has_text="Interrupted at epoch")
        alert.first.wait_for(timeout=TIMEOUT)
        said = alert.first.locator('[data-testid="stMarkdownContainer"]').inner_text().strip()
        match = re.match(r"Interrupted at epoch (\d+) of (\d+)", said)  # the sentence starts so
        assert match and int(match.group(2)) == epochs, said
        at = int(match.group(1))
        assert 0 < at < epochs
        page.locator(key_class(f"stop_{name}")).wait_for(state="hidden", timeout=TIMEOUT)  # gone from view
        resume = page.locator(key_class(f"resume_{name}")).get_by_role("button", name="Resume")
        resume.wait_for(timeout=TIMEOUT)
        shot(page, "trainings-interrupted", run_heading(page, name))

        epochs = at + 2  # the run's end, now that it has outlived both: two epochs after the one it was killed in
        shorten_plan(run_dir, epochs)
        resume.click()
        # A new process claims the run (it may train its two epochs before a look sees it running): the app
        # holds the lock for a moment while it queues the resume, with the killed owner still in the status.
        until(lambda: (owner_of(run_dir) or pid) != pid, "a new process claims the resumed run")
        # The tab that pressed Resume follows the resumed run to its end without a reload (whether it also
        # catches an epoch in progress depends on how fast two epochs train: the live view of a run is shown
        # above, after the server's restart).
        page.get_by_text(re.compile(rf"Finished {epochs} epochs")).first.wait_for(timeout=TIMEOUT)
        assert page.locator('[data-testid="stException"]').count() == 0
        shot(page, "trainings-resumed-finished", run_heading(page, name))
    finally:
        context.close()
    assert status_of(run_dir)["state"] == "finished"
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))


# -- 3. Delete on the Models page ---------------------------------------------------------------
def cli_training(run_dir: Path, epochs: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "training", "fit", "--dataset", "digits", "--latent-dim", "2", "--hidden", "32",
            "--epochs", str(epochs), "--batch-size", BATCH, "--threads", "1", "--quiet", "--out", str(run_dir)]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def card_title(page, run_dir: Path, badge: str):
    """A card's first line: its name and its state badge."""
    return page.locator('[data-testid="stMarkdownContainer"]', has_text=re.compile(rf"^{run_dir.name} · {badge}$"))


def card_button(page, kind: str, run_dir: Path):
    key = {"delete": f"delete_{run_dir}", "stop": f"stop_card_{run_dir}", "use": f"use_{run_dir}"}[kind]
    return page.locator(key_class(key))


def test_delete_asks_first_and_a_running_run_has_stop_instead(page, server, trainings):
    done, busy = trainings / fresh_name("e2e-delete-done"), trainings / fresh_name("e2e-delete-busy")
    finished = cli_training(done, 2)
    assert exited(finished) == 0, finished.stderr.read()
    assert status_of(done)["state"] == "finished"
    running = cli_training(busy, 5000)
    try:
        running_owner(busy)
        page.goto(f"{server.url}/models")
        card_button(page, "stop", busy).get_by_role("button", name="Stop").wait_for(timeout=TIMEOUT)
        delete = card_button(page, "delete", done).get_by_role("button", name="Delete")
        delete.wait_for(timeout=TIMEOUT)
        assert card_button(page, "delete", busy).count() == 0  # a running run cannot be deleted
        card_title(page, busy, "running").wait_for(timeout=TIMEOUT)

        press(page, delete, '[role="dialog"]')  # the cards refresh themselves meanwhile: a dropped click is pressed again
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Delete this run?").wait_for(timeout=TIMEOUT)
        assert done.name in dialog.inner_text()
        screenshot(page, "trainings-delete-dialog")
        page.keyboard.press("Escape")  # not dismissible: only its own buttons close it
        after_reruns(page, 2)  # the cards refresh every second while a training runs: two of those refreshes
        assert dialog.is_visible(), "the confirmation dialog closed without an answer"
        dialog.get_by_role("button", name="Keep it").click()
        dialog.wait_for(state="detached", timeout=TIMEOUT)
        delete.wait_for(timeout=TIMEOUT)
        after_reruns(page, 2)
        assert page.get_by_role("dialog").count() == 0, "an answered dialog came back"
        assert done.is_dir()

        press(page, delete, '[role="dialog"]')
        page.get_by_role("dialog").get_by_role("button", name="Delete for good").click()
        page.get_by_role("dialog").wait_for(state="detached", timeout=TIMEOUT)
        card_button(page, "use", done).wait_for(state="detached", timeout=TIMEOUT)
        assert card_button(page, "delete", done).count() == 0
        assert not done.exists()
        assert page.get_by_text(done.name).count() == 0
        assert busy.is_dir() and owner_alive(busy)  # the other run is untouched
        assert page.locator('[data-testid="stException"]').count() == 0
        shot(page, "trainings-after-delete", page.get_by_text("Demos, saved runs and models from elsewhere"))

        card_button(page, "stop", busy).get_by_role("button", name="Stop").click()  # stopped: now it may go
        card_button(page, "delete", busy).get_by_role("button", name="Delete").wait_for(timeout=TIMEOUT)
        card_title(page, busy, "stopped").wait_for(timeout=TIMEOUT)
        card_button(page, "stop", busy).wait_for(state="hidden", timeout=TIMEOUT)
        assert exited(running) == 0 and status_of(busy)["state"] == "stopped"
    finally:
        running.terminate()  # SIGTERM stops a training like a stop request
        exited(running)


# -- 4. The Latent map and Balance follow a run while it trains ---------------------------------------
def test_the_latent_map_of_a_training_run_redraws_after_each_epoch_without_a_click(page, server, trainings):
    run_dir = trainings / fresh_name("e2e-live-map")
    running = cli_training(run_dir, 5000)
    try:
        running_owner(run_dir)
        until(lambda: (run_dir / "model.safetensors").is_file() and status_of(run_dir)["epoch"] >= 2,
              "a first epoch written")
        page.goto(f"{server.url}/latent_map?lang=en&model={run_dir.name}")  # the picker shortens a long name
        page.get_by_text("This run is training: the page redraws after each epoch.").wait_for(timeout=TIMEOUT)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0", timeout=TIMEOUT)

        def map_points():
            return page.evaluate("() => { const p = document.querySelector('.js-plotly-plot'); "
                                 "return JSON.stringify(p.data.map(t => [t.x, t.y])); }")
        first = map_points()
        page.wait_for_function("old => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && "
                               "JSON.stringify(p.data.map(t => [t.x, t.y])) !== old; }",
                               arg=first, timeout=TIMEOUT)  # no click: the next epoch's weights redraw it
        assert map_points() != first
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        running.terminate()
        exited(running)
