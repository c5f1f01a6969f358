"""What running a foreign ONNX model in its limited worker process costs a slider move.

    python benchmarks/foreign_latency.py [--calls 200] [--run explorer/demos/mnist5k-z16]

Exports a bundled demo (an MLP VAE, 16 -> 400 -> 784) as an ONNX pair, then times one decode of one z
(what a slider move asks of a foreign model) three ways, after a warm-up: ONNX Runtime in this process (what
the app did before issue 23), through ``GraphWorker`` (training/models/sandbox.py: a pipe round trip to the
child), and through ``OnnxVAE.decode_mean`` (the worker plus the shape and finiteness checks and the torch
conversions the pages get). Prints medians, 90th percentiles and the same-run added milliseconds; and the
one-off cost of opening the model (starting the worker and checking the pair at a batch of 1 and a chunk).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[1]

from training.models.onnx_export import export_run  # noqa: E402
from training.models.onnx_runtime import load_folder  # noqa: E402
from training.models.sandbox import GraphWorker  # noqa: E402


def timed(call, n: int) -> list[float]:
    for _ in range(20):
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> tuple[float, float]:
    return statistics.median(ms), float(np.percentile(ms, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--run", default=str(ROOT / "explorer" / "demos" / "mnist5k-z16"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_run(args.run, Path(tmp) / "pair")
        decoder_bytes = (folder / "decoder.onnx").read_bytes()
        start = time.perf_counter()
        run = load_folder(folder)
        opened = time.perf_counter() - start
        z_dim = run.model.latent_dim
        z = np.random.default_rng(0).standard_normal((1, z_dim)).astype(np.float32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(decoder_bytes, options, providers=["CPUExecutionProvider"])
        worker = GraphWorker((folder / "encoder.onnx").read_bytes(), decoder_bytes, threads=1)
        z_t = torch.from_numpy(z)
        rows = {"in process (before)": timed(lambda: session.run(None, {"z": z}), args.calls),
                "GraphWorker.run": timed(lambda: worker.run("decoder", z), args.calls),
                "OnnxVAE.decode_mean": timed(lambda: run.model.decode_mean(z_t), args.calls)}
        worker.close()
        run.model.close()
    base = summary(rows["in process (before)"])[0]
    print(f"one decode of one z, {args.calls} calls after 20 warm-up, {Path(args.run).name} (z={z_dim})")
    for name, ms in rows.items():
        med, p90 = summary(ms)
        print(f"  {name:22s} median {med:6.3f} ms   p90 {p90:6.3f} ms   added {med - base:+6.3f} ms")
    print(f"opening the pair (worker start + check at a batch of 1 and a chunk): {opened:.2f} s")


if __name__ == "__main__":
    main()
