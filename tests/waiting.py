"""Waiting in tests: for an event, never for an amount of time.

A machine that builds, tests and serves is often busy, so no test may give work a wall-clock budget
("epoch 3 within 30 s"). Every wait here is for an event: a status file's state, a step count, a file
that appears, a process that exits, an element on the page. The one number is ``HANG_S``: a hang guard,
not a budget. It only turns a hang (a process that will never write, a page that will never draw) into
a failure with a message instead of a CI job that runs until it is killed; on the slowest machine the
suite has met, every awaited event came within a tenth of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

HANG_S = 300.0              # hang guard for any wait in the tests (seconds); see the module's docstring
HANG_MS = int(HANG_S * 1000)  # the same for Playwright, which counts in milliseconds
POLL_S = 0.02

T = TypeVar("T")


def until(predicate: Callable[[], T], what: str, poll: float = POLL_S) -> T:
    """Poll PREDICATE until it returns something true; that value. WHAT says what was awaited, for the
    message if the hang guard ends the wait."""
    guard = time.monotonic() + HANG_S
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > guard:  # a hang guard (HANG_S), not a budget for the work
            raise AssertionError(f"still waiting after {HANG_S:.0f} s (a hang?): {what}")
        time.sleep(poll)


def exited(proc, what: str = "the process exits") -> int:
    """The exit code of PROC (a subprocess.Popen) once it has exited on its own."""
    try:
        return proc.wait(timeout=HANG_S)  # a hang guard, not a budget
    except Exception as err:  # subprocess.TimeoutExpired
        raise AssertionError(f"still waiting after {HANG_S:.0f} s (a hang?): {what}") from err
