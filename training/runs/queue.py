"""The queue of a runs folder: at most N trainings at once, first come first served.

There is no scheduler process. The queue *is* the runs folder: every run recorded as queued waits
its turn, ordered by the time it was queued (then its name). A run the app queued waits without a
process (its status names no owner and no ``launched_at``); when a slot frees, ``start_queued``
(training/jobs/launcher.py) starts the first in line: a training as it ends, and the app as it
refreshes. A training started from the command line with ``--max-running N`` waits in a process of its
own and promotes itself to running when fewer than N runs of the folder are running and it is among
the first in line. Choosing and promoting happen under an exclusive ``flock`` on
``ROOT/.queue.lock``, so two never both take the last slot. Trainings started from the command line
without ``--max-running`` do not wait, but count as running.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from training.core.errors import UserError
from training.runs.status import QUEUED, RUNNING, RunStatus, observed_state, read_status

QUEUE_LOCK = ".queue.lock"


def scan(root: str | Path) -> list[tuple[Path, RunStatus, str]]:
    """(run folder, recorded status, observed state) of every run under ROOT that has a status."""
    root = Path(root)
    found = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    now = time.time()
    for path in entries:
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            status = read_status(path)
        except (UserError, OSError):
            continue
        if status is not None:
            found.append((path, status, observed_state(path, status, now)))
    return found


def line_up(runs: list[tuple[Path, RunStatus, str]]) -> tuple[list[Path], list[Path]]:
    """(running, queued in order of arrival)."""
    running = [p for p, _, state in runs if state == RUNNING]
    queued = sorted(((s.queued_at or 0.0, p.name, p) for p, s, state in runs if state == QUEUED))
    return running, [p for _, _, p in queued]


def queue_positions(root: str | Path) -> dict[Path, int]:
    """1 for the next run to start, 2 after it, ...; only queued runs are listed."""
    _, queued = line_up(scan(root))
    return {p: i for i, p in enumerate(queued, 1)}


@contextmanager
def queue_lock(root: Path) -> Iterator[None]:
    fd = os.open(root / QUEUE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def waiting_to_start(runs: list[tuple[Path, RunStatus, str]], max_running: int, launcher: str) -> list[Path]:
    """The runs of ``launcher``'s kind that may start now and have no process yet: those among the first
    ``max_running - running`` in line that wait without one (the others in that part of the line are on
    their way, or wait in a process of their own and take their slot themselves)."""
    running, queued = line_up(runs)
    free = max(0, max_running - len(running))
    status_of = {p: s for p, s, _ in runs}
    return [p for p in queued[:free] if _parked(status_of[p], launcher)]


def _parked(status: RunStatus, launcher: str) -> bool:
    return (status.state == QUEUED and status.launcher == launcher and status.owner is None
            and status.launched_at is None)


def wait_for_slot(run_dir: Path, max_running: int, promote: Callable[[], None],
                  cancelled: Callable[[], bool], poll: float = 0.25, longest: float = 2.0) -> bool:
    """Block until this queued run may start, then call ``promote`` (which records it as running)
    while still holding the queue lock. False if ``cancelled()`` became true first. The pause between
    looks grows from ``poll`` to ``longest`` seconds: a long wait costs next to nothing."""
    root, me = run_dir.parent, run_dir.resolve()
    while True:
        if cancelled():
            return False
        with queue_lock(root):
            running, queued = line_up(scan(root))
            free = max_running - len(running)
            if free > 0 and me in (p.resolve() for p in queued[:free]):
                promote()
                return True
        time.sleep(poll)
        poll = min(longest, poll * 1.5)
