"""deploy/serve_class.py without a browser: the nginx config it renders (nginx itself checks it), its refusals,
and `serve_class.py` as a person runs it: it prints the address once every server and the proxy are healthy,
and SIGTERM (or Ctrl-C) stops nginx and every server and leaves no temporary folder.

The browser tests of the set-up (a training seen live through the other server, a visitor kept on one server)
are tests/e2e/test_serve_class.py. Without nginx these tests skip; with VAE_EXPLORER_REQUIRE_NGINX=1 (.ci/run) or
CI=true they fail instead.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.serve_class import ROOT, Refused, ServedClass, free_port, healthy, render_nginx
from tests.e2e.test_serve_class import require_nginx
from tests.waiting import exited, until


@pytest.mark.parametrize("affinity, line", [("cookie", "hash $vae_affinity consistent;"), ("ip", "ip_hash;")])
def test_the_rendered_config_is_one_nginx_accepts(tmp_path, affinity, line):
    nginx = require_nginx()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / sub).mkdir(parents=True)
    text = render_nginx([18001, 18002, 18003], "127.0.0.1:18000", tmp_path, affinity)
    assert line in text and text.count("server 127.0.0.1:1800") == 3 and "@" not in text.replace("$", "")
    assert "proxy_set_header Upgrade $http_upgrade;" in text  # the websocket (/_stcore/stream) passes through
    (tmp_path / "nginx.conf").write_text(text)
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                              "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_refusals_are_one_sentence(tmp_path):
    with pytest.raises(Refused, match="affinity must be one of"):
        render_nginx([1], "2", tmp_path, "round-robin")
    with pytest.raises(Refused, match="at least one server"):
        render_nginx([], "2", tmp_path)
    with pytest.raises(Refused, match="nginx is not installed"):
        ServedClass(tmp_path / "runs", [free_port()], free_port(), nginx="")  # "" is no nginx: nginx_path() is not asked
    for bad in (["--servers", "0"], ["--port", "80"]):
        run = subprocess.run([sys.executable, "deploy/serve_class.py", *bad], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr


def consecutive_free_ports(count: int) -> int:
    """A port P such that P .. P+COUNT-1 are free now (the script takes its servers' ports in a row)."""
    def first():
        port = free_port()
        for p in range(port, port + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    return None
        return port if port + count < 65536 else None
    return until(first, f"{count} free ports in a row")


def children(pid: int) -> list[int]:
    """The processes PID started (Linux's /proc children list)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_script_serves_two_servers_and_a_signal_stops_everything(tmp_path, signum):
    require_nginx()
    port = consecutive_free_ports(3)
    script = subprocess.Popen([sys.executable, "deploy/serve_class.py", "--servers", "2", "--port", str(port),
                               "--host", "127.0.0.1", "--runs", str(tmp_path / "runs")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = script.stdout.readline()  # the address, once everything is healthy (or EOF if it exited)
        assert f"http://127.0.0.1:{port}" in said, said + script.stderr.read()
        started = children(script.pid)
        assert len(started) == 3  # two servers and nginx's master
        assert all(healthy(f"http://127.0.0.1:{p}") for p in (port, port + 1, port + 2))
        prefix = Path(said.rsplit(": ", 1)[1].rstrip(")\n"))
        assert f"listen 127.0.0.1:{port};" in (prefix / "nginx.conf").read_text()
        script.send_signal(signum)
        assert exited(script, "serve_class.py ends on the signal") == 0
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert "stopping" in script.stdout.read()
    assert not any(alive(pid) for pid in started)
    assert not any(healthy(f"http://127.0.0.1:{p}") for p in (port, port + 1, port + 2))
    assert not prefix.exists()  # its temporary folder is gone


def test_served_explorers_get_two_malloc_arenas_unless_the_operator_chose(tmp_path, monkeypatch):
    """Each session's script runs in a thread; glibc's default arenas keep what 20 visitors freed spread over many
    (tests/e2e/test_session_memory.py measures it), so a served explorer starts with MALLOC_ARENA_MAX=2, as the
    Dockerfile and `make run` do; an operator's own value wins."""
    from deploy.serve_class import server_env

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert server_env(tmp_path)["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert server_env(tmp_path)["MALLOC_ARENA_MAX"] == "4"
    assert "MALLOC_ARENA_MAX=2" in (ROOT / "Dockerfile").read_text()
    assert "MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-2}" in (ROOT / "Makefile").read_text()
