"""Slider-to-image latency and first paint, in headless Chromium, against a one-slider baseline.

For the explorer (explorer/app.py, bundled demo model) and for benchmarks/minimal_app.py, each
started as a real `streamlit run` server in this process's run:
  - first paint: from /_stcore/health answering ok to the decoded image being loaded in the page;
  - slider latency: from a key press on slider z_0 to the new image having loaded, N times.
Prints median and 90th percentile, and the ratio explorer / minimal.

    python benchmarks/latency.py [--changes 60]
"""

from __future__ import annotations

import argparse
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


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def measure(browser, script: Path, changes: int) -> dict[str, float | list[float]]:
    with tempfile.TemporaryDirectory() as runs:
        server = Server(script, Path(runs))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.wait_for_function(
                "() => { const i = document.querySelector('.st-key-decoded img'); return i && i.complete && i.naturalWidth > 0; }",
                timeout=60_000, polling=10)
            first_paint = time.perf_counter() - server.ready_at
            page.wait_for_timeout(1500)  # let the rest of the page settle
            page.evaluate(WATCH)
            slider = page.locator('.st-key-z_0 input[type="range"]')
            slider.focus()
            latencies = []
            for i in range(changes):
                page.keyboard.press("ArrowRight" if (i // 10) % 2 == 0 else "ArrowLeft")
                page.wait_for_function("() => window.__t1 > window.__t0", timeout=30_000, polling="raf")
                latencies.append(page.evaluate("window.__t1 - window.__t0"))
                page.wait_for_timeout(60)
            page.close()
        finally:
            server.stop()
    return {"first_paint_s": first_paint, "latencies_ms": latencies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=60)
    args = parser.parse_args()
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        results = {
            "minimal one-slider page": measure(browser, ROOT / "benchmarks" / "minimal_app.py", args.changes),
            "explorer, Latent sliders": measure(browser, ROOT / "explorer" / "app.py", args.changes),
        }
        browser.close()
    print(f"{args.changes} slider changes each (key press -> new image loaded), headless Chromium")
    print(f"{'':28} {'first paint':>12} {'median':>9} {'p90':>9}")
    for label, r in results.items():
        lat = r["latencies_ms"]
        print(f"{label:28} {r['first_paint_s']:10.2f} s {statistics.median(lat):6.1f} ms {percentile(lat, 0.9):6.1f} ms")
    base, ours = results["minimal one-slider page"], results["explorer, Latent sliders"]
    print(f"ratio explorer / minimal: first paint {ours['first_paint_s'] / base['first_paint_s']:.2f}, "
          f"median latency {statistics.median(ours['latencies_ms']) / statistics.median(base['latencies_ms']):.2f}")


if __name__ == "__main__":
    main()
