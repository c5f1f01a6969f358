"""The server's safe settings hold however `streamlit run` is started: from the repository, from another
folder, with an absolute path. They live beside the entry point (explorer/.streamlit/config.toml), which
Streamlit reads as the script's own config; only flags and STREAMLIT_* variables override them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import free_port, wait_healthy
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "explorer" / "app.py"
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net/tcp{,6} write them


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel writes them) of every socket listening on PORT."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def resolved_settings(cwd: Path) -> tuple[str, bool]:
    """server.address and browser.gatherUsageStats as `streamlit run APP` started in CWD resolves them
    (the CLI sets the entry point's path before it reads the config files: streamlit/web/cli.py)."""
    code = ("import streamlit.config as c; c._main_script_path = %r; c.get_config_options(force_reparse=True); "
            "print(c.get_option('server.address')); print(c.get_option('browser.gatherUsageStats'))") % str(APP)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], out[1] == "True"


def start(cwd: Path, port: int, env: dict) -> subprocess.Popen:
    """`streamlit run /abs/explorer/app.py` started in CWD, with no address flag: the config decides."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
           "--server.headless", "true", "--server.fileWatcherType", "none"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    server = subprocess.Popen(cmd, cwd=cwd, env={**clean, "VAE_EXPLORER_RUNS": str(cwd / "runs"), **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_healthy(f"http://127.0.0.1:{port}", server)
    return server


def test_started_from_another_folder_it_listens_on_loopback_only(tmp_path):
    port = free_port()
    server = start(tmp_path, port, {})
    try:
        addresses = listening_addresses(port)
        assert addresses and addresses <= LOOPBACK, addresses
        for ip in _own_non_loopback_ips():  # nothing answers on the machine's other addresses
            with pytest.raises(OSError), socket.create_connection((ip, port), timeout=1):  # refused (or silent): nobody answers
                pass
    finally:
        server.terminate()
        server.wait(timeout=HANG_S)  # a hang guard


def test_the_operator_opens_it_up_only_by_asking_explicitly(tmp_path):
    port = free_port()
    server = start(tmp_path, port, {"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"})
    try:
        assert listening_addresses(port) == {"00000000"}  # every IPv4 address, as asked
    finally:
        server.terminate()
        server.wait(timeout=HANG_S)  # a hang guard


def _own_non_loopback_ips() -> list[str]:
    try:
        ips = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        return []
    return sorted(ip for ip in ips if not ip.startswith("127."))


def test_the_safe_settings_hold_from_any_folder_and_over_a_users_own_config(tmp_path):
    assert resolved_settings(ROOT) == ("localhost", False)
    assert resolved_settings(tmp_path) == ("localhost", False)
    # a config in the folder it is started from (or in ~/.streamlit) does not open it up
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text(
        '[server]\naddress = "0.0.0.0"\n[browser]\ngatherUsageStats = true\n')
    assert resolved_settings(tmp_path) == ("localhost", False)


def test_there_is_one_server_config_and_it_sits_beside_the_entry_point():
    assert (APP.parent / ".streamlit" / "config.toml").is_file()
    assert not (ROOT / ".streamlit").exists()  # a second copy would be read only from the repository root
