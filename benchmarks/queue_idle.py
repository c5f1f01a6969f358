"""What waiting costs: RUNS trainings queued behind one that holds the only slot, measured over WINDOW seconds.

    python benchmarks/queue_idle.py [--runs 25] [--window 20] [--mode app|cli]

``app``: queued as the app queues them (training/jobs/control.py ``submit``): they wait without a process.
``cli``: ``python -m training fit --max-running 1`` for each, as a command-line user queues: a waiting process
each, polling the queue with a growing pause. The slot is held by this script itself (a run recorded as running
under its lock), so nothing trains. Prints the processes whose command line names the runs folder, their
memory, and the CPU seconds they used in the window (from /proc/PID/stat), and the time the app's refresh
(``start_queued``, which finds no free slot) takes with RUNS in line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from training.core.config import RunConfig  # noqa: E402
from training.runs.lock import RunLock  # noqa: E402
from training.runs.queue import queue_positions  # noqa: E402
from training.runs.status import RUNNING, Owner, RunStatus, read_status, write_status  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CONFIG = RunConfig(model={"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2},
                   train={"dataset": "digits", "epochs": 1})


def naming(folder: Path) -> list[int]:
    """Processes (not this one) whose command line names something under FOLDER."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--mode", choices=("app", "cli"), default="app")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="queue-idle-")) / "runs"
    holder = root / "holder"
    holder.mkdir(parents=True)
    lock = RunLock(holder).acquire()  # the slot's owner: this script, training nothing
    write_status(holder, RunStatus(state=RUNNING, launcher="cli", queued_at=time.time(), owner=Owner.me()))
    procs = []
    try:
        if args.mode == "app":
            from training.jobs.control import submit
            from training.jobs.launcher import LocalLauncher

            launcher = LocalLauncher(max_running=1, threads=1)
            for i in range(args.runs):
                submit(root, f"q{i:02d}", CONFIG, launcher)
            time.sleep(10.0)  # (before issue 23 each had a process: let them start and settle)
        else:
            for i in range(args.runs):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "training", "fit", "--dataset", "digits", "--hidden", "16", "--latent-dim",
                     "2", "--epochs", "1", "--quiet", "--threads", "1", "--max-running", "1", "--out",
                     str(root / f"q{i:02d}")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            while not all((root / f"q{i:02d}" / "status.json").is_file()
                          and read_status(root / f"q{i:02d}").owner is not None for i in range(args.runs)):
                time.sleep(0.2)  # every one of them has claimed its run and waits
            time.sleep(10.0)  # and has reached its longest pause between looks
        assert len(queue_positions(root)) == args.runs
        pids = naming(root)
        before = {p: cpu_seconds(p) for p in pids}
        time.sleep(args.window)
        used = sum(cpu_seconds(p) - before[p] for p in pids)
        memory = sum(rss_mb(p) for p in pids)
        print(f"mode {args.mode}: {args.runs} queued; {len(pids)} processes waiting, {memory:.0f} MB resident; "
              f"{used:.2f} CPU s in {args.window:.0f} s = {used / args.window:.3f} cores")
        if args.mode == "app" and not pids:
            from training.jobs.launcher import LocalLauncher, start_queued

            started = time.perf_counter()
            assert start_queued(root, LocalLauncher(max_running=1, threads=1)) == []
            print(f"the app's refresh (start_queued, no free slot) takes {(time.perf_counter() - started) * 1000:.1f} ms")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for pid in naming(root):  # what this script's queue started (the app's launcher before issue 23)
            os.kill(pid, signal.SIGKILL)
        lock.release()
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
