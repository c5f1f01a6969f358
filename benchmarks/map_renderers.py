"""Latent map renderers side by side (issue 26): Plotly Scattergl as today, regl-scatterplot in a components v2
widget, embedding-atlas's Streamlit component; 10,000, 100,000 and 200,000 points in 10 colour classes.

Each renderer is a minimal Streamlit app in benchmarks/map_renderers/ (the same random points,
points.py). For each renderer and N a new server is started (MAP_N=N), the page is opened once to warm it
(the script's imports; the data is cached), then in a new browser context (nothing cached) it is opened
again and measured in the page's own clock:
  first paint  ms from navigation start (performance.timeOrigin) to the first animation frame at which all N
               points are drawn: Plotly, the graph's _fullData holds N points and a WebGL draw call has been
               made; regl-scatterplot, its draw(points) promise resolved (the library's "drawn");
               embedding-atlas, the first frame after its data is loaded at which a WebGL draw call was made
               in its frame (its iframe's own clock, mapped to the page's by timeOrigin).
  pan, zoom    frames per second over 3 s of dragging (pointerdown/mousedown, then one pointermove and
               mousemove per animation frame on a circle, dispatched in the page at the plot's canvas), then
               3 s of wheel events (one per frame, 10 in then 10 out): the number of
               requestAnimationFrame callbacks before which at least one WebGL draw call (drawArrays,
               drawElements or their instanced forms) was made since the previous callback, per second, in the
               frame that holds the plot. "rAF/s" is all callbacks per second (the page's frame rate).
  idle         the same count for 1 s without input, before the pan: the page's frame rate at rest (rAF/s).
  bytes        over the measured visit, from the DevTools protocol: HTTP bodies as transferred
               (encodedDataLength) and WebSocket frames received (binary frames counted in bytes).
  offline      every request the page made to a host other than the app's server (page.on("request")).
Chromium is headless with --disable-gpu: WebGL runs in software (SwiftShader).

    python benchmarks/map_renderers.py [--n 10000,100000,200000] [--renderers plotly,regl,atlas]
        [--atlas-python /tmp/ea-venv/bin/python] [--duckdb-from /tmp/duck26] [--webgpu]
        [--viewport 1400x1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from benchmarks.harness import CHROMIUM_ARGS, chromium_path, free_port, wait_healthy

APPS = {"plotly": "plotly_app.py", "regl": "regl_app.py", "regl-perf": "regl_app.py", "regl-fit": "regl_app.py",
        "atlas": "atlas_app.py"}
# regl-perf: the same widget created with performanceMode (square points, no alpha blending; the library's
# option for millions of points); regl-fit: its shared WebGL canvas sized to the plot instead of the window
OPTIONS = {"regl-perf": '{"performanceMode": true}', "regl-fit": '{"fitRenderer": true}'}

GL_COUNTER = """(() => {
  const gl = window.__gl = {calls: 0, frames: 0, drawnFrames: 0, last: 0, on: false};
  const wrap = (proto, names) => { if (!proto) return; for (const name of names) { const f = proto[name];
    if (typeof f === 'function') proto[name] = function (...a) { gl.calls++; return f.apply(this, a); }; } };
  const names = ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced'];
  wrap(window.WebGLRenderingContext && WebGLRenderingContext.prototype, names);
  wrap(window.WebGL2RenderingContext && WebGL2RenderingContext.prototype, names);
  for (const P of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    if (!P) continue; const get = P.prototype.getExtension;
    P.prototype.getExtension = function (name) { const ext = get.call(this, name);
      if (ext && name === 'ANGLE_instanced_arrays') wrap(Object.getPrototypeOf(ext),
        ['drawArraysInstancedANGLE', 'drawElementsInstancedANGLE']); return ext; };
  }
  const tick = () => { if (gl.on) { gl.frames++; if (gl.calls !== gl.last) gl.drawnFrames++; }
    gl.last = gl.calls; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})();"""

PLOTLY_PAINTED = """n => { const g = document.querySelector('SELECTOR');
      if (!g || !g._fullData || window.__gl.calls === 0) return false;
      return g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0) >= n
        ? performance.timeOrigin + performance.now() : false; }"""
REGL_PAINTED = """n => window.STATE && STATE.n >= n && STATE.firstPaint !== null
      ? performance.timeOrigin + STATE.firstPaint : false"""  # STATE: the page's {n, firstPaint} of its widget

# each returns performance.timeOrigin + performance.now() (epoch ms) at the first frame all points are drawn
PAINTED = {  # (regl-perf: as regl, below)
    "plotly": PLOTLY_PAINTED.replace("SELECTOR", ".js-plotly-plot"),
    "regl": REGL_PAINTED.replace("STATE", "mapBench"),
    # -1: the embedding view says it cannot draw (it needs WebGPU with shader-f16; SwiftShader's WebGPU lacks it)
    "atlas": """n => { const texts = [], canvases = [];   // its view lives in a shadow root
      const walk = root => { for (const el of root.querySelectorAll('*')) { if (el.tagName === 'CANVAS') canvases.push(el);
        if (el.shadowRoot) { texts.push(el.shadowRoot.textContent); walk(el.shadowRoot); } } };
      walk(document); const text = document.body.textContent + texts.join(' ');
      if (text.includes('WebGPU is unavailable')) return -1;
      return window.__gl && __gl.calls > 0 && canvases.length && text.includes(n.toLocaleString('en-US') + ' points')
        ? performance.timeOrigin + performance.now() : false; }""",
}


PAINTED["regl-perf"] = PAINTED["regl-fit"] = PAINTED["regl"]


def start(renderer: str, n: int, python: str) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix=f"map-{renderer}-", suffix=".log")[1])
    cmd = [python, "-m", "streamlit", "run", str(ROOT / "benchmarks" / "map_renderers" / APPS[renderer]),
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    env = {**os.environ, "MAP_N": str(n), "PYTHONPATH": str(ROOT), "REGL_OPTIONS": OPTIONS.get(renderer, "{}")}
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=f)
    wait_healthy(url, proc, log)
    return proc, url, log


def serve_cdn_locally(ctx, folder: str | None) -> None:
    """Answer cdn.jsdelivr.net's DuckDB-WASM files from FOLDER (an `npm install @duckdb/duckdb-wasm` of the
    version embedding-atlas asks for): the request is still made, and still counted as another host's."""
    if not folder:
        return

    def fulfil(route):
        name = route.request.url.rsplit("/", 1)[-1]
        path = Path(folder) / "node_modules" / "@duckdb" / "duckdb-wasm" / "dist" / name
        if not path.is_file():
            return route.abort()
        kind = "application/wasm" if name.endswith(".wasm") else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), headers={"Content-Type": kind,
                                                                   "Access-Control-Allow-Origin": "*"})

    ctx.route("https://cdn.jsdelivr.net/npm/@duckdb/**", fulfil)


