"""Sessions stay light: 20 visitors who opened the landing page and left leave the server where it was.

One `streamlit run explorer/app.py` of its own (not the suite's shared server, whose memory other tests move) and
the suite's headless Chromium. A first visitor opens the landing page (Latent sliders) and waits for its decoded
image: torch, the model and the page's modules are then loaded, and the server's resident memory (VmRSS) then is
the baseline, so that loading the model is not counted as a leak. Then twice, a cohort of 20 more visitors
(browser contexts = Streamlit sessions) open the page, each waits for its own decoded image, and all leave; the
test waits for the server to count them gone (Streamlit's own `/_stcore/metrics?families=active_sessions`: an
event) and for its RSS to stop falling (the same reading three times in a row). Finally the first visitor leaves.

Streamlit keeps a session whose websocket closed for `server.disconnectedSessionTTL` (120 s by default) so that
a reconnecting tab finds its state. This server is started with that hold at 0 s, so that a session that left is
dropped when the next one leaves, an event, instead of two minutes later; in a real class a visitor who left
holds its memory two minutes longer.

The server runs with glibc's malloc limited to 2 arenas, as `make run`, `make serve-class` (deploy/serve_class.py)
and the Dockerfile start it: Streamlit runs each session's script in a thread of its own, and with glibc's default
(up to 8 arenas per core) the memory that 20 sessions freed stays spread over many arenas. Measured 2026-12-05
(quiet): first cohort +38.5 MiB and all left +6.3% with the default, +13.0 MiB and +2.3% with 2 arenas; under
the suite's load the default once left a second cohort +14 MiB above the first (no leak: a third arena's pages).

Two assertions:
- the issue's: after all left, RSS <= 1.10 x the baseline. The baseline is about 620 MiB here, so this fails
  only for more than about 3 MiB left behind per session; a leak of 1 MiB per session (+40 MiB over the two
  cohorts, about +6.5%) would pass it;
- so also: the second cohort leaves the server at most 10 MiB (0.5 MiB per session) above where the first left
  it. Python rarely gives freed memory back to the system, so RSS does not fall when sessions end; but a second
  cohort reuses what the first freed. Measured 2026-12-04: first cohort +20 to +21 MiB (caches and buffers
  filled once), second +0.6, +5.4, +4.7 and +3.9 MiB in four runs; a leak of 1 MiB per session would add
  20 MiB and fail.
  Finer than that RSS cannot resolve here: with the sessions kept (Streamlit's 120 s hold left on, so the
  first cohort's 20 sessions were still held while the second opened) the second cohort added +8.1 MiB,
  about 0.4 MiB per held session, which passes.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from benchmarks.harness import ROOT, Server
from deploy.serve_class import MALLOC_ARENA
from tests.e2e.conftest import new_context
from tests.waiting import until

SESSIONS = 20
IMAGE_READY = ("() => { const i = document.querySelector('.st-key-decoded img'); "
               "return !!i && i.complete && i.naturalWidth > 0; }")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def active_sessions(url: str) -> int:
    """Streamlit's own count of connected sessions (`/_stcore/metrics`, OpenMetrics text)."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics?families=active_sessions", timeout=10) as r:
        text = r.read().decode()
    found = re.search(r"^active_sessions(?:\{[^}]*\})?\s+(\d+)", text, re.M)
    assert found, f"no active_sessions in the server's metrics: {text[:300]!r}"
    return int(found.group(1))


def steady_rss(pid: int) -> float:
    """The server's RSS once it has stopped falling: the same reading (within 1 MiB) three times in a row."""
    readings: list[float] = []

    def steady() -> bool:
        readings.append(rss_mib(pid))
        tail = readings[-3:]
        return len(tail) == 3 and max(tail) - min(tail) < 1.0

    until(steady, "the server's RSS stops falling after the sessions ended", poll=0.5)
    return readings[-1]


def open_landing(browser, url: str):
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{url}/?lang=en")
    return context, page


def cohort(browser, url: str, pid: int, already: int) -> float:
    """SESSIONS visitors open the landing page, each until its decoded image is there, then all leave; the
    server's RSS with them all open."""
    visitors = [open_landing(browser, url) for _ in range(SESSIONS)]
    for _, visitor in visitors:
        visitor.wait_for_function(IMAGE_READY)
    until(lambda: active_sessions(url) == already + SESSIONS, f"{already + SESSIONS} sessions are counted")
    with_all = rss_mib(pid)
    for context, _ in visitors:
        context.close()
    until(lambda: active_sessions(url) == already, "the server drops the sessions that left")
    return with_all


def test_twenty_sessions_opened_and_closed_leave_the_server_within_10_percent(chromium, tmp_path):
    server = Server(ROOT / "explorer" / "app.py", tmp_path / "runs",  # malloc's arenas as a served explorer has them
                    env={"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "0", "MALLOC_ARENA_MAX": MALLOC_ARENA})
    try:
        first, page = open_landing(chromium, server.url)
        page.wait_for_function(IMAGE_READY)
        until(lambda: active_sessions(server.url) == 1, "the first visitor's session is counted")
        baseline = steady_rss(server.pid)
        open_1 = cohort(chromium, server.url, server.pid, already=1)
        after_1 = steady_rss(server.pid)
        open_2 = cohort(chromium, server.url, server.pid, already=1)
        after_2 = steady_rss(server.pid)
        first.close()
        until(lambda: active_sessions(server.url) == 0, "the server drops the first session")
        after = steady_rss(server.pid)
    finally:
        server.stop()

    print(f"\nserver RSS (MiB): baseline {baseline:.1f} after one session; cohort 1: {open_1:.1f} open, "
          f"{after_1:.1f} left; cohort 2: {open_2:.1f} open, {after_2:.1f} left; all left {after:.1f} "
          f"({(after / baseline - 1) * 100:+.1f}%)")
    assert after <= baseline * 1.10, (
        f"{SESSIONS} sessions opened and closed left the server at {after:.0f} MiB, more than 10% over the "
        f"{baseline:.0f} MiB it had after its first session")
    assert after_2 - after_1 <= 0.5 * SESSIONS, (
        f"a second cohort of {SESSIONS} sessions opened and closed left the server {after_2 - after_1:.1f} MiB "
        f"above where the first left it: the first cohort's sessions were not freed")
