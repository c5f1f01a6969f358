"""The reconstruction that follows the pen: per-frame cost in headless Chromium with the bundled 16-D model.

Starts the draw_pad harness app (tests/e2e/draw_pad_app.py) with ``?live=1`` (explorer/demos/mnist5k-z16, MLP
784-400-32 encoder and 16-400-784 decoder, in the browser), draws N digit-like strokes with the mouse, and reads
the component's own counters (window.drawPad): the live frames drawn while the pen was down and after each
release, each frame's time (paint the 112x112 drawing, prepare it MNIST-style, encode, decode, draw) and its
encode + decode share. Then, on the last drawing, timed in loops (the page's clock is coarse: 0.1 ms), median of
20 loops of 50: encode + decode alone, and a whole frame but the drawing (paint, prepare, encode, decode).

    python benchmarks/draw_live.py [--strokes 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path
from benchmarks.your_image import SHAPES, stroke

APP = ROOT / "tests" / "e2e" / "draw_pad_app.py"
CANVAS = ".st-key-draw canvas#canvas"
FRAME_BUDGET_MS = 1000 / 60

LOOP = """([loops, n]) => {
  const times = [];
  for (let k = 0; k < loops; k++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) drawPad.preview();
    times.push((performance.now() - t0) / n);
  }
  return times;
}"""


def measure(strokes: int) -> dict:
    from playwright.sync_api import sync_playwright

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as runs, sync_playwright() as p:
        server = Server(APP, Path(runs), env={"PYTHONPATH": path})
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.goto(f"{server.url}/?lang=en&live=1")
            page.wait_for_function("() => window.drawPad && drawPad.side > 0 && drawPad.liveModelId !== null",
                                   timeout=120_000)
            canvas = page.locator(CANVAS)
            for k in range(strokes):
                stroke(page, canvas.bounding_box(), SHAPES[k % len(SHAPES)])
                page.wait_for_function(f"() => drawPad.sent >= {k + 1}", timeout=120_000)
            page.wait_for_function("() => drawPad.liveLast !== null", timeout=120_000)
            frames = page.evaluate("drawPad.liveTimes")
            nets = page.evaluate("drawPad.liveNetTimes")
            # one frame's whole pipeline (paint, prepare, encode, decode) in a loop on the last drawing
            loop = page.evaluate(LOOP, [20, 50])
            net_loop = [page.evaluate("drawPad.timeNets(50)") for _ in range(20)]
            count = page.evaluate("drawPad.liveFrames")
        finally:
            browser.close()
            server.stop()
    return {"frames": frames, "nets": nets, "loop": loop, "net_loop": net_loop, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=20)
    args = parser.parse_args()
    if chromium_path() is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    m = measure(args.strokes)
    frame, net, loop = statistics.median(m["frames"]), statistics.median(m["nets"]), statistics.median(m["loop"])
    print(f"Live reconstruction while drawing, explorer/demos/mnist5k-z16 (encoder 784-400-32, decoder 16-400-784), "
          f"headless Chromium, {args.strokes} strokes, {m['count']} live frames")
    print(f"  per live frame (paint 112x112, prepare MNIST-style, encode, decode, draw): median {frame:.2f} ms, "
          f"max {max(m['frames']):.2f} ms; of which encode + decode: median {net:.2f} ms "
          f"(one 60 Hz frame: {FRAME_BUDGET_MS:.1f} ms)")
    print(f"  timed in loops on the last drawing: encode + decode median {statistics.median(m['net_loop']):.3f} ms; "
          f"paint + prepare + encode + decode median {loop:.3f} ms per frame")


if __name__ == "__main__":
    main()
