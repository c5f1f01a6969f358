"""The Latent map of a real model at 10,000 to 200,000 points (issue 26): encode time, first paint, pan and zoom
frame rates and the server's memory, per renderer, side by side.

Models: shapes VAEs (MLP, z = 10, one epoch: the map's figures do not depend on the model's quality) trained by
this script when missing, ``python -m training fit --dataset shapes --dataset-size N ...``, kept in --models
(default benchmarks/.cache/models, outside git); their training time is said, not counted. The page is
``/latent_map?model=shapes-N&points=all&lang=en`` of ``streamlit run explorer/app.py`` (benchmarks/harness.py:
Server): every image of the set, test and training (one in five is a test image), so N points.

Per N:
  encode s     mu(x) of all N images in a fresh process (training/analysis/encodings.py: encode_split, what the
               page runs on its first visit), torch with the server's thread count; the data set's build apart.
Per N and renderer (VAE_EXPLORER_MAP_RENDERER=plotly or regl in the server's environment), a new server on an
empty encodings cache (VAE_EXPLORER_CACHE, a new folder):
  first s      first visit: navigation start to all N points drawn, in the page's clock; includes the server's
               import of the page, building the data set, encoding all N images and the projection (PCA).
  cached s     then --repeats visits, each in a new browser context (the encodings are in the server's memory
               and on disk): navigation to all N points drawn (median).
  WS MB        in those visits, the WebSocket frames the page received (the points, the thumbnails, ...);
  pan, zoom    in those visits, frames per second with a WebGL draw over 3 s of dragging, then of wheel events, one
               per animation frame, at the map (benchmarks/map_renderers.py: measure; median).
  RSS MB       the server's resident memory after each cached visit (median; /proc/PID/status VmRSS), and its
               peak over the server's life (VmHWM).
  new server s a new server on the same cache folder: navigation to all N points drawn (the data set is built
               again; the encodings are read from disk).
"Drawn": Plotly, the chart `.st-key-latent_map_scatter .js-plotly-plot` holds N points and a WebGL draw call was
made; the regl widget, `window.mapCanvas.firstPaint` (its draw() of all N points resolved). Headless Chromium
with the project's flags (--disable-gpu: WebGL in software).

    python benchmarks/latent_map.py [--n 10000,100000,200000] [--renderers plotly,regl] [--repeats 3]
        [--viewport 1400x1000] [--models DIR] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import CHROMIUM_ARGS, ROOT, Server, chromium_path
from benchmarks.map_renderers import PLOTLY_PAINTED, REGL_PAINTED, measure, open_map

ENV = "VAE_EXPLORER_MAP_RENDERER"
SCOPE = {"plotly": ".st-key-latent_map_scatter", "regl": ".st-key-latent_map_canvas"}
FAILED = """document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]') ? -1 : """
PAINTED = {"plotly": FAILED + f"({PLOTLY_PAINTED.replace('SELECTOR', SCOPE['plotly'] + ' .js-plotly-plot')})(n)",
           "regl": FAILED + f"({REGL_PAINTED.replace('STATE', 'mapCanvas')})(n)"}
PAINTED = {k: f"n => {v}" for k, v in PAINTED.items()}
FIRST_PAINT_BAR_S, FPS_BAR = 10.0, 30.0
MB = 1024**2

ENCODE = r"""
import json, sys, time
from training.analysis.encodings import encode_split
from training.data import load_dataset
from training.models.open import load_run
from training.vae.evaluate import split_images
run = load_run(sys.argv[1]); t = run.config.train; c, h, _ = run.config.model.image_shape
t0 = time.perf_counter()
data = load_dataset(t.dataset, image_size=h, channels=c, seed=t.seed, dataset_size=t.dataset_size)
t1 = time.perf_counter()
n = sum(len(encode_split(run.model, split_images(run.config, data, s))) for s in ("test", "train"))
print(json.dumps({"data_s": t1 - t0, "encode_s": time.perf_counter() - t1, "n": n}))
"""


