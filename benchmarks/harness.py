"""A real Streamlit server and the Chromium flags: one harness for the browser tests (tests/e2e) and the
benchmarks (latency, scrub, load), kept here so that benchmarks never import from tests/."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deploy.serve_class import free_port  # one home: a free port on loopback (re-exported here)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


HANG_S = 300.0  # a hang guard, not a budget: a server that is not up by then never will be (tests/waiting.py)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path | None = None, timeout: float = HANG_S) -> float:
    """Block until /_stcore/health answers ok, however long a busy machine takes to start the server (TIMEOUT is
    a hang guard); returns the moment it did (time.perf_counter). LOG: where its stderr goes, for the message."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            said = log.read_text(errors="replace")[-2000:] if log is not None else ""
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {said}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamlit did not become healthy within {timeout} s")


class Server:
    """``streamlit run SCRIPT`` on RUNS_ROOT; ``port`` reuses a port (a restart the open tabs reconnect to)."""

    def __init__(self, script: str | Path, runs_root: Path, env: dict | None = None, port: int | None = None):
        self.script, self.runs_root, self.env = Path(script), Path(runs_root), env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        full_env = {**os.environ, "VAE_EXPLORER_RUNS": str(runs_root), **(env or {})}
        # stderr to a file, not a pipe: a pipe nobody reads fills up (64 KB) and then blocks the server
        self.log = Path(tempfile.mkstemp(prefix="vae-server-", suffix=".log")[1])
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=log)
        self.ready_at = wait_healthy(self.url, self.proc, self.log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the server, as a crash or the OOM killer would: no shutdown code runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()  # SIGKILL cannot be caught: it ends

    def restart(self) -> "Server":
        """A new server on the same script, runs folder and port (after ``kill`` or ``stop``)."""
        return Server(self.script, self.runs_root, self.env, port=self.port)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)  # a clean shutdown, else SIGKILL below (nothing waits on this)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


