"""A class on one explorer server: 40 browser sessions moving sliders at a person's pace, alone, then while 2 train.

Starts one real `streamlit run explorer/app.py` on 127.0.0.1 (runs folder: a temporary directory) and one
headless Chromium (one browser process) with a separate context (= Streamlit session, a visitor) per user:
  - --sessions (40) open the default page (Latent sliders); one first, whose image loads the model (the server's
    memory then is the baseline that "per session" is counted from), then the others;
  - each session presses an arrow key on slider z_0 every --pace (2.0) seconds, a walk of 5 steps one way and
    5 back; the sessions are staggered (each starts at its own random moment within the first --pace), so the
    server gets --sessions / --pace changes a second, spread out, not all at once;
  - each page times key press -> new decoded image loaded itself (performance.now()); a press made before the
    previous one's image came is counted from the older press (what the visitor waits for);
  - phase 1: --seconds (60) of that with no training;
  - then --trainings (2) more sessions start a training each on the Train page (mnist5k, --epochs, latent 2,
    hidden 32: each a process of its own, nice 10, one torch thread) and keep watching it (--no-watch: leave);
  - phase 2: --seconds of the same while the trainings run.
For each phase it prints p50/p90/p99 of the latency, the CPU used (from /proc/PID/stat, utime + stime) by the
server, by each training, by this benchmark's own Chromium processes (the visitors' browsers run on the same
machine here), by this script, and by the whole machine (/proc/stat; the rest is other programs), as cores and
as % of the machine; the server's memory (VmRSS: before any visitor, after the first, with all, peak, per
session) and the trainings' peak RSS; and the load average (uptime) before and after.
--changes N (the old flag) makes each phase N changes per session long (N x --pace seconds).

    python benchmarks/load.py [--sessions 40] [--pace 2.0] [--seconds 60 | --changes N] [--epochs 150]
                              [--trainings 2] [--cap 900] [--no-watch] [--pin] [--seed 0]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path
from benchmarks.latency import percentile
from benchmarks.load_pages import IMAGE_READY, VIEWPORT, WATCH, collect, start_training
from benchmarks.procstat import CpuMeter, rss_kib, started_here

# 40+ windows at once: keep Chromium from throttling the ones it considers in the background
LOAD_ARGS = [*CHROMIUM_ARGS, "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows"]
WALK = 5  # presses one way, then as many back


class Sampler(threading.Thread):
    """Every 0.2 s the server's and the trainings' VmRSS peaks, every second the CPU meter's processes (/proc)."""

    def __init__(self, pid: int, trainings):
        super().__init__(daemon=True)
        self.pid, self.trainings, self.running, self.meter = pid, trainings, True, None
        self.peak, self.train_peak = 0, {}

    def run(self) -> None:
        tick = 0
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            for tpid in self.trainings():
                self.train_peak[tpid] = max(self.train_peak.get(tpid, 0), rss_kib(tpid))
            if self.meter is not None and tick % 5 == 0:  # every second: new browser or training processes
                self.meter.sample()
            tick += 1
            time.sleep(0.2)


def training_pids(runs: Path) -> list[int]:
    pids = []
    for status in runs.glob("*/status.json"):
        try:
            owner = json.loads(status.read_text()).get("owner") or {}
        except (OSError, ValueError):
            continue
        if owner.get("pid"):
            pids.append(int(owner["pid"]))
    return pids


def trainings_done(runs: Path, names: list[str], epochs: int) -> int:
    done = 0
    for name in names:
        history = runs / name / "history.jsonl"
        if history.is_file():
            records = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
            done += bool(records) and records[-1].get("epoch") == epochs
    return done


def stop_trainings(runs: Path) -> None:
    """SIGTERM the trainings this run started (they outlive the server by design) and wait until they have
    gone (each stops after its current step; SIGKILL after 30 s), so that their folder can be removed. Only
    a process whose command line names this run's runs folder is signalled (a pid may have been reused)."""
    def ours() -> list[int]:
        found = []
        for tpid in training_pids(runs):
            try:
                if str(runs).encode() in Path(f"/proc/{tpid}/cmdline").read_bytes():
                    found.append(tpid)
            except OSError:
                pass
        return found

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for tpid in ours():
            try:
                os.kill(tpid, sig)
            except OSError:
                pass
        until = time.monotonic() + 30
        while ours() and time.monotonic() < until:
            time.sleep(0.2)


