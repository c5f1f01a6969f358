"""A class on several servers on this machine: N `streamlit run explorer/app.py` on one runs folder, behind nginx.

    python deploy/serve_class.py --servers 2 --port 8501        (or: make serve-class N=2)

starts N explorer servers on consecutive ports after PORT (127.0.0.1 only, served settings: VAE_EXPLORER_SERVED=1,
the same VAE_EXPLORER_RUNS), renders deploy/nginx.conf.template into a temporary folder, starts nginx there as a
plain process (its own pid file, logs and temporary paths; a port above 1024 needs no privilege), waits until every
server and the proxy answer their health check, prints the address, and on Ctrl-C or SIGTERM stops nginx and the
servers (trainings are processes of their own and go on; a restarted class shows them live). docs/deploy.md,
"A class on several servers", explains the set-up; tests/e2e/test_serve_class.py drives it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
APP = ROOT / "explorer" / "app.py"
AFFINITIES = {"cookie": "hash $vae_affinity consistent;", "ip": "ip_hash;"}
HANG_S = 300.0  # a hang guard, not a budget: a server not healthy by then never will be
GRACE_S = 10.0  # how long a stopped process may take to end before it is killed


class Refused(Exception):
    """What keeps the class from starting, in one sentence (exit code 2)."""


def nginx_path() -> str | None:
    for candidate in (os.environ.get("NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_nginx(ports: list[int], listen: str, prefix: Path, affinity: str = "cookie",
                 template: str | None = None) -> str:
    """The nginx config for servers on 127.0.0.1:PORTS behind LISTEN ("HOST:PORT" or "PORT"), writing under PREFIX."""
    if affinity not in AFFINITIES:
        raise Refused(f"affinity must be one of {', '.join(AFFINITIES)}, not {affinity!r}.")
    if not ports:
        raise Refused("a class needs at least one server.")
    text = template if template is not None else TEMPLATE.read_text()
    as_root = os.geteuid() == 0  # then nginx's workers drop to nobody (Debian's group for it is nogroup)
    values = {"@USER@": "user nobody nogroup;" if as_root else "# not root: the workers run as this user",
              "@PREFIX@": str(prefix), "@LISTEN@": listen, "@AFFINITY@": AFFINITIES[affinity],
              "@SERVERS@": "\n".join(f"        server 127.0.0.1:{p};" for p in ports)}
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen, what: str, log: Path) -> None:
    """Until URL's health check says ok (an event; HANG_S is only a hang guard); a sentence if PROC exits."""
    guard = time.monotonic() + HANG_S
    while not healthy(url):
        if proc.poll() is not None:
            said = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
            raise Refused(f"{what} exited with code {proc.returncode} before it was healthy: {said.strip()}")
        if time.monotonic() > guard:
            raise Refused(f"{what} was not healthy after {HANG_S:.0f} s.")
        time.sleep(0.05)


MALLOC_ARENA = "2"  # glibc malloc arenas of a served explorer (server_env)