def plot_frame(page, renderer: str):
    """The frame that holds the plot: the page itself, or embedding-atlas's component iframe."""
    if renderer != "atlas":
        return page
    page.wait_for_selector("iframe", timeout=120_000)
    for frame in page.frames:
        if frame is not page.main_frame and "component" in frame.url:
            return frame
    return page.frames[-1]


DRIVE = """([kind, seconds, scope]) => new Promise(resolve => {   // scope: a selector the plot is in, or null
  const deep = (root, out = []) => { for (const el of root.querySelectorAll('*')) {   // shadow roots too
    if (el.tagName === 'CANVAS') out.push(el); if (el.shadowRoot) deep(el.shadowRoot, out); } return out; };
  const canvases = deep(scope ? document.querySelector(scope) : document).filter(c => c.getBoundingClientRect().width > 200);
  const r = canvases[canvases.length - 1].getBoundingClientRect();
  const cx = r.left + r.width / 2, cy = r.top + Math.min(r.height, 600) / 2;
  let target = document.elementFromPoint(cx, cy);   // what a real pointer would hit (Plotly: its drag layer)
  while (target && target.shadowRoot) target = target.shadowRoot.elementFromPoint(cx, cy) || target;
  const fire = (type, x, y, extra) => {
    const init = {bubbles: true, cancelable: true, composed: true, view: window, clientX: x, clientY: y,
                  screenX: x, screenY: y, button: 0, buttons: type.endsWith('up') ? 0 : 1, pointerId: 1,
                  pointerType: 'mouse', isPrimary: true, ...extra};
    const E = type === 'wheel' ? WheelEvent : type.startsWith('pointer') ? PointerEvent : MouseEvent;
    target.dispatchEvent(new E(type, init));
  };
  const gl = window.__gl; gl.frames = 0; gl.drawnFrames = 0; gl.on = true;
  let k = 0, x = cx, y = cy; const t0 = performance.now();
  if (kind === 'pan') { fire('pointerdown', x, y); fire('mousedown', x, y); }
  const step = () => {
    const t = performance.now() - t0;
    if (t >= seconds * 1000) {
      if (kind === 'pan') { fire('pointerup', x, y); fire('mouseup', x, y); }
      gl.on = false;
      resolve({fps: gl.drawnFrames / t * 1000, raf: gl.frames / t * 1000, events: k});
      return;
    }
    if (kind === 'pan') {
      x = cx + 120 * Math.cos(k / 12); y = cy + 80 * Math.sin(k / 12);
      fire('pointermove', x, y); fire('mousemove', x, y);
    } else if (kind === 'zoom') {
      fire('wheel', cx, cy, {deltaY: Math.floor(k / 10) % 2 === 0 ? -60 : 60, deltaMode: 0});
    }
    k++;
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
})"""


