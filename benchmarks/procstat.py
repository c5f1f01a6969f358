"""What processes cost, read from /proc only (Linux): CPU seconds, resident memory, process trees, the machine.

Used by benchmarks/load.py to say what the server, its trainings, the benchmark's own browser and everything
else on the machine used during a phase, so that a latency measured on a shared machine can be read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (field 3, the state, is index 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 once it has gone)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (or VmHWM, the kernel's high-water mark) of a process in KiB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes() -> dict[int, tuple[int, str]]:
    """Every process now: pid -> (parent pid, command name)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            comm = (entry / "comm").read_text().strip()
            found[int(entry.name)] = (int(_stat_fields(int(entry.name))[1]), comm)
        except (OSError, ValueError, IndexError):
            continue
    return found


def descendants(root: int, table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    """ROOT's children, their children, and so on (not ROOT itself)."""
    table = processes() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def started_here(prefix: str, exclude: int) -> set[int]:
    """The processes this process started (children, grandchildren...) whose command name starts with PREFIX
    ("chrom": the browser Playwright started; "node": Playwright's driver), not those of other programs on the
    machine; EXCLUDE: a child whose tree is left out (the server and its trainings)."""
    table = processes()
    mine = descendants(os.getpid(), table) - descendants(exclude, table) - {exclude}
    return {pid for pid in mine if table[pid][1].startswith(prefix)}


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over its cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])       # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / TICK, total / TICK


class CpuMeter:
    """CPU used over a phase by named groups of processes and by the whole machine, in cores (1.0 = one core
    busy all the time). Processes that end during the phase count up to their last reading."""

    def __init__(self, groups: dict[str, Callable[[], set[int]]]):
        self.groups = groups  # name -> () -> set of pids now
        self.cores = os.cpu_count() or 1

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.busy0, _ = machine_busy()
        self.seen: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in self.groups}
        self.sample()

    def sample(self) -> None:
        """Read every group's processes now (call often enough to catch processes that come and go)."""
        for name, pids in self.groups.items():
            for pid in pids():
                cpu = cpu_seconds(pid)
                first, _ = self.seen[name].get(pid, (cpu, cpu))
                self.seen[name][pid] = (first, max(cpu, self.seen[name].get(pid, (0, 0))[1]))

    def stop(self) -> dict[str, float]:
        """Cores used per group, 'machine' (everything on it) and 'seconds' (the phase's length)."""
        self.sample()
        seconds = time.monotonic() - self.t0
        busy1, _ = machine_busy()
        used = {name: sum(last - first for first, last in pids.values()) / seconds for name, pids in self.seen.items()}
        used["machine"] = (busy1 - self.busy0) / seconds
        used["seconds"] = seconds
        return used
