"""The app's side of trainings: which launcher starts them, who the visitor is, the visitor's quota, the
runs waiting for a slot, and the visitors who left.

Trainings are processes (or Ray tasks) that write their run folders; every page reads those folders
(training/runs/status.py) and nothing here keeps a training's state. What this module keeps in the
server's memory is only what the server alone can know: which browser sessions belong to which
visitor, so that the queued trainings of a visitor who has left can be cancelled.

A visitor is a browser, not a tab: the id is derived from Streamlit's XSRF cookie (a random token the
browser keeps across reloads and tabs), hashed, so a reload or a second tab is the same visitor.
Without the cookie (XSRF protection off, tests) the session is the visitor.

A new browser context is a new cookie, so a served app also counts a visitor's trainings by network
address (``st.context.ip_address``): a visitor may have MAX_ACTIVE_PER_VISITOR trainings queued or
running, counting every run asked for by its browser or from its address, and the runs folder as many as
$VAE_EXPLORER_MAX_QUEUED together. The run's status keeps the browser's id (``requested_by``) and a key of
the address (``requested_from``: a keyed hash with this server's own random secret, never the address),
so the counts hold across reruns, reloads and new browser contexts. Behind a proxy every visitor has the
proxy's address: the per-address limit then binds them together.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import os
import threading
from pathlib import Path

import streamlit as st

from explorer.state.serving import served
from training.core.environment import max_queued_from_env
from training.core.errors import UserError
from training.jobs.control import adopt_queued, launcher_from_env, stop_run
from training.jobs.launcher import Launcher, LocalLauncher, start_queued
from training.runs.queue import scan
from training.runs.status import QUEUED

MAX_ACTIVE_PER_VISITOR = 4  # queued + running, so one visitor cannot fill the queue
XSRF_COOKIE = "_streamlit_xsrf"

log = logging.getLogger(__name__)


class _Visitors:
    """visitor id -> the session ids seen for it in this server process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: dict[str, set[str]] = {}
        self.adopted: set[str] = set()
        self.secret = os.urandom(32)  # keys the addresses recorded in statuses


@st.cache_resource(show_spinner=False)
def _visitors() -> _Visitors:
    return _Visitors()


@st.cache_resource(show_spinner=False)
def _launcher() -> Launcher:
    return launcher_from_env()


def launcher(root: Path) -> Launcher:
    """The server's launcher; the first time it meets a runs folder, it relaunches the runs queued
    there whose process is gone (the server or the machine went down before they started)."""
    chosen = _launcher()
    registry = _visitors()
    key = str(Path(root).resolve())
    with registry.lock:
        first = key not in registry.adopted
        registry.adopted.add(key)
    if first:
        try:
            adopt_queued(root, chosen)
        except (UserError, OSError):
            log.warning("could not relaunch the queued runs of %s", root, exc_info=True)
    return chosen


def _token_from_cookie(value: str) -> bytes | None:
    """The random token of a version-2 XSRF cookie ``2|mask|masked_token|timestamp``."""
    try:
        version, mask_hex, masked_hex, _ = value.split("|")
        mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
    except (ValueError, binascii.Error):
        return None
    if version != "2" or len(mask) != 4 or not masked:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


def session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "local"


def visitor_id() -> str:
    """A short, stable id of this browser (see the module's doc); never the cookie itself."""
    session = session_id()
    try:
        cookie = st.context.cookies.get(XSRF_COOKIE)
    except Exception:  # no request context (AppTest)
        cookie = None
    token = _token_from_cookie(cookie) if cookie else None
    visitor = ("v-" + hashlib.sha256(b"vae-explorer visitor " + token).hexdigest()[:16]) if token else "s-" + session[:18]
    registry = _visitors()
    with registry.lock:
        registry.sessions.setdefault(visitor, set()).add(session)
    return visitor


def address_key(address: str | None) -> str | None:
    """A short key of a network address, the same for the life of this server, from which the address
    cannot be told; None for no address (a local visitor)."""
    if not address:
        return None
    return "a-" + hmac.new(_visitors().secret, address.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def visitor_address() -> str | None:
    """The visitor's network address; None locally (Streamlit gives none for loopback) and outside a server."""
    try:
        address = st.context.ip_address
    except Exception:  # no request context
        return None
    return address if isinstance(address, str) else None  # AppTest's stand-in is no text


def quota(visitor: str, per_visitor: int = MAX_ACTIVE_PER_VISITOR, address: str | None = None) -> dict:
    """``submit``'s and ``start_sweep``'s arguments for this visitor: who asks, and the limits. Locally one's
    browser alone is counted; a served app counts the address too, and the whole runs folder."""
    if not served():
        return {"requested_by": visitor, "max_per_visitor": per_visitor}
    return {"requested_by": visitor, "requested_from": address_key(address or visitor_address()),
            "max_per_visitor": per_visitor, "max_in_folder": max_queued_from_env()}


def tend(root: Path) -> None:
    """What the app does to its runs folder as it refreshes: cancel the queued trainings of visitors who left,
    and start the runs waiting for a slot that a training ended without starting (it crashed)."""
    cancel_queued_of_left_visitors(root)
    try:
        chosen = launcher(root)
        if isinstance(chosen, LocalLauncher):
            start_queued(root, chosen)
    except (UserError, OSError):
        log.warning("could not start the queued runs of %s", root, exc_info=True)


def session_alive(session: str) -> bool:
    """Whether Streamlit still knows the session (connected, or disconnected but resumable).
    Outside a ``streamlit run`` server every session counts as alive."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return True
        runtime = Runtime.instance()
        manager = getattr(runtime, "_session_mgr", None)
        if manager is not None and hasattr(manager, "get_session_info"):
            return manager.get_session_info(session) is not None
        return runtime.is_active_session(session)
    except Exception:  # an internal API that moved: never cancel anything because of it
        log.debug("could not ask Streamlit about session %s", session, exc_info=True)
        return True


def visitors_who_left() -> set[str]:
    """Visitors this server has seen whose every session has ended."""
    registry = _visitors()
    with registry.lock:
        seen = {v: set(s) for v, s in registry.sessions.items()}
    return {v for v, sessions in seen.items() if not any(session_alive(s) for s in sessions)}


def cancel_queued_of_left_visitors(root: Path) -> int:
    """Cancel the queued trainings of visitors who have left; running ones keep running. How many.

    Only visitors this server has seen leave count: after a restart, runs queued before it are not
    cancelled (they start once there is room)."""
    left = visitors_who_left()
    if not left:
        return 0
    count = 0
    for run_dir, status, state in scan(root):
        if state == QUEUED and status.requested_by in left:
            stop_run(run_dir, wait=0.0)
            count += 1
    return count