def fps(frame, kind: str, seconds: float, scope: str | None = None) -> dict:
    """One synthetic input event per animation frame, dispatched in the plot's own frame (at the plot inside the
    element SCOPE selects, if given) for SECONDS."""
    return frame.evaluate(DRIVE, [kind, seconds, scope])


def open_map(browser, renderer: str, url: str, n: int, cdn: str | None = None, timeout_s: int = 300,
             viewport: tuple[int, int] = (1400, 1000), painted_js: str | None = None) -> dict:
    """A new browser context opens URL and waits until N points are drawn (PAINTED_JS, default the renderer's own):
    {"first_paint_ms", "ctx", "frame", "cdp", "sizes", "foreign"}, or {"error", "foreign"} with the context closed."""
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    serve_cdn_locally(ctx, cdn)
    ctx.add_init_script(GL_COUNTER)
    foreign: list[str] = []
    ctx.on("request", lambda r: foreign.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes = {"http": 0, "ws": 0}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__("http", sizes["http"] + e["encodedDataLength"]))
    cdp.on("Network.webSocketFrameReceived", lambda e: sizes.__setitem__(
        "ws", sizes["ws"] + (len(e["response"]["payloadData"]) * 3 // 4 if e["response"]["opcode"] == 2
                             else len(e["response"]["payloadData"].encode()))))
    page.goto(url)
    t_nav = page.evaluate("performance.timeOrigin")
    frame = plot_frame(page, renderer)
    try:
        painted = frame.wait_for_function(painted_js or PAINTED[renderer], arg=n, polling="raf",
                                          timeout=timeout_s * 1000).json_value()
    except Exception as e:  # noqa: BLE001 (a timeout: say it, with the requests made so far)
        painted, why = None, f"nothing drawn within {timeout_s} s ({type(e).__name__})"
    if painted is None or painted == -1:
        if painted == -1:  # PAINTED_JS's -1: the page says it cannot draw
            why = ("its view says: WebGPU is unavailable. This view requires a browser with WebGPU support"
                   if renderer == "atlas" else "the page shows an error instead of the plot")
        ctx.close()
        return {"error": why, "foreign": sorted(set(foreign))}
    return {"first_paint_ms": painted - t_nav, "ctx": ctx, "frame": frame, "cdp": cdp, "sizes": sizes, "foreign": foreign}