def server_env(runs: Path, extra: dict | None = None) -> dict:
    """A served explorer's environment: the shared runs folder, served mode (it listens on loopback only, behind
    the proxy, so it must be told), and whatever the operator set (VAE_EXPLORER_* limits, Ray's address).
    glibc's malloc gets 2 arenas unless the operator chose (MALLOC_ARENA): each session's script runs in a thread of
    its own, and with an arena per thread freed memory stays spread over up to 8 per core (20 visitors who came and
    left: +38 MiB against +13 with 2, tests/e2e/test_session_memory.py)."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENA, **os.environ, "VAE_EXPLORER_RUNS": str(runs), "VAE_EXPLORER_SERVED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(extra or {})}


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none"]


class ServedClass:
    """N explorer servers on RUNS behind nginx on LISTEN_PORT; ``stop()`` (or ``with``) ends them all."""

    def __init__(self, runs: str | Path, ports: list[int], listen_port: int, host: str = "127.0.0.1",
                 affinity: str = "cookie", env: dict | None = None, nginx: str | None = None):
        self.runs, self.ports = Path(runs).resolve(), list(ports)
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{listen_port}"
        self.server_urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.nginx_binary = nginx_path() if nginx is None else nginx or None  # "": none (a test's)
        if self.nginx_binary is None:
            raise Refused("nginx is not installed (Debian: apt-get install -y nginx-light).")
        self.prefix = Path(tempfile.mkdtemp(prefix="vae-class-"))
        self.access_log, self.error_log = self.prefix / "access.log", self.prefix / "error.log"
        self.servers: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self._stopped = threading.Lock()
        try:
            self._start(host, listen_port, affinity, env)
        except BaseException:
            self.stop()
            raise

    def _start(self, host: str, listen_port: int, affinity: str, env: dict | None) -> None:
        self.runs.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "tmp" / sub).mkdir(parents=True)
        if os.geteuid() == 0:  # nginx's workers run as nobody: they write request bodies under tmp/
            self.prefix.chmod(0o755)
            for path in [self.prefix / "tmp", *(self.prefix / "tmp").iterdir()]:
                shutil.chown(path, "nobody", "nogroup")
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_nginx(self.ports, f"{host}:{listen_port}", self.prefix, affinity))
        checked = subprocess.run([self.nginx_binary, "-t", "-q", "-p", str(self.prefix), "-c", str(conf),
                                  "-e", str(self.error_log)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise Refused(f"nginx refused the config {conf}: {checked.stderr.strip()}")
        environment = server_env(self.runs, env)
        for port in self.ports:
            log = self.prefix / f"server-{port}.log"
            with open(log, "wb") as out:  # a file, not a pipe nobody reads (it would fill and block the server)
                self.servers.append(subprocess.Popen(server_command(port), cwd=ROOT, env=environment,
                                                     stdout=out, stderr=subprocess.STDOUT))
        for port, url, proc in zip(self.ports, self.server_urls, self.servers):
            wait_healthy(url, proc, f"the explorer server on port {port}", self.prefix / f"server-{port}.log")
        self.nginx = subprocess.Popen([self.nginx_binary, "-p", str(self.prefix), "-c", str(conf),
                                       "-e", str(self.error_log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.url, self.nginx, "nginx", self.error_log)

    def upstream_of(self, address: str) -> int | None:
        """The index of the server at ADDRESS ("127.0.0.1:PORT", as nginx's $upstream_addr names it)."""
        port = address.rsplit(":", 1)[-1]
        return self.ports.index(int(port)) if port.isdigit() and int(port) in self.ports else None

    def stop(self) -> None:
        """nginx first (no new requests), then the servers: SIGTERM, then SIGKILL after GRACE_S. Idempotent."""
        if not self._stopped.acquire(blocking=False):
            return
        for proc in ([self.nginx] if self.nginx else []) + self.servers:
            if proc.poll() is None:
                proc.terminate()
        for proc in ([self.nginx] if self.nginx else []) + self.servers:
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> "ServedClass":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=2, help="how many explorer servers (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="the proxy's port; servers use the next N ports")
    parser.add_argument("--host", default="0.0.0.0", help="the proxy's address (default 0.0.0.0: the network)")
    parser.add_argument("--runs", default=os.environ.get("VAE_EXPLORER_RUNS", "runs").split(os.pathsep)[0],
                        help="the runs folder every server shares (default $VAE_EXPLORER_RUNS or runs)")
    parser.add_argument("--affinity", choices=sorted(AFFINITIES), default="cookie",
                        help="cookie (each browser its server) or ip (each address its server)")
    args = parser.parse_args(argv)
    if args.servers < 1 or not 1024 < args.port < 65536 - args.servers:
        print("serve_class: --servers must be at least 1 and --port above 1024 with room for the servers after it.",
              file=sys.stderr)
        return 2
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    try:
        served = ServedClass(args.runs, [args.port + 1 + i for i in range(args.servers)], args.port, args.host,
                             args.affinity)
    except Refused as err:
        print(f"serve_class: {err}", file=sys.stderr)
        return 2
    with served:
        print(f"{args.servers} explorer servers on {served.runs} behind nginx ({args.affinity} affinity): "
              f"{served.url}  (Ctrl-C stops them; nginx's config and logs: {served.prefix})", flush=True)
        while not done.wait(1.0):  # the class runs until a signal; a crashed process is reported and ends it
            dead = [p for p in served.servers + [served.nginx] if p.poll() is not None]
            if dead and not done.is_set():  # (Ctrl-C in a terminal reaches the whole process group at once)
                print(f"serve_class: a process exited (code {dead[0].returncode}); stopping the class.",
                      file=sys.stderr)
                return 1
        print("serve_class: stopping nginx and the servers.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
