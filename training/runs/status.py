"""``RUN_DIR/status.json``: what a training is doing, how far it is, who owns it. No torch here.

The process that holds the run's lock (training/runs/lock.py) is its only writer: the training
process for its whole life, the app for the instant it queues, cancels or resumes a run. Each write
replaces the whole file atomically, so a reader sees one complete record.

Recorded states: queued -> running -> finished | stopped | failed. What a reader *observes* adds
one: a run recorded as queued or running whose lock nobody holds and whose heartbeat is stale has lost
its process (``interrupted``): killed, crashed, or its machine went down. A fresh heartbeat counts as
alive even without the lock (its lock file was removed under it: the owner notices and stops, and until
then nobody else may take the run, ``take_run``). A run folder without status.json
(bundled demos, uploads, runs from before this file existed) is finished if it has all its epochs
or no checkpoint to resume, else interrupted.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from training.core.errors import UserError, sentence
from training.core.files import read_bounded
from training.runs.layout import STATUS, STOP, atomic_write
from training.runs.lock import RunBusy, RunLock, busy_sentence, owner_alive

QUEUED, RUNNING, FINISHED, STOPPED, FAILED, INTERRUPTED = (
    "queued", "running", "finished", "stopped", "failed", "interrupted")
ACTIVE = (QUEUED, RUNNING)
STATES = (QUEUED, RUNNING, FINISHED, STOPPED, FAILED, INTERRUPTED)
LAUNCHERS = ("cli", "local", "ray")
FORMAT = "vae-explorer/status"
MAX_STATUS_BYTES = 64 * 1024
CANCELLED = sentence("Cancelled before it started.")
# A run the app queued for a local process, not yet claimed by it: the process claims it within a
# second; after this long without an owner it is taken as interrupted (the launch failed).
CLAIM_GRACE_S = 15.0
# The owner rewrites its status at least this often (training/runs/recorder.py). A heartbeat younger than
# FRESH_S says its owner still writes, even if the lock file is free or gone (someone removed it): readers
# count the run as active, and no one else may take the run over meanwhile.
HEARTBEAT_EVERY_S = 3.0
FRESH_S = 3 * HEARTBEAT_EVERY_S


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int

    @staticmethod
    def me() -> "Owner":
        return Owner(host=socket.gethostname(), pid=os.getpid())


@dataclass(frozen=True)
class RunStatus:
    state: str
    reason: str | None = None          # one sentence: why it failed, how it stopped (English)
    reason_template: str | None = None  # the same sentence as a template and its values, which the app
    reason_values: dict | None = None   # puts in its visitor's language (training.core.errors.reason)
    launcher: str = "cli"              # who started it: the command line, the app's local processes, Ray
    requested_by: str | None = None    # the app visitor who queued it (None from the command line)
    requested_from: str | None = None  # a key of the address it was queued from (served apps' quota; never shown)
    queued_at: float | None = None     # unix times
    started_at: float | None = None
    ended_at: float | None = None
    heartbeat: float | None = None     # last write by the owner
    owner: Owner | None = None
    launched_at: float | None = None   # a queued run waits without a process until a slot frees: then its
                                       # process is started (training/jobs/launcher.py ``start_queued``)
    epoch: int = 0                     # the epoch in progress, or the last finished one
    epochs: int = 0
    step: int = 0                      # steps done in the epoch in progress
    steps_per_epoch: int = 0
    global_step: int = 0
    start_step: int = 0                # global step this process started from (resumed runs > 0)
    train_seconds: float = 0.0         # seconds this process has spent in fit(), for the time left
    earlier_seconds: float = 0.0       # seconds trained by the sessions before this one (Stop, then Resume)
    device: str | None = None          # the device asked for when queued (None: the launcher's, as --device)
    data_note: str | None = None       # about the data set as loaded: files that were skipped, and why
    data_note_template: str | None = None  # the same as a template and its values (like the reason's)
    data_note_values: dict | None = None
    format: str = field(default=FORMAT)

    # -- derived ---------------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        total = self.epochs * self.steps_per_epoch
        return min(1.0, self.global_step / total) if total else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace this process has trained so far."""
        done = self.global_step - self.start_step
        total = self.epochs * self.steps_per_epoch
        if self.state != RUNNING or done <= 0 or not total:
            return None
        return self.train_seconds / done * max(0, total - self.global_step)

    def trained_seconds(self, now: float | None = None) -> float | None:
        """Seconds trained over all the run's sessions: the earlier ones plus this one from ``started_at`` to
        ``ended_at``, or to NOW while it runs (a reader passes the last heartbeat for a run whose process is
        gone). None before it ever started."""
        earlier, end = self.earlier_seconds or 0.0, self.ended_at or now
        if self.started_at is None or end is None:
            return earlier or None
        return earlier + max(0.0, end - self.started_at)

    def changed(self, **changes) -> "RunStatus":
        return replace(self, **changes)

    # -- file form -------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: object, source: str) -> "RunStatus":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError("{source} is not a status file written by this project.",
                source=source)
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        try:
            owner = values.get("owner")
            values["owner"] = None if owner is None else Owner(host=str(owner["host"]), pid=int(owner["pid"]))
            status = cls(**values)
            _check(status)
        except (KeyError, TypeError, ValueError) as err:
            raise UserError("{source} is malformed ({err}).",
                source=source, err=err) from None
        return status


