"""Three VAEs this library did not write, exported with torch.onnx by their own code and names (issue 24):
what a person brings who trained elsewhere. Used by tests/test_foreign_roles.py (exported once per session).

    conv-vae      a PyTorch conv VAE: input "image", outputs "mean", "log_var"; decoder "latent" -> "image"
    keras-style   Keras' VAE example's interface: channels-last (B, 28, 28, 1) images, an encoder of three
                  outputs (z_mean, z_log_var, z: a sample drawn in the graph), a channels-last decoder
    logits        a decoder that gives logits (no Sigmoid), an encoder whose outputs come (logvar, loc)

Each folder also holds a model.json naming the data set (mnist5k) and nothing else. ``FOREIGN[name]``
says how each one's own torch module maps onto the library's (B, C, H, W) images in [0, 1].
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

Z = 4
SIDE = 28


class ConvVAE(nn.Module):
    """Somebody's small conv VAE for 28x28 digits, channels first, probabilities out."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 4, 2, 1), nn.ReLU(),
                                  nn.Flatten(), nn.Linear(16 * 7 * 7, 2 * Z))
        self.decoder = nn.Sequential(nn.Linear(Z, 16 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (16, 7, 7)),
                                     nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1),
                                     nn.Sigmoid())

    def encode(self, image):
        mean, log_var = self.body(image).chunk(2, dim=-1)
        return mean, log_var


class KerasStyleEncoder(nn.Module):
    """Keras' VAE example's encoder, as torch: (B, 28, 28, 1) -> z_mean, z_log_var, z (sampled in the graph)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 16),
                                  nn.ReLU())
        self.z_mean, self.z_log_var = nn.Linear(16, Z), nn.Linear(16, Z)

    def forward(self, x):
        h = self.body(x.permute(0, 3, 1, 2))
        z_mean, z_log_var = self.z_mean(h), self.z_log_var(h)
        return z_mean, z_log_var, z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)


class KerasStyleDecoder(nn.Module):
    """z -> (B, 28, 28, 1) probabilities, channels last."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z, 64), nn.ReLU(), nn.Linear(64, SIDE * SIDE), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).reshape(-1, SIDE, SIDE, 1)


class LogitsEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.ReLU(), nn.Linear(32, 2 * Z))

    def forward(self, pixels):
        loc, logvar = self.net(pixels).chunk(2, dim=-1)
        return logvar, loc  # its own order: the names say which is which


class LogitsDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z, 32), nn.ReLU(), nn.Linear(32, SIDE * SIDE),
                                 nn.Unflatten(1, (1, SIDE, SIDE)))

    def forward(self, z):
        return self.net(z)  # logits: no Sigmoid


class _Encode(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        return self.vae.encode(image)


def _export(module: nn.Module, example: torch.Tensor, path: Path, inputs: list[str], outputs: list[str]) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), input_names=inputs, output_names=outputs,
                          dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False)


def export_all(root: Path) -> dict[str, dict]:
    """Export the three into ROOT/<name>; for each: its folder, and its torch functions on the library's terms
    (``encode``: (B, 1, 28, 28) -> mu, logvar; ``decode_mean``: z -> (B, 1, 28, 28) in [0, 1]; ``logits``)."""
    torch.manual_seed(24)
    conv, k_enc, k_dec, l_enc, l_dec = ConvVAE().eval(), KerasStyleEncoder().eval(), KerasStyleDecoder().eval(), \
        LogitsEncoder().eval(), LogitsDecoder().eval()
    nchw, nhwc, z = torch.rand(2, 1, SIDE, SIDE), torch.rand(2, SIDE, SIDE, 1), torch.randn(2, Z)
    specs = {
        "conv-vae": [(_Encode(conv), nchw, ["image"], ["mean", "log_var"]), (conv.decoder, z, ["latent"], ["image"])],
        "keras-style": [(k_enc, nhwc, ["input_layer"], ["z_mean", "z_log_var", "z"]),
                        (k_dec, z, ["input_layer_1"], ["dense_2"])],
        "logits": [(l_enc, nchw, ["pixels"], ["logvar", "loc"]), (l_dec, z, ["z"], ["logits"])],
    }
    for name, ((enc, x, enc_in, enc_out), (dec, zz, dec_in, dec_out)) in specs.items():
        folder = root / name
        folder.mkdir(parents=True)
        _export(enc, x, folder / "encoder.onnx", enc_in, enc_out)
        _export(dec, zz, folder / "decoder.onnx", dec_in, dec_out)
        (folder / "model.json").write_text(json.dumps({"format": "vae-explorer/onnx", "version": 1,
                                                       "dataset": "mnist5k"}))
    return {
        "conv-vae": {"folder": root / "conv-vae", "encode": conv.encode, "decode_mean": conv.decoder,
                     "layout": "nchw", "decoder_output": "probabilities", "ignored": ()},
        "keras-style": {"folder": root / "keras-style", "encode": lambda x: k_enc(x.permute(0, 2, 3, 1))[:2],
                        "decode_mean": lambda z: k_dec(z).permute(0, 3, 1, 2), "layout": "nhwc",
                        "decoder_output": "probabilities", "ignored": ("z",)},
        "logits": {"folder": root / "logits", "encode": lambda x: l_enc(x)[::-1], "decode_mean":
                   lambda z: torch.sigmoid(l_dec(z)), "logits": l_dec, "layout": "nchw", "decoder_output": "logits",
                   "ignored": ()},
    }
