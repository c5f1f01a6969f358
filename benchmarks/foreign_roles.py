"""What reading a foreign model by role costs a decode (issue 24): the same decoder network exported three ways,
channels first ending in a Sigmoid (what the explorer took before), channels last (transposed back here), and
giving logits (a sigmoid applied here), each opened with ``load_folder`` and timed through
``OnnxVAE.decode_mean`` (the worker call, the checks, the transpose or sigmoid and the torch conversions).

    python benchmarks/foreign_roles.py [--calls 200] [--image 3,32,32] [--batch 1]

Prints the median and 90th percentile per call and each variant's difference to the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.foreign_latency import timed  # one timer for the foreign-model benchmarks
from training.models.onnx_runtime import load_folder

Z = 16


class Decoder(nn.Module):
    def __init__(self, image, layout: str, logits: bool):
        super().__init__()
        self.image, self.layout, self.logits = image, layout, logits
        self.net = nn.Sequential(nn.Linear(Z, 400), nn.ReLU(), nn.Linear(400, int(np.prod(image))))

    def forward(self, z):
        h = self.net(z)
        h = h if self.logits else torch.sigmoid(h)
        c, s, _ = self.image
        return h.reshape(-1, s, s, c) if self.layout == "nhwc" else h.reshape(-1, c, s, s)


class Encoder(nn.Module):
    def __init__(self, image):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(image)), 2 * Z))

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=-1)
        return mu, logvar


def export(folder: Path, image, layout: str, logits: bool) -> Path:
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    c, s, _ = image
    x = torch.rand(2, s, s, c) if layout == "nhwc" else torch.rand(2, *image)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        pair = ((Encoder(image), x, "encoder.onnx", ["images"], ["mean", "log_var"]),
                (Decoder(image, layout, logits), torch.randn(2, Z), "decoder.onnx", ["code"], ["out"]))
        for module, example, name, ins, outs in pair:
            torch.onnx.export(module.eval(), (example,), str(folder / name), input_names=ins, output_names=outs,
                              dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False)
    (folder / "model.json").write_text(json.dumps({"format": "vae-explorer/onnx", "version": 1}))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--image", default="3,32,32")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    image = tuple(int(v) for v in args.image.split(","))
    torch.set_num_threads(1)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((args.batch, Z)).astype(np.float32))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, layout, logits in (("channels first, Sigmoid", "nchw", False), ("channels last", "nhwc", False),
                                     ("logits", "nchw", True)):
            run = load_folder(export(Path(tmp) / name.replace(" ", "_").replace(",", ""), image, layout, logits))
            assert (run.roles.layout, run.roles.decoder_output) == (layout, "logits" if logits else "probabilities")
            with torch.no_grad():
                rows[name] = timed(lambda: run.model.decode_mean(z), args.calls)
            run.model.close()
    base = statistics.median(rows["channels first, Sigmoid"])
    print(f"OnnxVAE.decode_mean of {args.batch} z, images {image}, {args.calls} calls after 20 warm-up")
    for name, ms in rows.items():
        med = statistics.median(ms)
        p90 = np.percentile(ms, 90)
        print(f"  {name:24s} median {med:6.3f} ms   p90 {p90:6.3f} ms   vs first {med - base:+6.3f} ms")


if __name__ == "__main__":
    main()
