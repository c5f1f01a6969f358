"""Load on one explorer server: 20 browser sessions moving sliders, first alone, then while 2 trainings run.

Starts one real `streamlit run explorer/app.py` on 127.0.0.1 (runs folder: a temporary directory) and
one headless Chromium with a separate context (= Streamlit session) per simulated user:
  - 20 sessions open the default page (Latent sliders) and, in rounds, all press a key on slider z_0 at
    once (right, then left); each page times key press -> new decoded image loaded, in the page itself
    (performance.now), so the order in which this one Python thread polls them does not count;
  - phase 1: --changes rounds with no training;
  - then 2 more sessions start a training each on the Train page (mnist5k, --epochs, latent 2, hidden 32)
    and stay there, watching it live (that part of the page rereads the run folder once a second);
  - phase 2: --changes rounds while the trainings run (each a process of its own, nice 10, one torch
    thread each on this 2-core machine).
Prints both phases' latency percentiles and their ratio (the target: phase 2's p50 at most 1.25x phase
1's), the server's resident memory (VmRSS of the streamlit process: before the browsers, sampled peak,
kernel high-water mark VmHWM, after the browsers closed), the trainings' processes' peak RSS, and how
many trainings completed. Everything is bounded: --changes rounds, a --cap on the whole run (default 420 s).

    python benchmarks/load.py [--sessions 20] [--changes 10] [--epochs 150] [--cap 420] [--no-watch] [--pin]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.latency import WATCH, percentile
from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path

# 20+ windows at once: keep Chromium from throttling the ones it considers in the background
LOAD_ARGS = [*CHROMIUM_ARGS, "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows"]
IMAGE_READY = ("() => { const i = document.querySelector('.st-key-decoded img'); "
               "return i && i.complete && i.naturalWidth > 0; }")
VIEWPORT = {"width": 1200, "height": 900}


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class MemorySampler(threading.Thread):
    """Reads the server's VmRSS every 0.2 s (only /proc: never touches playwright)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.2)


def start_training(page, url: str, name: str, epochs: int, timeout_ms: int) -> None:
    """Fill the Train page's form as tests/e2e/test_browser.py does, and press Start training."""
    page.goto(f"{url}/train")
    page.locator(".st-key-train_dataset").wait_for(timeout=timeout_ms)
    page.locator(".st-key-train_dataset [role='combobox']").click()
    page.get_by_role("option", name="mnist5k", exact=True).click()
    for key, value in (("train_latent_dim", "2"), ("train_epochs", str(epochs))):
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Tab")
    page.locator(".st-key-train_hidden input").fill("32")
    page.locator(".st-key-train_name input").fill(name)
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.get_by_text(re.compile(r"Loading the data set|Epoch \d+ of|queued|Waiting for a free slot")).first.wait_for(
        timeout=timeout_ms)


