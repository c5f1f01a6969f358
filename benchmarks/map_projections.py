"""Latent map at the size of a real test set: projecting 10,000 points and drawing them in the browser.

Data: benchmarks/standin_mnist.py (MNIST's files with 10,000 real digits as the test set, since this
machine cannot download MNIST), and a z = 16 MLP VAE trained on it here (``python -m training fit
--dataset mnist --latent-dim 16 --epochs E``). mu of the 10,000 test images is what every method projects.

Part 1, projections, each in a fresh Python process that has imported torch and the library, as the
server has (what the first visitor after a server start waits for: the projection library's import and
numba's compilation included), then again in that process (warm):
  PCA (training.analysis.latent.pca, unchanged), t-SNE as the app did it before (scikit-learn on a 2,000-point
  subsample) and scikit-learn on all 10,000, openTSNE and UMAP as the app does it now
  (training/analysis/embedding.py), and a read of the disk cache (training/analysis/map_cache.py).
Part 2, the page (unless --no-browser): `streamlit run explorer/app.py` in headless Chromium, Latent
map of that model, from navigation to all 10,000 points drawn (PCA, the default), then a click on
t-SNE and on UMAP until their 10,000 points are drawn (cold disk cache), and the same clicks again
in a new tab (the cache read instead of the computation).

    python benchmarks/map_projections.py [--epochs 20] [--repeats 3] [--no-browser] [--no-sklearn-full]
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

ROOT = Path(__file__).resolve().parents[1]

from benchmarks import standin_mnist
from benchmarks.harness import CHROMIUM_ARGS, Server, chromium_path

TARGETS = {"pca": 1.0, "tsne": 10.0, "umap": 10.0}

ONE = r"""
import json, sys, time
import numpy as np
import training.analysis.latent  # torch: the app has it loaded before any projection
mu = np.load(sys.argv[1])
t0 = time.perf_counter()
method = sys.argv[2]
def run():
    if method == "pca":
        from training.analysis.latent import pca; return pca(mu).coords
    if method == "sklearn-2k":
        from sklearn.manifold import TSNE
        from training.analysis.latent import subsample
        idx = subsample(len(mu), 2000, 0)
        return TSNE(n_components=2, perplexity=30, init="pca", random_state=0).fit_transform(mu[idx])
    if method == "sklearn-10k":
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, perplexity=30, init="pca", random_state=0).fit_transform(mu)
    if method == "cache":
        from training.analysis import map_cache
        return map_cache.cached(mu, "umap", 0, 30.0, lambda: np.zeros((len(mu), 2)))[0]
    from training.analysis import embedding
    return getattr(embedding, method)(mu, seed=0)
cold = run(); t1 = time.perf_counter()
warm = None
if len(sys.argv) > 3:
    t2 = time.perf_counter(); run(); warm = time.perf_counter() - t2
