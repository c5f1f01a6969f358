"""Slider-to-image latency and first paint, in headless Chromium, against a one-slider baseline.

For the explorer (explorer/app.py, bundled demo model) and for benchmarks/minimal_app.py, each
started as a real `streamlit run` server in this process's run:
  - first paint: from /_stcore/health answering ok to the decoded image being loaded in the page;
  - slider latency: from a key press on slider z_0 to the new image having loaded, N times.
Both pages are open at once and their changes interleaved, so both meet the same load of a shared machine.
Prints median and 90th percentile, the ratio explorer / minimal, and per change the CPU time of the server
process and of the page's main thread in Chromium (figures a loaded machine blurs far less); with --repeats,
the median over repeats (fresh servers and pages each time) of the explorer's p90 and of the ratio.
--lean-baseline adds the minimal page run as the explorer runs (no gc.collect() after each rerun).

    python benchmarks/latency.py [--changes 60] [--repeats 3] [--lean-baseline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path

WATCH = """() => {
  window.__t0 = 0; window.__t1 = 0; window.__src = '';
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); window.__t1 = 0; }, true);
  const seen = new WeakSet();
  const hook = img => { if (seen.has(img)) return; seen.add(img);
    img.addEventListener('load', () => { if (img.src !== window.__src) { window.__src = img.src; window.__t1 = performance.now(); } }); };
  const scan = () => document.querySelectorAll('.st-key-decoded img').forEach(hook);
  new MutationObserver(scan).observe(document.body, {subtree: true, childList: true});
  scan();
  const img = document.querySelector('.st-key-decoded img'); if (img) window.__src = img.src;
}"""


SETTLED = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def open_page(browser, script: Path, runs: Path, env: dict | None = None):
    """Start SCRIPT's server (ENV added to its environment), open it, wait for the decoded image: (server, page,
    first paint in s)."""
    server = Server(script, runs, env=env)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.wait_for_function(
        "() => { const i = document.querySelector('.st-key-decoded img'); return i && i.complete && i.naturalWidth > 0; }",
        timeout=60_000, polling=10)
    first_paint = time.perf_counter() - server.ready_at
    page.wait_for_timeout(1500)  # let the rest of the page settle
    page.evaluate(WATCH)
    page.locator('.st-key-z_0 input[type="range"]').focus()
    return server, page, first_paint


def server_cpu_s(pid: int) -> float:
    """CPU seconds the server process has used (user + system; Linux's /proc, else 0)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_task_s(cdp) -> float:
    """Seconds the page's main thread has spent in tasks (Chromium's own count: scripts, layout, paint)."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["TaskDuration"]


def change(page, i: int) -> float:
    """One key press on z_0 (ten right, ten left, ...) -> ms until the new decoded image has loaded."""
    page.bring_to_front()
    page.locator('.st-key-z_0 input[type="range"]').focus()
    page.keyboard.press("ArrowRight" if (i // 10) % 2 == 0 else "ArrowLeft")
    page.wait_for_function("() => window.__t1 > window.__t0", timeout=30_000, polling="raf")
    latency = page.evaluate("window.__t1 - window.__t0")
    page.wait_for_function(SETTLED, timeout=30_000, polling="raf")  # the rest of the rerun done here, not in the
    page.wait_for_timeout(60)                                        # other page's next change
    return latency


def measure(browser, scripts: dict[str, tuple[Path, dict | None]], changes: int) -> dict[str, dict]:
    """Both pages open at once, their changes interleaved (one here, one there), so that both meet the same load
    of a shared machine; the ratio of the two is then a fair one even when the absolute figures are not."""
    with tempfile.TemporaryDirectory() as runs:
        opened = {}
        try:
            for label, (script, env) in scripts.items():
                opened[label] = open_page(browser, script, Path(runs), env)
            results = {label: {"first_paint_s": first, "latencies_ms": []} for label, (_, _, first) in opened.items()}
            cdps = {label: page.context.new_cdp_session(page) for label, (_, page, _) in opened.items()}
            for cdp in cdps.values():
                cdp.send("Performance.enable")
            start = {label: (server_cpu_s(server.pid), browser_task_s(cdps[label]))
                     for label, (server, _, _) in opened.items()}
            for i in range(changes):
                for label, (_, page, _) in opened.items():
                    results[label]["latencies_ms"].append(change(page, i))
            for label, (server, _, _) in opened.items():  # CPU per change: what a loaded machine does not blur
                results[label]["server_cpu_ms"] = 1e3 * (server_cpu_s(server.pid) - start[label][0]) / changes
                results[label]["browser_task_ms"] = 1e3 * (browser_task_s(cdps[label]) - start[label][1]) / changes
        finally:
            for server, page, _ in opened.values():
                page.close()
                server.stop()
    return results


MINIMAL, EXPLORER = "minimal one-slider page", "explorer, Latent sliders"
MINIMAL_NO_GC = "minimal, postScriptGC off"  # the baseline with the one runner setting the explorer changes


def report(results: dict[str, dict]) -> tuple[float, float]:
    print(f"{'':28} {'first paint':>12} {'median':>9} {'p90':>9}   per change: {'server CPU':>10} {'browser':>10}")
    for label, r in results.items():
        lat = r["latencies_ms"]
        print(f"{label:28} {r['first_paint_s']:10.2f} s {statistics.median(lat):6.1f} ms {percentile(lat, 0.9):6.1f} ms"
              f"{'':15}{r['server_cpu_ms']:7.1f} ms {r['browser_task_ms']:7.1f} ms")
    base, ours = results[MINIMAL], results[EXPLORER]
    ratio = statistics.median(ours["latencies_ms"]) / statistics.median(base["latencies_ms"])
    print(f"ratio explorer / minimal: first paint {ours['first_paint_s'] / base['first_paint_s']:.2f}, "
          f"median latency {ratio:.2f}")
    if MINIMAL_NO_GC in results:
        lean = statistics.median(ours["latencies_ms"]) / statistics.median(results[MINIMAL_NO_GC]["latencies_ms"])
        print(f"ratio explorer / minimal with postScriptGC off: median latency {lean:.2f}")
    return ratio, percentile(ours["latencies_ms"], 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=60, help="slider changes per page and repeat")
    parser.add_argument("--repeats", type=int, default=1, help="fresh servers and pages this many times")
    parser.add_argument("--lean-baseline", action="store_true",
                        help="also the minimal page with Streamlit's gc.collect() after each rerun off, as the "
                             "explorer runs (explorer/.streamlit/config.toml)")
    args = parser.parse_args()
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    minimal = ROOT / "benchmarks" / "minimal_app.py"
    scripts = {MINIMAL: (minimal, None), EXPLORER: (ROOT / "explorer" / "app.py", None)}
    if args.lean_baseline:
        scripts[MINIMAL_NO_GC] = (minimal, {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"})
    print(f"{args.changes} slider changes each (key press -> new image loaded), the two pages interleaved, "
          "headless Chromium")
    summary = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        for k in range(args.repeats):
            if args.repeats > 1:
                print(f"repeat {k + 1} of {args.repeats}")
            summary.append(report(measure(browser, scripts, args.changes)))
        browser.close()
    if args.repeats > 1:
        ratios, p90s = zip(*summary)
        print(f"median of {args.repeats} repeats: explorer p90 {statistics.median(p90s):.1f} ms, "
              f"median latency ratio explorer / minimal {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
