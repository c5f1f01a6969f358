"""Real-time sliders: decodes per second in headless Chromium, against the server-slider path.

Starts `streamlit run explorer/app.py` (bundled demo explorer/demos/mnist5k-z16, MLP 16-400-784),
opens the Real-time sliders page and, inside the component's iframe, measures:
  (a) raw decode throughput: latentPad.decode(z) in a tight loop for --seconds (default 2);
  (b) end to end, synthetic: `input` events on a slider as fast as the page takes them for 3 s;
      decodes are coalesced to one per animation frame, so this counts frames drawn per second;
  (c) end to end, real mouse: Playwright drags the thumb back and forth for 3 s (mouse events
      through the browser's input pipeline), frames drawn per second;
then (unless --no-server) the server path for comparison: benchmarks/latency.py's `measure` on
the standard Latent sliders page (key press -> new image loaded), median and p90.

    python benchmarks/scrub.py [--seconds 2] [--server-changes 20] [--no-server]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import measure, percentile  # noqa: E402
from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path  # noqa: E402

IFRAME = 'iframe[title="explorer.latent_pad.latent_pad"]'
TARGET = 60.0

RAW = """seconds => {
  const zs = []; let seed = 1;
  const rnd = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 * 6 - 3; };
  for (let k = 0; k < 64; k++) zs.push(Float32Array.from({length: 16}, rnd));
  for (let k = 0; k < 50; k++) latentPad.decode(zs[k % 64]);  // warm up the JIT
  let n = 0; const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) { latentPad.decode(zs[n % 64]); n++; }
  return {n, ms: performance.now() - t0};
}"""

SYNTHETIC = """seconds => new Promise(resolve => {
  const input = document.querySelector('#sliders input[type=range]');
  const f0 = latentPad.frames, d0 = latentPad.decodes; let events = 0;
  const t0 = performance.now();
  const tick = () => {
    const t = performance.now() - t0;
    if (t >= seconds * 1000) {
      // let the last scheduled frame land
      requestAnimationFrame(() => resolve({events, frames: latentPad.frames - f0,
                                           decodes: latentPad.decodes - d0, ms: performance.now() - t0}));
      return;
    }
    for (let k = 0; k < 4; k++) {   // several input events per task, many tasks per frame
      input.value = String(4 * Math.sin(events / 40));
      input.dispatchEvent(new Event('input', {bubbles: true}));
      events++;
    }
    setTimeout(tick, 0);
  };
  tick();
})"""


def run_browser(browser, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        server = Server(ROOT / "explorer" / "app.py", Path(runs))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/scrub")
            page.wait_for_selector(IFRAME, timeout=60_000)
            frame = page.locator(IFRAME).element_handle().content_frame()
            frame.wait_for_function("() => window.latentPad && latentPad.frames > 0", timeout=60_000)
            page.wait_for_timeout(1000)
            raw = frame.evaluate(RAW, seconds)
            synthetic = frame.evaluate(SYNTHETIC, 3.0)

            box = frame.locator("#sliders input[type=range]").first.bounding_box()
            y = box["y"] + box["height"] / 2
            x_left, x_right = box["x"] + 4, box["x"] + box["width"] - 4
            page.mouse.move(box["x"] + box["width"] / 2, y)
            page.mouse.down()
            f0, d0 = frame.evaluate("[latentPad.frames, latentPad.events]")
            t0 = frame.evaluate("performance.now()")
            moves, k = 0, 0
            while frame.evaluate("performance.now()") - t0 < 3000:
                frac = (k % 40) / 40
                frac = frac * 2 if frac < 0.5 else 2 - frac * 2
                page.mouse.move(x_left + frac * (x_right - x_left), y, steps=2)
                moves, k = moves + 2, k + 1
            f1, d1 = frame.evaluate("[latentPad.frames, latentPad.events]")
            ms = frame.evaluate("performance.now()") - t0
            page.mouse.up()
            page.close()
        finally:
            server.stop()
    return {"raw": raw, "synthetic": synthetic,
            "mouse": {"moves": moves, "events": d1 - d0, "frames": f1 - f0, "ms": ms}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--server-changes", type=int, default=20)
    parser.add_argument("--no-server", action="store_true", help="skip the server-slider comparison")
    args = parser.parse_args()
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    from explorer.latent_pad import payload_bytes
    from training.mlp_decoder import load_mlp_decoder

    decoder = load_mlp_decoder(ROOT / "explorer" / "demos" / "mnist5k-z16")
    macs = sum(w.size for w in decoder.weights)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        r = run_browser(browser, args.seconds)
        server = None if args.no_server else measure(browser, ROOT / "explorer" / "app.py", args.server_changes)
        browser.close()

    raw, syn, mouse = r["raw"], r["synthetic"], r["mouse"]
    raw_rate = raw["n"] / raw["ms"] * 1000
    syn_fps = syn["frames"] / syn["ms"] * 1000
    mouse_fps = mouse["frames"] / mouse["ms"] * 1000
    print("Real-time sliders (explorer/demos/mnist5k-z16, MLP "
          + "-".join(str(w.shape[1]) for w in decoder.weights) + f"-{decoder.weights[-1].shape[0]}, "
          f"{macs / 1e3:.0f}k MACs per decode), headless Chromium")
    print(f"  weights sent to the browser once per model (and per page visit): {payload_bytes(decoder) / 1e6:.2f} MB of base64 "
          f"({4 * sum(w.size + b.size for w, b in zip(decoder.weights, decoder.biases)) / 1e6:.2f} MB float32)")
    print(f"  (a) raw decode:        {raw_rate:8.0f} decodes/s  ({raw['ms'] / raw['n']:.3f} ms each, {raw['n']} in "
          f"{raw['ms'] / 1000:.1f} s)")
    print(f"  (b) synthetic drag:    {syn_fps:8.1f} frames drawn/s  ({syn['events']} input events, "
          f"{syn['decodes']} decodes in {syn['ms'] / 1000:.1f} s: one per frame)")
    print(f"  (c) mouse drag:        {mouse_fps:8.1f} frames drawn/s  ({mouse['events']} input events from "
          f"{mouse['moves']} mouse moves in {mouse['ms'] / 1000:.1f} s)")
    ok = raw_rate >= TARGET and syn_fps >= TARGET * 0.9
    print(f"  target >= {TARGET:.0f} decodes/s: {'met' if ok else 'NOT met'}")
    if server is not None:
        lat = server["latencies_ms"]
        print(f"  server path (Latent sliders, {len(lat)} key presses -> new image loaded): median "
              f"{statistics.median(lat):.1f} ms, p90 {percentile(lat, 0.9):.1f} ms "
              f"= {1000 / statistics.median(lat):.1f} images/s at best, and only on release")


if __name__ == "__main__":
    main()