def model(models: Path, n: int) -> tuple[str, float | None]:
    """The run folder's name for a shapes VAE on N images, trained now if missing (and how long that took)."""
    name = f"shapes-{n}"
    if (models / name / "model.safetensors").is_file():
        return name, None
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "training", "fit", "--dataset", "shapes", "--dataset-size", str(n),
                    "--epochs", "1", "--arch", "mlp", "--latent-dim", "10", "--seed", "0", "--quiet",
                    "--threads", "1", "--nice", "10", "--out", str(models / name)], cwd=ROOT, check=True)
    return name, time.perf_counter() - t0


def encode_time(run_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", ENCODE, str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and its peak (VmRSS, VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[k].split()[0]) * 1024 / MB for k in ("VmRSS", "VmHWM"))


def first_paint(browser, renderer: str, url: str, n: int, viewport, timeout_s: int) -> float | str:
    """Seconds from navigation to all N points drawn in a new browser context, or what went wrong."""
    r = open_map(browser, renderer, url, n, timeout_s=timeout_s, viewport=viewport, painted_js=PAINTED[renderer])
    if "error" in r:
        return r["error"]
    r["ctx"].close()
    return r["first_paint_ms"] / 1000


def one(browser, renderer: str, n: int, name: str, models: Path, args, viewport) -> dict:
    """First visit, cached visits and a new server's visit of the map of N points with RENDERER."""
    cache = Path(tempfile.mkdtemp(prefix=f"latent-map-{renderer}-{n}-"))
    env = {ENV: renderer, "VAE_EXPLORER_CACHE": str(cache)}
    url_path = f"/latent_map?model={name}&points=all&lang=en"
    out: dict = {"cached": [], "pan": [], "zoom": [], "rss": [], "ws": [], "errors": []}
    server = Server(ROOT / "explorer" / "app.py", models, env=env)
    try:
        out["first"] = first_paint(browser, renderer, server.url + url_path, n, viewport, args.hang_s)
        print(f"  {renderer} {n:,}: first visit {out['first']}", flush=True)
        for _ in range(args.repeats if isinstance(out["first"], float) else 0):
            r = measure(browser, renderer, server.url + url_path, n, args.seconds, timeout_s=args.hang_s,
                        viewport=viewport, painted_js=PAINTED[renderer], scope=SCOPE[renderer])
            if "error" in r:
                out["errors"].append(r["error"])
                continue
            out["cached"].append(r["first_paint_ms"] / 1000)
            out["pan"].append(r["pan"]["fps"])
            out["zoom"].append(r["zoom"]["fps"])
            out["rss"].append(memory_mb(server.pid)[0])
            out["ws"].append(r["ws"] / 1e6)
            print(f"  {renderer} {n:,}: cached {out['cached'][-1]:.2f} s, pan {out['pan'][-1]:.1f} fps, zoom "
                  f"{out['zoom'][-1]:.1f} fps (at rest {r['idle']['fps']:.1f} draws/s), RSS {out['rss'][-1]:.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)
        out["peak"] = memory_mb(server.pid)[1]
    finally:
        server.stop()
    if isinstance(out["first"], float):
        server = Server(ROOT / "explorer" / "app.py", models, env=env)
        try:
            out["restart"] = first_paint(browser, renderer, server.url + url_path, n, viewport, args.hang_s)
        finally:
            server.stop()
    return out


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cell(value, fmt: str, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:{width}{fmt}}" if isinstance(value, float) else f"{'failed':>{width}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="10000,100000,200000")
    ap.add_argument("--renderers", default="plotly,regl")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="of panning, then of zooming, per visit")
    ap.add_argument("--viewport", default="1400x1000", help="the page's size, WIDTHxHEIGHT")
    ap.add_argument("--models", type=Path, default=ROOT / "benchmarks" / ".cache" / "models")
    ap.add_argument("--hang-s", type=int, default=900, help="a hang guard per visit, not a budget")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    sizes, renderers = [int(v) for v in args.n.split(",")], args.renderers.split(",")
    viewport = tuple(int(v) for v in args.viewport.split("x"))
    args.models.mkdir(parents=True, exist_ok=True)
    names, encoded = {}, {}
    for n in sizes:
        names[n], trained = model(args.models, n)
        if trained is not None:
            print(f"trained {names[n]} (1 epoch, MLP, z = 10, one thread) in {trained:.0f} s (not counted)")
        encoded[n] = encode_time(args.models / names[n])
        print(f"{names[n]}: data set built in {encoded[n]['data_s']:.2f} s, {encoded[n]['n']:,} images encoded in "
              f"{encoded[n]['encode_s']:.2f} s", flush=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        chromium = browser.version
        for n in sizes:
            for renderer in renderers:
                try:
                    rows[n, renderer] = one(browser, renderer, n, names[n], args.models, args, viewport)
                except Exception as e:  # one renderer failing must not hide the others' figures
                    rows[n, renderer] = {"first": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        browser.close()
    print(f"load average after: {os.getloadavg()}")
    report(rows, sizes, renderers, encoded, args, chromium)


def report(rows: dict, sizes: list[int], renderers: list[str], encoded: dict, args, chromium: str) -> None:
    print(f"\nLatent map, points=all, {args.viewport} page, {os.cpu_count()} cores, no GPU (Chromium {chromium} "
          f"headless, --disable-gpu: WebGL on SwiftShader); median of {args.repeats} cached visits")
    print(f"{'points':>8} {'renderer':<8} {'encode s':>8} {'first s':>8} {'cached s':>8} {'pan fps':>8} "
          f"{'zoom fps':>8} {'RSS MB':>7} {'peak MB':>7} {'new server s':>12} {'WS MB':>6}")
    summary = {}
    for n in sizes:
        for renderer in renderers:
            r = rows[n, renderer]
            s = summary[n, renderer] = {k: median(r.get(k, [])) for k in ("cached", "pan", "zoom", "rss", "ws")}
            print(f"{n:>8,} {renderer:<8} {encoded[n]['encode_s']:8.2f} {cell(r.get('first'), '.2f', 8)} "
                  f"{cell(s['cached'], '.2f', 8)} {cell(s['pan'], '.1f', 8)} {cell(s['zoom'], '.1f', 8)} "
                  f"{cell(s['rss'], '.0f', 7)} {cell(r.get('peak'), '.0f', 7)} {cell(r.get('restart'), '.2f', 12)} {cell(s['ws'], '.1f', 6)}")
            for what in [r.get("first"), r.get("restart")] + r.get("errors", []):
                if isinstance(what, str):
                    print(f"{'':>8} {renderer:<8} failed: {what}")
    if {"plotly", "regl"} <= set(renderers):
        print("\nsame-run ratios regl / plotly (cached first paint, pan fps, zoom fps, RSS)")
        for n in sizes:
            a, b = summary[n, "regl"], summary[n, "plotly"]
            ratio = [f"{a[k] / b[k]:.2f}x" if a[k] and b[k] else "-" for k in ("cached", "pan", "zoom", "rss")]
            print(f"{n:>8,}  " + "  ".join(ratio))
    print(f"\nbars: cached first paint <= {FIRST_PAINT_BAR_S:g} s at 200,000 points; pan and zoom >= {FPS_BAR:g} fps")
    for (n, renderer), s in summary.items():
        if n == max(sizes) and s["cached"] is not None:
            print(f"  {renderer} {n:,}: first paint {'met' if s['cached'] <= FIRST_PAINT_BAR_S else 'MISSED'}, "
                  f"pan {'met' if s['pan'] >= FPS_BAR else 'MISSED'}, zoom {'met' if s['zoom'] >= FPS_BAR else 'MISSED'}")


if __name__ == "__main__":
    main()