print(json.dumps({"cold": t1 - t0, "warm": warm, "n": int(len(cold))}))
"""


def project_times(mu_file: Path, method: str, warm: bool, env: dict) -> dict:
    args = [sys.executable, "-c", ONE, str(mu_file), method] + (["warm"] if warm else [])
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


POINTS = """title => { const g = document.querySelector('.st-key-latent_map_scatter .js-plotly-plot');
  if (!g || !g._fullData || !g._fullLayout.xaxis.title.text.startsWith(title)) return 0;
  return g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0); }"""


def page_times(url: str, n: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for visit in ("cold", "cached"):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function(f"() => ({POINTS})('PC') >= {n}", timeout=180_000)
            out[f"pca first render ({visit})"] = time.perf_counter() - t0
            for label, title in (("t-SNE", "t-SNE"), ("UMAP", "UMAP")):
                t0 = time.perf_counter()
                page.get_by_text(label, exact=True).click()
                page.wait_for_function(f"() => ({POINTS})({title!r}) >= {n}", timeout=180_000)
                out[f"{label} click to drawn ({visit})"] = time.perf_counter() - t0
            page.close()
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-sklearn-full", action="store_true", help="skip scikit-learn t-SNE on all 10,000 (about a minute)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="latent-map-bench-"))
    env = {**os.environ, "VAE_EXPLORER_DATA": str(standin_mnist.write(work / "data")),
           "VAE_EXPLORER_CACHE": str(work / "cache"), "PYTHONPATH": str(ROOT)}
    runs = work / "runs"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "training", "fit", "--dataset", "mnist", "--latent-dim", "16",
                    "--epochs", str(args.epochs), "--seed", "0", "--quiet", "--out", str(runs / "mnist10k")],
                   cwd=ROOT, env=env, check=True)
    print(f"trained z=16 MLP on the stand-in MNIST for {args.epochs} epochs in {time.perf_counter() - t0:.0f} s")

    code = ("import numpy as np, sys; from training.models.open import load_run; from training.data import "
            "load_dataset; from training.analysis.latent import encode_dataset; run = load_run(sys.argv[1]); "
            "d = load_dataset('mnist', download=False); np.save(sys.argv[2], encode_dataset(run.model, d.x_test))")
    mu_file = work / "mu.npy"
    subprocess.run([sys.executable, "-c", code, str(runs / "mnist10k"), str(mu_file)], cwd=ROOT, env=env, check=True)

    rows = []
    methods = ["pca", "sklearn-2k"] + ([] if args.no_sklearn_full else ["sklearn-10k"]) + ["tsne", "umap"]
    for method in methods:
        repeats = 1 if method == "sklearn-10k" else args.repeats
        results = [project_times(mu_file, method, warm=method != "sklearn-10k", env=env) for _ in range(repeats)]
        cold = statistics.median(r["cold"] for r in results)
        warm = [r["warm"] for r in results if r["warm"] is not None]
        rows.append((method, results[0]["n"], cold, statistics.median(warm) if warm else None, repeats))
    subprocess.run([sys.executable, "-c", "import numpy as np, sys; from training import map_cache; "
                    "mu = np.load(sys.argv[1]); map_cache.save(map_cache.key(mu, 'umap', 0, 30.0), np.zeros((len(mu), 2)))",
                    str(mu_file)], cwd=ROOT, env=env, check=True)
    results = [project_times(mu_file, "cache", warm=True, env=env) for _ in range(args.repeats)]
    rows.append(("cache read", results[0]["n"], statistics.median(r["cold"] for r in results),
                 statistics.median(r["warm"] for r in results), args.repeats))

    print(f"\nprojection of mu, {rows[0][1]:,} x 16 (median of repeats; 'fresh process' includes the projection "
          "library's import and numba's compilation)")
    print(f"{'method':<14} {'points':>7} {'fresh process s':>16} {'warm s':>8}  target")
    for method, n, cold, warm, repeats in rows:
        target = TARGETS.get({"tsne": "tsne", "umap": "umap", "pca": "pca"}.get(method, ""), None)
        mark = "" if target is None else f"<= {target:g} s: {'met' if cold <= target else 'MISSED'}"
        w = "" if warm is None else f"{warm:8.2f}"
        print(f"{method:<14} {n:>7,} {cold:16.2f} {w:>8}  {mark}  (x{repeats})")
    by = {m: c for m, _n, c, _w, _r in rows}
    if "sklearn-10k" in by:
        print(f"same-run ratios (fresh process): scikit-learn t-SNE / openTSNE on 10,000 points "
              f"{by['sklearn-10k'] / by['tsne']:.1f}x; scikit-learn on 2,000 / openTSNE on 10,000 "
              f"{by['sklearn-2k'] / by['tsne']:.2f}x")

    if not args.no_browser and chromium_path():
        (work / "cache").mkdir(exist_ok=True)
        for f in (work / "cache" / "maps").glob("*.npy"):
            f.unlink()  # the page starts with a cold disk cache
        server = Server(ROOT / "explorer" / "app.py", runs, env={k: env[k] for k in ("VAE_EXPLORER_DATA", "VAE_EXPLORER_CACHE")}
                        | {"VAE_EXPLORER_SERVED": "0"})
        try:
            times = page_times(f"{server.url}/latent_map?model=mnist10k&lang=en", 10_000)
        finally:
            server.stop()
        print("\nthe page in headless Chromium (new server; seconds)")
        for name, seconds in times.items():
            print(f"  {name:<34} {seconds:6.2f}")


if __name__ == "__main__":
    main()