def slider_rounds(sliders, changes: int, deadline: float, left_ms, latencies: list[float]) -> tuple[int, int]:
    """``changes`` rounds of one key press in every session; (rounds done, presses that timed out)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    rounds = timeouts = 0
    for i in range(changes):
        if time.monotonic() > deadline - 5:
            break
        key = "ArrowRight" if i < changes // 2 else "ArrowLeft"
        for page in sliders:
            page.keyboard.press(key)
        for page in sliders:
            try:
                page.wait_for_function("() => window.__t1 > window.__t0", timeout=min(60_000, left_ms()), polling=20)
                latencies.append(page.evaluate("window.__t1 - window.__t0"))
            except PlaywrightTimeout:
                timeouts += 1
        rounds += 1
        sliders[0].wait_for_timeout(100)
    return rounds, timeouts


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU seconds of every Chromium process on this machine (the benchmark's browser)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("chrom"):
                total += cpu_seconds(int(comm.parent.name))
        except OSError:
            continue
    return total


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="slider sessions (default 20)")
    parser.add_argument("--changes", type=int, default=10, help="slider changes per session and phase (default 10)")
    parser.add_argument("--trainings", type=int, default=2, help="trainings started from their own sessions")
    parser.add_argument("--epochs", type=int, default=150, help="epochs of each training (default 150: they outlast phase 2)")
    parser.add_argument("--no-watch", action="store_true",
                        help="the training sessions leave the Train page once their training started")
    parser.add_argument("--pin", action="store_true",
                        help="run the server (and the trainings it starts) on core 0 and the browser on the other "
                             "cores, so the browser's own work does not hide what the trainings cost the server")
    parser.add_argument("--cap", type=float, default=420.0, help="seconds for the whole run (default 420)")
    args = parser.parse_args()
    if not (1 <= args.sessions <= 50 and 2 <= args.changes <= 100 and 0 <= args.trainings <= 4):
        sys.exit("Keep it bounded: 1-50 sessions, 2-100 changes, 0-4 trainings.")
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    t_start = time.monotonic()
    deadline = t_start + args.cap
    left_ms = lambda: max(1000, int((deadline - time.monotonic()) * 1000))  # noqa: E731
    names = [f"load-{i}" for i in range(args.trainings)]
    quiet: list[float] = []
    loaded: list[float] = []
    train_rss: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
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
        rss_before = rss_kib(pid)
        sampler = MemorySampler(pid)
        sampler.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=LOAD_ARGS)
                # the slider sessions: open them all, then wait for every first image
                sliders = []
                for _ in range(args.sessions):
                    page = browser.new_context(viewport=VIEWPORT).new_page()
                    page.goto(server.url, wait_until="commit")
                    sliders.append(page)
                t_open = time.monotonic()
                for page in sliders:
                    page.wait_for_function(IMAGE_READY, timeout=left_ms(), polling=50)
                all_open_s = time.monotonic() - t_open
                sliders[0].wait_for_timeout(1500)  # let every page settle
                for page in sliders:
                    page.evaluate(WATCH)
                    page.locator('.st-key-z_0 input[type="range"]').focus()
                # phase 1: no training
                t_phase1, browser_0 = time.monotonic(), browser_cpu_seconds()
                rounds_quiet, timeouts_quiet = slider_rounds(sliders, args.changes, deadline, left_ms, quiet)
                browser_1 = (browser_cpu_seconds() - browser_0) / (time.monotonic() - t_phase1)
                # the training sessions: each starts one training and stays on the Train page
                t_train = time.monotonic()
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
                sliders[0].wait_for_timeout(1500)
                for page in sliders:  # the focus may have moved while the Train pages opened
                    page.locator('.st-key-z_0 input[type="range"]').focus()
                # phase 2: while the trainings run
                rounds_loaded = rounds_training = timeouts_loaded = 0
                tpids = training_pids(runs)
                cpu_0 = {p: cpu_seconds(p) for p in [pid, *tpids]}
                t_phase2, browser_0 = time.monotonic(), browser_cpu_seconds()
                for _ in range(args.changes):
                    if trainings_done(runs, names, args.epochs) == len(names):
                        break
                    r, t = slider_rounds(sliders, 1, deadline, left_ms, loaded)
                    rounds_loaded, timeouts_loaded = rounds_loaded + r, timeouts_loaded + t
                    rounds_training += trainings_done(runs, names, args.epochs) < len(names)
                    for tpid in training_pids(runs):
                        try:
                            train_rss[tpid] = max(train_rss.get(tpid, 0), rss_kib(tpid))
                        except OSError:
                            pass
                phase2_s = time.monotonic() - t_phase2
                browser_2 = (browser_cpu_seconds() - browser_0) / phase2_s
                cpu_share = {p: (cpu_seconds(p) - c) / phase2_s for p, c in cpu_0.items()}
                done_during = trainings_done(runs, names, args.epochs)
                while trainings_done(runs, names, args.epochs) < len(names) and time.monotonic() < deadline:
                    time.sleep(0.5)
                done_total = trainings_done(runs, names, args.epochs)
                train_wall_s = time.monotonic() - t_train
                rss_peak_sessions = sampler.peak
                browser.close()
            time.sleep(3)  # the server notices the closed websockets
            rss_after = rss_kib(pid)
            hwm = rss_kib(pid, "VmHWM")
        finally:
            sampler.running = False
            server.stop()
    total_s = time.monotonic() - t_start
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    print(f"load benchmark: 1 streamlit server on 127.0.0.1, headless Chromium, {args.sessions} slider sessions "
          f"+ {args.trainings} training sessions")
    if args.pin:
        print("  pinned: the server and its trainings on core 0, the browser and this script on the others")
    print(f"  sessions open (all first images loaded): {all_open_s:.1f} s")
    for label, lat, rounds, timeouts in (("no training", quiet, rounds_quiet, timeouts_quiet),
                                         (f"{args.trainings} trainings", loaded, rounds_loaded, timeouts_loaded)):
        line = f"  {label:>12}: {rounds} rounds x {args.sessions} sessions, {len(lat)} measured, {timeouts} timed out"
        if lat:
            line += (f"; key press -> new image p50 {percentile(lat, 0.5):.0f} ms, p90 {percentile(lat, 0.9):.0f} ms,"
                     f" p99 {percentile(lat, 0.99):.0f} ms, max {max(lat):.0f} ms")
        print(line)
    if quiet and loaded:
        print(f"  ratio with/without trainings: p50 {percentile(loaded, 0.5) / percentile(quiet, 0.5):.2f}x, "
              f"p90 {percentile(loaded, 0.9) / percentile(quiet, 0.9):.2f}x (target: p50 at most 1.25x)")
    print(f"  server RSS: before {mib(rss_before)}, peak sampled {mib(max(sampler.peak, rss_peak_sessions))}, "
          f"high-water mark {mib(hwm)}, after browsers closed {mib(rss_after)}")
    if quiet and loaded:
        print(f"  phase 2 ({phase2_s:.1f} s), CPU used (cores): server {cpu_share[pid]:.2f}, trainings "
              + ", ".join(f"{cpu_share[p]:.2f}" for p in tpids)
              + f", browser {browser_2:.2f} (phase 1: {browser_1:.2f})"
              + (" (the training sessions left the Train page)" if args.no_watch else
                 " (the training sessions watch the Train page)"))
    if train_rss:
        print(f"  training processes' peak RSS: {', '.join(mib(v) for v in train_rss.values())}")
    print(f"  trainings (mnist5k, {args.epochs} epochs, z=2, hidden 32): {done_during} of {len(names)} done when "
          f"phase 2 ended, {done_total} of {len(names)} done {train_wall_s:.1f} s after they were "
          f"started; still training during {rounds_training} of {rounds_loaded} rounds of phase 2")
    print(f"  total wall time {total_s:.1f} s (cap {args.cap:.0f} s)")


if __name__ == "__main__":
    main()