def paced_phase(sliders, seconds: float, pace: float, rng: random.Random, deadline: float, stop=lambda: False):
    """Every session presses its walk's next key every PACE seconds, starting at its own random moment; for
    SECONDS. Returns (presses, the driver's lateness per press in ms: how far behind the plan it pressed)."""
    start = time.monotonic()
    end = min(start + seconds, deadline - 30)
    plan = [(start + rng.uniform(0, pace), i) for i in range(len(sliders))]
    heapq.heapify(plan)
    step = [rng.randrange(2 * WALK) for _ in sliders]
    late: list[float] = []
    while plan and not stop():
        due, i = heapq.heappop(plan)
        if due >= end:
            continue
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        late.append(max(0.0, time.monotonic() - due) * 1000)
        sliders[i].keyboard.press("ArrowRight" if step[i] % (2 * WALK) < WALK else "ArrowLeft")
        step[i] += 1
        heapq.heappush(plan, (due + pace, i))
    return len(late), late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=40, help="slider sessions (default 40)")
    parser.add_argument("--pace", type=float, default=2.0, help="seconds between one session's changes (default 2)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60 s)")
    parser.add_argument("--changes", type=int, default=None,
                        help="instead of --seconds: changes per session and phase (N x --pace seconds)")
    parser.add_argument("--trainings", type=int, default=2, help="trainings started from their own sessions")
    parser.add_argument("--epochs", type=int, default=150,
                        help="epochs of each training (default 150: they outlast phase 2)")
    parser.add_argument("--no-watch", action="store_true",
                        help="the training sessions leave the Train page once their training started")
    parser.add_argument("--pin", action="store_true",
                        help="run the server (and the trainings it starts) on core 0 and the browser on the other "
                             "cores, so the browser's own work does not hide what the trainings cost the server")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sessions' start moments and walks")
    parser.add_argument("--cap", type=float, default=900.0, help="seconds for the whole run (default 900)")
    args = parser.parse_args()
    seconds = args.changes * args.pace if args.changes else args.seconds
    if not (1 <= args.sessions <= 80 and 0.2 <= args.pace <= 60 and 5 <= seconds <= 600 and 0 <= args.trainings <= 4):
        sys.exit("Keep it bounded: 1-80 sessions, a pace of 0.2-60 s, phases of 5-600 s, 0-4 trainings.")
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    t_start = time.monotonic()
    deadline = t_start + args.cap
    left_ms = lambda: max(1000, int((deadline - time.monotonic()) * 1000))  # noqa: E731
    rng = random.Random(args.seed)
    names = [f"load-{i}" for i in range(args.trainings)]
    load_before = os.getloadavg()
    phases: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        runs = Path(tmp)
        cores = sorted(os.sched_getaffinity(0))
        if args.pin and len(cores) < 2:
            sys.exit("--pin needs at least 2 cores.")
        if args.pin:
            os.sched_setaffinity(0, {cores[0]})  # inherited by the server, and so by its trainings
        server = Server(ROOT / "explorer" / "app.py", runs)
        if args.pin:
            os.sched_setaffinity(0, set(cores[1:]))  # this process and the browser it starts
        pid = server.proc.pid
        rss = {"before": rss_kib(pid)}
        sampler = Sampler(pid, lambda: training_pids(runs))
        sampler.start()
        groups = {"server": lambda: {pid}, "trainings": lambda: set(training_pids(runs)),
                  "browser": lambda: started_here("chrom", exclude=pid),
                  "script": lambda: {os.getpid(), *started_here("node", exclude=pid)}}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=LOAD_ARGS)
                sliders = []
                t_open = time.monotonic()
                for k in range(args.sessions):
                    page = browser.new_context(viewport=VIEWPORT).new_page()
                    page.goto(server.url, wait_until="commit")
                    sliders.append(page)
                    if k == 0:  # the first visitor loads the model: the baseline for "per session"
                        page.wait_for_function(IMAGE_READY, timeout=left_ms(), polling=50)
                        time.sleep(1.0)
                        rss["one"] = rss_kib(pid)
                for page in sliders:
                    page.wait_for_function(IMAGE_READY, timeout=left_ms(), polling=100)
                all_open_s = time.monotonic() - t_open
                sliders[0].wait_for_timeout(2000)  # let every page settle
                rss["all"] = rss_kib(pid)

                def phase(label: str, stop=lambda: False) -> None:
                    for page in sliders:
                        page.evaluate(WATCH)
                        page.locator('.st-key-z_0 input[type="range"]').focus()
                    sampler.peak = rss_kib(pid)
                    meter = CpuMeter(groups)
                    meter.start()
                    sampler.meter = meter
                    presses, late = paced_phase(sliders, seconds, args.pace, rng, deadline, stop)
                    sampler.meter = None
                    cpu = meter.stop()
                    done = trainings_done(runs, names, args.epochs) if label != "no training" else None
                    lat, unanswered = collect(sliders, left_ms)
                    phases[label] = {"presses": presses, "late": late, "lat": lat, "unanswered": unanswered,
                                     "cpu": cpu, "rss_peak": sampler.peak,
                                     "train_rss": dict(sampler.train_peak), "load": os.getloadavg()}
                    if done is not None:
                        phases[label]["done"] = done

                phase("no training")
                if args.trainings:
                    trainers = []
                    for name in names:
                        page = browser.new_context(viewport=VIEWPORT).new_page()
                        start_training(page, server.url, name, args.epochs, left_ms())
                        trainers.append(page)
                    while len(training_pids(runs)) < len(names) and time.monotonic() < deadline:
                        time.sleep(0.2)  # their processes are up and claimed their folders
                    if args.no_watch:
                        for page in trainers:
                            page.goto("about:blank")
                    sliders[0].wait_for_timeout(2000)
                    checked = {"at": 0.0, "all": False}

                    def all_done() -> bool:  # read the runs' histories at most once a second
                        if time.monotonic() - checked["at"] > 1.0:
                            checked["at"] = time.monotonic()
                            checked["all"] = trainings_done(runs, names, args.epochs) == len(names)
                        return checked["all"]

                    phase(f"{args.trainings} trainings", stop=all_done)
                browser.close()
        finally:
            sampler.running = False
            rss["hwm"] = rss_kib(pid, "VmHWM")
            server.stop()
            stop_trainings(runs)
    report(args, seconds, all_open_s, rss, phases, load_before, time.monotonic() - t_start)