def measure(browser, renderer: str, url: str, n: int, seconds: float, cdn: str | None = None, timeout_s: int = 300,
            viewport: tuple[int, int] = (1400, 1000), painted_js: str | None = None, scope: str | None = None) -> dict:
    """open_map, then the frame rates at rest (1 s), panning and zooming (SECONDS each) and the bytes received."""
    r = open_map(browser, renderer, url, n, cdn, timeout_s, viewport, painted_js)
    if "error" in r:
        return r
    frame = r["frame"]
    frame.wait_for_timeout(500)  # let the first-paint work settle before the input starts
    idle = fps(frame, "idle", 1.0, scope)  # no input: the frame rate the page has, and draws without input
    pan = fps(frame, "pan", seconds, scope)
    zoom = fps(frame, "zoom", seconds, scope)
    r["cdp"].detach()
    r["ctx"].close()
    return {"first_paint_ms": r["first_paint_ms"], "idle": idle, "pan": pan, "zoom": zoom, "http": r["sizes"]["http"],
            "ws": r["sizes"]["ws"], "foreign": sorted(set(r["foreign"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="10000,100000,200000")
    ap.add_argument("--renderers", default="plotly,regl,atlas")
    ap.add_argument("--atlas-python", default="/tmp/ea-venv/bin/python")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--viewport", default="1400x1000", help="the measured page's size, WIDTHxHEIGHT")
    ap.add_argument("--duckdb-from", default=None, help="a folder with `npm install @duckdb/duckdb-wasm@1.33.1-dev45.0`: "
                    "answer embedding-atlas's cdn.jsdelivr.net requests from it (still counted as another host)")
    ap.add_argument("--webgpu", action="store_true", help="let Chromium offer WebGPU on SwiftShader (Vulkan) "
                    "instead of --disable-gpu")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average before: {os.getloadavg()}")
    rows = []
    with sync_playwright() as p:
        flags = CHROMIUM_ARGS if not args.webgpu else [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
            "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan",
            "--use-angle=swiftshader"]
        browser = p.chromium.launch(executable_path=chromium_path(), args=flags)
        for renderer in args.renderers.split(","):
            for n in (int(v) for v in args.n.split(",")):
                python = args.atlas_python if renderer == "atlas" else sys.executable
                proc, url, log = start(renderer, n, python)
                try:
                    if renderer != "atlas":  # warm the server (imports, cached data); atlas: see measure
                        warm = browser.new_page()
                        warm.goto(url)
                        warm.wait_for_function(PAINTED[renderer].replace("window.__gl.calls === 0", "false"),
                                               arg=n, polling=200, timeout=300_000)
                        warm.close()
                    r = measure(browser, renderer, url, n, args.seconds, args.duckdb_from if renderer == "atlas" else None,
                                timeout_s=90 if renderer == "atlas" else 300,
                                viewport=tuple(int(v) for v in args.viewport.split("x")))
                except Exception as e:  # one renderer failing must not hide the others' figures
                    r = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
                         "log": log.read_text(errors="replace")[-800:]}
                finally:
                    proc.terminate()
                    proc.wait(timeout=20)
                rows.append((renderer, n, r))
                print(renderer, n, r, f"load {os.getloadavg()[0]:.2f}", flush=True)
        browser.close()

    print(f"\n{'renderer':<8} {'points':>8} {'first paint s':>13} {'pan fps':>8} {'(rAF/s)':>8} {'zoom fps':>9} "
          f"{'(rAF/s)':>8} {'HTTP kB':>8} {'WS kB':>8} {'idle rAF/s':>10}  other hosts")
    for renderer, n, r in rows:
        if "error" in r:
            print(f"{renderer:<8} {n:>8,}  failed: {r['error']}; other hosts: {', '.join(r.get('foreign', [])) or 'none'}")
            continue
        print(f"{renderer:<8} {n:>8,} {r['first_paint_ms'] / 1000:13.2f} {r['pan']['fps']:8.1f} {r['pan']['raf']:8.1f} "
              f"{r['zoom']['fps']:9.1f} {r['zoom']['raf']:8.1f} {r['http'] / 1000:8.0f} {r['ws'] / 1000:8.0f} {r['idle']['raf']:10.1f}  "
              f"{', '.join(r['foreign']) or 'none'}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
