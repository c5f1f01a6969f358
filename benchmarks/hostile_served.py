"""A served app's memory under the hostile files of issue 23: what the server process pays, and what the
foreign graphs' worker processes pay.

    python benchmarks/hostile_served.py

Runs, in this process (standing for the server: the same library calls the Models page and the model pages
make), each hostile upload: the ONNX pairs of tests/test_onnx_sandbox.py (a 32000x32000 tensor from 16 bytes,
a 40 GB allocation, a (B, B, 256) intermediate, (B^2, 2) outputs, NaN, a chain of MatMuls), each zipped and
given to ``save_uploaded_zip`` as the page does; a zip with one flipped byte and one of 650,000 entries; a
run whose status.json is a FIFO, listed. Then it opens a good foreign pair and encodes 10,000 images through it
(the Latent sliders' pass). Prints, for each, the sentence it got, the seconds, and this process's resident
memory (now and its peak) before and after.
"""

from __future__ import annotations

import io
import os
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("VAE_EXPLORER_FOREIGN_MB", "1024")
os.environ.setdefault("VAE_EXPLORER_FOREIGN_SECONDS", "10")

import torch  # noqa: E402

from explorer.state.uploads import save_uploaded_zip  # noqa: E402
from training.core.config import ModelConfig  # noqa: E402
from training.core.errors import UserError  # noqa: E402
from training.models.catalogue import list_runs  # noqa: E402
from training.models.onnx_runtime import OnnxVAE  # noqa: E402
from benchmarks.hostile_graphs import (IMAGE, Z, batch_squared, blowup, decoder, encoder, matmul_chain,  # noqa: E402
                                     nan_output, squared_output)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"model/{name}", data)
    return buffer.getvalue()


def many_entries(n: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr(f"e{i}", b"")
    return buffer.getvalue()


def flipped_byte() -> bytes:
    data = bytearray(zipped({"encoder.onnx": encoder(), "decoder.onnx": decoder()}))
    data[60] ^= 0xFF  # inside the first member's compressed data
    return bytes(data)


def main() -> None:
    torch.set_num_threads(1)
    cases = {
        "32000x32000 from 16 bytes": lambda: zipped({"encoder.onnx": encoder(), "decoder.onnx": blowup(32000)}),
        "40 GB allocation": lambda: zipped({"encoder.onnx": encoder(), "decoder.onnx": blowup(100000)}),
        "(B, B, 256) intermediate": lambda: zipped({"encoder.onnx": encoder(), "decoder.onnx": batch_squared()}),
        "(B^2, 2) output": lambda: zipped({"encoder.onnx": squared_output(), "decoder.onnx": decoder()}),
        "NaN output": lambda: zipped({"encoder.onnx": encoder(), "decoder.onnx": nan_output()}),
        "100 MatMuls of 4000x4000 built at run time": lambda: zipped({"encoder.onnx": encoder(), "decoder.onnx": matmul_chain()}),
        "zip, one flipped byte": flipped_byte,
        "zip, 650,000 entries": lambda: many_entries(650_000),
    }
    print(f"limits: VAE_EXPLORER_FOREIGN_MB={os.environ['VAE_EXPLORER_FOREIGN_MB']}, "
          f"VAE_EXPLORER_FOREIGN_SECONDS={os.environ['VAE_EXPLORER_FOREIGN_SECONDS']}")
    print(f"server at start: resident {rss_mb():.0f} MB, peak {peak_mb():.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        for i, (name, make) in enumerate(cases.items()):
            data = make()
            before, peak_before = rss_mb(), peak_mb()
            start = time.perf_counter()
            try:
                save_uploaded_zip(data, root, f"upload-{i}")
                outcome = "ACCEPTED"
            except UserError as err:
                outcome = str(err)[:110]
            seconds = time.perf_counter() - start
            print(f"- {name} ({len(data):,} bytes): {seconds:.2f} s; server resident {before:.0f} -> {rss_mb():.0f} MB, "
                  f"peak {peak_before:.0f} -> {peak_mb():.0f} MB\n    {outcome}")
        run = root / "fifo-run"
        run.mkdir()
        os.mkfifo(run / "status.json")
        start = time.perf_counter()
        listed = list_runs(root)
        print(f"- status.json a FIFO: the listing returned in {time.perf_counter() - start:.3f} s "
              f"({len(listed)} runs listed)")
    model = OnnxVAE(ModelConfig(image_shape=IMAGE, latent_dim=Z, hidden=(1,)), encoder(), decoder())
    x = torch.from_numpy(np.random.default_rng(0).random((10_000, *IMAGE), np.float32))
    before, peak_before = rss_mb(), peak_mb()
    start = time.perf_counter()
    mu, _ = model.encode(x)
    print(f"- a good pair encodes 10,000 images in chunks of {model.chunk}: {time.perf_counter() - start:.2f} s; "
          f"server resident {before:.0f} -> {rss_mb():.0f} MB, peak {peak_before:.0f} -> {peak_mb():.0f} MB")
    model.close()
    print(f"server at the end: resident {rss_mb():.0f} MB, peak {peak_mb():.0f} MB (the peak includes building the "
          f"hostile zips in this script); each worker is held to VAE_EXPLORER_FOREIGN_MB by the kernel (RLIMIT_AS)")


if __name__ == "__main__":
    main()