def report(args, seconds, all_open_s, rss, phases, load_before, total_s) -> None:
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    cores = os.cpu_count() or 1
    n = args.sessions
    print(f"load benchmark: 1 streamlit server on 127.0.0.1, 1 headless Chromium with {n} slider sessions "
          f"+ {args.trainings} training sessions; each slider session a change every {args.pace:g} s, staggered "
          f"({n / args.pace:.1f} changes/s offered); phases of {seconds:g} s; {cores} cores")
    if args.pin:
        print("  pinned: the server and its trainings on core 0, the browser and this script on the others")
    print(f"  load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    print(f"  sessions open (all first images loaded): {all_open_s:.1f} s")
    print(f"  server RSS: {mib(rss['before'])} before any visitor, {mib(rss['one'])} after the first (model loaded), "
          f"{mib(rss['all'])} with {n} ({(rss['all'] - rss['one']) / 1024 / max(1, n - 1):.2f} MiB per added "
          f"session), high-water mark {mib(rss['hwm'])}")
    for label, ph in phases.items():
        lat, cpu = ph["lat"], ph["cpu"]
        print(f"  {label}: {ph['presses']} presses in {cpu['seconds']:.1f} s ({ph['presses'] / cpu['seconds']:.1f}/s; "
              f"driver late p50 {percentile(ph['late'], 0.5):.0f} ms, p99 {percentile(ph['late'], 0.99):.0f} ms), "
              f"{len(lat)} images measured, {ph['unanswered']} sessions still waiting for an image up to 60 s "
              "after the phase")
        if lat:
            print(f"    key press -> new image: p50 {percentile(lat, 0.5):.0f} ms, p90 {percentile(lat, 0.9):.0f} ms, "
                  f"p99 {percentile(lat, 0.99):.0f} ms, max {max(lat):.0f} ms; within 100 ms: "
                  f"{sum(x <= 100 for x in lat) / len(lat):.0%}")
        ours = cpu["server"] + cpu["trainings"] + cpu["browser"] + cpu["script"]
        share = lambda name: f"{cpu[name]:.2f} ({cpu[name] / cores:.0%})"  # noqa: E731
        print(f"    CPU in cores (% of the {cores}-core machine): server {share('server')}, trainings "
              f"{share('trainings')}, browser {share('browser')}, this script and Playwright's driver "
              f"{cpu['script']:.2f}; whole machine {share('machine')}, of which other programs "
              f"{max(0.0, cpu['machine'] - ours):.2f}")
        print(f"    server RSS peak {mib(ph['rss_peak'])}"
              + (f"; training processes' peak RSS {', '.join(mib(v) for v in ph['train_rss'].values())}"
                 if ph["train_rss"] else "")
              + (f"; trainings done by the phase's end: {ph['done']} of {args.trainings}" if "done" in ph else "")
              + f"; load average after: {' '.join(f'{x:.2f}' for x in ph['load'])}")
    if len(phases) == 2:
        (_, a), (_, b) = phases.items()
        if a["lat"] and b["lat"]:
            print(f"  ratio with/without trainings: p50 {percentile(b['lat'], 0.5) / percentile(a['lat'], 0.5):.2f}x, "
                  f"p90 {percentile(b['lat'], 0.9) / percentile(a['lat'], 0.9):.2f}x"
                  + (" (the training sessions left the Train page)" if args.no_watch else
                     " (the training sessions watch the Train page)"))
    print(f"  total wall time {total_s:.1f} s (cap {args.cap:.0f} s)")


if __name__ == "__main__":
    main()