def _check(s: RunStatus) -> None:
    if s.state not in STATES or s.state == INTERRUPTED:  # interrupted is observed, never recorded
        raise ValueError(f"unknown state {s.state!r}")
    if s.launcher not in LAUNCHERS:
        raise ValueError(f"unknown launcher {s.launcher!r}")
    for name in ("epoch", "epochs", "step", "steps_per_epoch", "global_step", "start_step"):
        value = getattr(s, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0")
    for name in ("queued_at", "started_at", "ended_at", "heartbeat", "train_seconds", "launched_at", "earlier_seconds"):
        value = getattr(s, name)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value != value):
            raise ValueError(f"{name} must be a number")
    for name in ("reason", "requested_by", "requested_from", "data_note", "reason_template", "data_note_template",
                 "device"):
        value = getattr(s, name)
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            raise ValueError(f"{name} must be a short text")
    for name in ("reason_values", "data_note_values"):
        values = getattr(s, name)
        if values is not None and (not isinstance(values, dict) or len(values) > 20 or not all(
                isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                and len(str(v)) <= 2000 for k, v in values.items())):
            raise ValueError(f"{name} must be a few named texts or numbers")


def read_status(run_dir: str | Path) -> RunStatus | None:
    """The recorded status, None if the run has none; a damaged file is one UserError."""
    path = Path(run_dir) / STATUS
    try:
        data = read_bounded(path, MAX_STATUS_BYTES, "a status file", too_large=lambda size: UserError(
            "{path} is {size:,} bytes; a status file is a few hundred.", path=path, size=size))  # never a FIFO
    except FileNotFoundError:
        return None
    try:
        data = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise UserError("{path} is not valid JSON.",
            path=path) from None
    return RunStatus.from_dict(data, str(path))


def busy_message(run_dir: str | Path) -> str:
    """Why RUN_DIR cannot be locked now, naming its writer from its status if that can be read: 'runs/x is being
    written by process 123 on host h; ...' (what ``RunLock.acquire`` is given to say)."""
    try:
        status = read_status(run_dir)
    except UserError:
        status = None
    owner = status.owner if status is not None else None
    return busy_sentence(Path(run_dir), None if owner is None else (owner.pid, owner.host))


def write_status(run_dir: str | Path, status: RunStatus) -> None:
    """Replace status.json (the caller holds the run's lock, or the folder is not yet visible)."""
    atomic_write(Path(run_dir) / STATUS, status.to_json().encode(), durable=False)


def observed_state(run_dir: str | Path, status: RunStatus, now: float | None = None) -> str:
    """The recorded state, or ``interrupted`` when an active run's process is gone: its lock is free and its
    heartbeat is not fresh."""
    if status.state not in ACTIVE or owner_alive(run_dir) or beating(status, now):
        return status.state
    if status.state == QUEUED and status.owner is None:
        # queued by the app, not yet claimed: Ray starts it when the cluster has room; a local run waits
        # without a process until a slot frees (no ``launched_at``), and its process claims it within a
        # second of its launch
        if status.launcher == "ray" or (status.launcher == "local" and status.launched_at is None):
            return QUEUED
        waited = (now or time.time()) - (status.launched_at or status.queued_at or 0.0)
        if waited < CLAIM_GRACE_S:
            return QUEUED
    return INTERRUPTED


def beating(status: RunStatus, now: float | None = None) -> bool:
    """Whether STATUS is an active run's whose owner wrote it less than FRESH_S ago, and (when the owner is on this
    machine) whose process still lives: its owner writes the run, whatever became of the lock file."""
    if status.state not in ACTIVE or status.owner is None or status.heartbeat is None:
        return False
    if abs((now or time.time()) - status.heartbeat) >= FRESH_S:
        return False
    return status.owner.host != socket.gethostname() or _process_lives(status.owner.pid)


def _process_lives(pid: int) -> bool:
    """Whether process PID runs on this machine (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:  # the kernel's own file, not a run folder's
            return f.read(4096).rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def take_run(run_dir: str | Path, busy: str | Callable[[], str] | None = None, patience: float = 0.5) -> RunLock:
    """The run's lock for a writer (``RunLock.acquire``), also refused while another owner's heartbeat is fresh
    (``beating``): a training whose lock file was removed still writes, and must stay the only writer."""
    lock = RunLock(run_dir).acquire(busy or (lambda: busy_message(run_dir)), patience)
    try:
        status = read_status(run_dir)
    except UserError:
        status = None  # a damaged status names no live owner; the writer that takes it over replaces it
    except BaseException:
        lock.release()
        raise
    if status is not None and status.owner != Owner.me() and beating(status):
        lock.release()
        message = busy() if callable(busy) else busy
        raise RunBusy(message or busy_message(run_dir))
    return lock


# -- stop requests ------------------------------------------------------------------------------
def request_stop(run_dir: str | Path) -> None:
    """Ask the run's training to stop after its current step (anyone may ask; the owner consumes it)."""
    atomic_write(Path(run_dir) / STOP, b"stop requested\n", durable=False)


def stop_requested(run_dir: str | Path) -> bool:
    return (Path(run_dir) / STOP).exists()


def clear_stop(run_dir: str | Path) -> None:
    (Path(run_dir) / STOP).unlink(missing_ok=True)
