"""Real-time sliders: decodes per second in headless Chromium, against the server-slider path.

Starts `streamlit run explorer/app.py` and opens the Real-time sliders page, first on the bundled demo
explorer/demos/mnist5k-z16 (MLP 16-400-784), then (unless --no-conv) on a conv model trained here for
one epoch (`python -m training fit --arch conv --hidden 32,64`, the Train form's conv default), and
for each measures in the page (components v2: no iframe):
  (a) raw decode throughput: latentPad.decode(z) in a tight loop for --seconds (default 2);
  (b) end to end, synthetic: `input` events on a slider as fast as the page takes them for 3 s;
      decodes are coalesced to one per animation frame, so this counts frames drawn per second;
  (c) end to end, real mouse: Playwright drags the thumb back and forth for 3 s (mouse events
      through the browser's input pipeline), frames drawn per second;
then (unless --no-server) the server path for comparison: benchmarks/latency.py's `measure` on
the standard Latent sliders page (key press -> new image loaded), median and p90.

    python benchmarks/scrub.py [--seconds 2] [--server-changes 20] [--no-server] [--no-conv]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.latency import measure, percentile
from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path

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
  const input = latentPad.slider(0);
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


def run_browser(browser, seconds: float, run: Path | None = None) -> dict:
    """The three measures on the Real-time sliders page, for the default model or for RUN (copied in)."""
    with tempfile.TemporaryDirectory() as runs:
        if run is not None:
            shutil.copytree(run, Path(runs) / run.name)
        server = Server(ROOT / "explorer" / "app.py", Path(runs))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/scrub")
            page.wait_for_function("() => window.latentPad && latentPad.frames > 0", timeout=60_000)
            if run is not None:
                page.locator(".st-key-model_picker [role='combobox']").click()
                page.get_by_role("option").filter(has_text=run.name).first.click()
                page.wait_for_function("name => window.latentPad && latentPad.modelId.includes(name) && "
                                       "latentPad.frames > 0", arg=run.name, timeout=60_000)
            page.wait_for_timeout(1000)
            raw = page.evaluate(RAW, seconds)
            synthetic = page.evaluate(SYNTHETIC, 3.0)

            box = page.locator("#sliders input[type=range]").first.bounding_box()
            y = box["y"] + box["height"] / 2
            x_left, x_right = box["x"] + 4, box["x"] + box["width"] - 4
            page.mouse.move(box["x"] + box["width"] / 2, y)
            page.mouse.down()
            f0, d0 = page.evaluate("[latentPad.frames, latentPad.events]")
            t0 = page.evaluate("performance.now()")
            moves, k = 0, 0
            while page.evaluate("performance.now()") - t0 < 3000:
                frac = (k % 40) / 40
                frac = frac * 2 if frac < 0.5 else 2 - frac * 2
                page.mouse.move(x_left + frac * (x_right - x_left), y, steps=2)
                moves, k = moves + 2, k + 1
            f1, d1 = page.evaluate("[latentPad.frames, latentPad.events]")
            ms = page.evaluate("performance.now()") - t0
            page.mouse.up()
            page.close()
        finally:
            server.stop()
    return {"raw": raw, "synthetic": synthetic,
            "mouse": {"moves": moves, "events": d1 - d0, "frames": f1 - f0, "ms": ms}}


def train_conv(folder: Path) -> Path:
    run = folder / "bench-conv"
    argv = [sys.executable, "-m", "training", "fit", "--dataset", "mnist5k", "--arch", "conv", "--hidden", "32,64",
            "--latent-dim", "16", "--epochs", "1", "--quiet", "--out", str(run)]
    subprocess.run(argv, cwd=ROOT, check=True)
    return run


def macs(decoder) -> int:
    """Multiply-adds per decode: a dense layer's weights once, a transposed convolution's per input pixel."""
    return sum(layer.w.size if layer.kind == "dense" else layer.w.size * layer.in_shape[1] * layer.in_shape[2]
               for layer in decoder.layers)


def report(title: str, decoder, r: dict) -> bool:
    from explorer.widgets.latent_pad import payload_bytes

    raw, syn, mouse = r["raw"], r["synthetic"], r["mouse"]
    raw_rate = raw["n"] / raw["ms"] * 1000
    syn_fps = syn["frames"] / syn["ms"] * 1000
    mouse_fps = mouse["frames"] / mouse["ms"] * 1000
    print(f"Real-time sliders, {title} ({macs(decoder) / 1e6:.2f} M multiply-adds per decode), headless Chromium")
    print(f"  weights sent to the browser once per model (and per page visit): {payload_bytes(decoder) / 1e6:.2f} MB "
          f"of base64 ({4 * decoder.parameter_count / 1e6:.2f} MB float32)")
    print(f"  (a) raw decode:        {raw_rate:8.0f} decodes/s  ({raw['ms'] / raw['n']:.3f} ms each, {raw['n']} in "
          f"{raw['ms'] / 1000:.1f} s)")
    print(f"  (b) synthetic drag:    {syn_fps:8.1f} frames drawn/s  ({syn['events']} input events, "
          f"{syn['decodes']} decodes in {syn['ms'] / 1000:.1f} s: one per frame)")
    print(f"  (c) mouse drag:        {mouse_fps:8.1f} frames drawn/s  ({mouse['events']} input events from "
          f"{mouse['moves']} mouse moves in {mouse['ms'] / 1000:.1f} s)")
    ok = raw_rate >= TARGET and syn_fps >= TARGET * 0.9
    print(f"  target >= {TARGET:.0f} decodes/s: {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--server-changes", type=int, default=20)
    parser.add_argument("--no-server", action="store_true", help="skip the server-slider comparison")
    parser.add_argument("--no-conv", action="store_true", help="skip the conv model (it trains one epoch first)")
    args = parser.parse_args()
    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    from training.models.open import load_decoder

    mlp = load_decoder(ROOT / "explorer" / "demos" / "mnist5k-z16")
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        conv_run = None if args.no_conv else train_conv(Path(scratch))
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        results = [("explorer/demos/mnist5k-z16, MLP 16-400-784", mlp, run_browser(browser, args.seconds))]
        if conv_run is not None:
            results.append(("conv 16 -> 64x7x7 -> 32x14x14 -> 1x28x28, trained 1 epoch", load_decoder(conv_run),
                            run_browser(browser, args.seconds, conv_run)))
        server = None if args.no_server else measure(browser, ROOT / "explorer" / "app.py", args.server_changes)
        browser.close()

    for title, decoder, r in results:
        report(title, decoder, r)
    if server is not None:
        lat = server["latencies_ms"]
        print(f"Server path (Latent sliders, {len(lat)} key presses -> new image loaded): median "
              f"{statistics.median(lat):.1f} ms, p90 {percentile(lat, 0.9):.1f} ms "
              f"= {1000 / statistics.median(lat):.1f} images/s at best, and only on release")


if __name__ == "__main__":
    main()
