"""A VAE trained anywhere, as two ONNX graphs in a folder: open it safely, run it with ONNX Runtime,
and export this library's runs the same way.

The interface (README, "Models from elsewhere"):

    encoder.onnx   input  "x"       float32 (B, C, H, W), images in [0, 1]
                   output "mu"      float32 (B, Z)          E3: the encoder's mean
                   output "logvar"  float32 (B, Z)          E3: ln sigma^2
    decoder.onnx   input  "z"       float32 (B, Z)
                   output "x_mean"  float32 (B, C, H, W)    the decoder's mean image mu~(z) in [0, 1]
    model.json     optional: {"format": "vae-explorer/onnx", "version": 1, "dataset": "mnist5k",
                   "likelihood": "bernoulli" | "gaussian", "sigma": 0.1}; shapes come from the graphs

B is dynamic; C, H, W and Z are fixed in the graphs. Opening never runs code from the folder and never
reads a file outside it: each graph's size is checked before it is read; it is parsed without
external data; a tensor that points at external data, an operator outside ONNX's standard domain, a
local function, control flow (subgraphs), declared sizes over the limits, or inputs and outputs of other
names, ranks or types are refused with one sentence. ONNX Runtime gets the checked bytes, not a path.

The explorer and ``evaluate`` use the pair through :class:`OnnxVAE`, which looks like the library's VAE
to them: ``encode``, ``decode_mean`` and, for the loss, ``decode`` = logit(mu~) with the likelihood the
JSON names (Bernoulli by default), so a foreign model is scored by the same estimators as a run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training import costs
from training.config import MAX_IMAGE_SIDE, MAX_LATENT_DIM, ModelConfig, RunConfig
from training.errors import UserError
from training.run_folder import NO_DATASET, ONNX_DECODER, ONNX_ENCODER, ONNX_META, read_bounded, read_history

FORMAT = "vae-explorer/onnx"
ENCODER_IO = (("x",), ("mu", "logvar"))
DECODER_IO = (("z",), ("x_mean",))
MAX_META_BYTES = 64 * 1024
OPSET_RANGE = (7, 23)
STANDARD_DOMAINS = ("", "ai.onnx")
FLOAT = 1  # onnx.TensorProto.FLOAT
EXTERNAL = 1  # onnx.TensorProto.EXTERNAL


class OnnxMeta(BaseModel):
    """model.json: what the graphs do not say (all optional but the format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["vae-explorer/onnx"] = FORMAT
    version: Literal[1] = 1
    dataset: str | None = Field(None, max_length=4096)
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    sigma: float = Field(0.1, gt=0.0, le=100.0)
    image_shape: tuple[int, int, int] | None = None  # written by export; checked against the graphs
    latent_dim: int | None = None


# -- reading one graph safely -------------------------------------------------------------------------
def _dims(value_info) -> list[int | str | None]:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def read_graph(path: Path, role: str):
    """Parse PATH (ROLE: "encoder" or "decoder") after checking its size; refuse what the module doc lists."""
    limit = costs.limit_mb(costs.WEIGHTS_ENV) * costs.MB
    try:
        size = path.stat().st_size
    except OSError:
        raise UserError("{path} is missing: an ONNX model folder needs {encoder} and {decoder}.", path=path,
                        encoder=ONNX_ENCODER, decoder=ONNX_DECODER) from None
    if size > limit:
        raise UserError("{path} is {size:,} bytes, over the {limit:,} bytes a model may take "
                        "(VAE_EXPLORER_MAX_WEIGHTS_MB).", path=path, size=size, limit=limit)
    return parse_graph(path.read_bytes(), role, path), path.read_bytes()


def parse_graph(data: bytes, role: str, where):
    """The checked ModelProto of DATA (ROLE "encoder" or "decoder"; WHERE names it in messages)."""
    import onnx
    from google.protobuf.message import DecodeError

    limit = costs.limit_mb(costs.WEIGHTS_ENV) * costs.MB
    if len(data) > limit:
        raise UserError("{path} is {size:,} bytes, over the {limit:,} bytes a model may take "
                        "(VAE_EXPLORER_MAX_WEIGHTS_MB).", path=where, size=len(data), limit=limit)
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as err:
        raise UserError("{path} is not an ONNX model ({why}).", path=where, why=str(err).splitlines()[0][:200]) from None
    _check_graph(model, role, where, limit)
    return model


def _tensors(model):
    """Every stored tensor of the model, subgraphs' and attributes' included."""
    for t in model.graph.initializer:
        yield t
    for node in model.graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors


def _check_graph(model, role: str, path: Path, limit: int) -> None:
    import onnx

    for t in _tensors(model):
        if t.data_location == EXTERNAL or len(t.external_data):
            raise UserError("{path} refers to data outside its file (tensor {name}); only self-contained graphs are "
                            "opened.", path=path, name=t.name or "?")
    if len(model.functions):
        raise UserError("{path} defines its own functions; only ONNX's standard operators are run.", path=path)
    opsets = {o.domain: o.version for o in model.opset_import}
    unknown_domains = sorted(d for d in opsets if d not in STANDARD_DOMAINS)
    version = max((v for d, v in opsets.items() if d in STANDARD_DOMAINS), default=0)
    if unknown_domains or not OPSET_RANGE[0] <= version <= OPSET_RANGE[1]:
        raise UserError("{path} uses operator set {opsets}; only ONNX's standard set, versions {lo} to {hi}, is "
                        "run.", path=path, opsets=", ".join(f"{d or 'ai.onnx'} {v}" for d, v in opsets.items()),
                        lo=OPSET_RANGE[0], hi=OPSET_RANGE[1])
    for node in model.graph.node:
        if node.domain not in STANDARD_DOMAINS or not onnx.defs.has(node.op_type, node.domain or ""):
            raise UserError("{path} uses the operator {op}, which is not a standard ONNX operator.", path=path,
                            op=f"{node.domain + '.' if node.domain else ''}{node.op_type}")
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise UserError("{path} has control flow ({op}); only plain feed-forward graphs are opened.", path=path,
                            op=node.op_type)
    stored = 0
    for t in _tensors(model):
        n = math.prod(int(d) for d in t.dims) if len(t.dims) else 1
        stored += n * 4
        if any(int(d) < 0 for d in t.dims) or stored > limit:
            raise UserError("{path} declares tensors of more than {limit:,} bytes (VAE_EXPLORER_MAX_WEIGHTS_MB).",
                            path=path, limit=limit)
    names_in, names_out = ENCODER_IO if role == "encoder" else DECODER_IO
    stored_names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in stored_names]
    ranks_in, ranks_out = ((4,), (2, 2)) if role == "encoder" else ((2,), (4,))
    for kind, got, names, ranks in (("input", inputs, names_in, ranks_in),
                                    ("output", list(model.graph.output), names_out, ranks_out)):
        found = [v.name for v in got]
        if found != list(names):
            raise UserError("The {role} {path} must have the {kind}s {names}, not {found}.", role=role, path=path,
                            kind=kind, names=", ".join(names), found=", ".join(found) or "none")
        for v, rank in zip(got, ranks):
            elem = v.type.tensor_type.elem_type
            dims = _dims(v)
            if elem != FLOAT or len(dims) != rank:
                raise UserError("The {role} {path}: {kind} {name} must be float32 of rank {rank}, not {what}.",
                                role=role, path=path, kind=kind, name=v.name, rank=rank,
                                what=f"type {elem}, rank {len(dims)}")
            fixed = dims[1:]
            if not all(isinstance(d, int) and d > 0 for d in fixed):
                raise UserError("The {role} {path}: {kind} {name} must have fixed sizes after the batch, not {dims}.",
                                role=role, path=path, kind=kind, name=v.name, dims=dims)


# -- the pair -----------------------------------------------------------------------------------------
def _shapes(encoder, decoder, path: Path) -> tuple[tuple[int, int, int], int]:
    x_in = _dims(encoder.graph.input[[i.name for i in encoder.graph.input].index("x")])
    mu, logvar = (_dims(o) for o in encoder.graph.output)
    z_in = _dims([i for i in decoder.graph.input if i.name == "z"][0])
    x_out = _dims(decoder.graph.output[0])
    image, z_dim = tuple(int(d) for d in x_in[1:]), int(mu[1])
    if logvar[1] != z_dim or z_in[1] != z_dim or tuple(x_out[1:]) != image:
        raise UserError("The encoder and decoder in {path} do not fit together: images {image} and z of {z} in the "
                        "encoder, z of {z_dec} and images {image_dec} in the decoder.", path=path, image=image,
                        z=z_dim, z_dec=z_in[1], image_dec=tuple(x_out[1:]))
    c, h, w = image
    if c not in (1, 3) or h != w or not 1 <= h <= MAX_IMAGE_SIDE or not 1 <= z_dim <= MAX_LATENT_DIM:
        raise UserError("{path} holds a model of images {image} and {z} latent dimensions; the explorer takes square "
                        "grayscale or RGB images up to {side} pixels and 1 to {most} dimensions.", path=path,
                        image=image, z=z_dim, side=MAX_IMAGE_SIDE, most=MAX_LATENT_DIM)
    return image, z_dim


def read_meta(folder: Path) -> OnnxMeta:
    path = folder / ONNX_META
    if not path.is_file():
        return OnnxMeta()
    try:
        return OnnxMeta.model_validate_json(read_bounded(path, MAX_META_BYTES, "an ONNX model description"))
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError("{path} is not a valid model description: {field} {why}.", path=path,
                        field=".".join(str(p) for p in first["loc"]) or "it", why=first["msg"].lower()) from None


def config_of(folder: str | Path, dataset: str | None = None) -> RunConfig:
    """The RunConfig an ONNX folder stands for: shapes from its graphs, the rest from model.json or DATASET."""
    folder = Path(folder)
    meta = read_meta(folder)
    (encoder, _), (decoder, _) = read_graph(folder / ONNX_ENCODER, "encoder"), read_graph(folder / ONNX_DECODER, "decoder")
    image, z_dim = _shapes(encoder, decoder, folder)
    if meta.image_shape is not None and tuple(meta.image_shape) != image or meta.latent_dim not in (None, z_dim):
        raise UserError("{path} describes images {image} and {z} dimensions, but the graphs have {graphs} and {z2}.",
                        path=folder / ONNX_META, image=meta.image_shape, z=meta.latent_dim, graphs=image, z2=z_dim)
    model = ModelConfig(image_shape=image, latent_dim=z_dim, likelihood=meta.likelihood, sigma=meta.sigma,
                        arch="mlp", hidden=(1,))  # arch and hidden say nothing here: the graphs are the network
    return RunConfig(model=model, train={"dataset": dataset or meta.dataset or NO_DATASET, "epochs": 1})


class OnnxVAE(torch.nn.Module):
    """The pair, run by ONNX Runtime on the CPU, with the methods the library's pages and estimators use."""

    def __init__(self, cfg: ModelConfig, encoder_bytes: bytes, decoder_bytes: bytes):
        super().__init__()
        import onnxruntime as ort

        from training.likelihoods import make_likelihood

        self.cfg = cfg
        self.likelihood = make_likelihood(cfg.likelihood, cfg.sigma, cfg.min_sigma)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, torch.get_num_threads()))
        options.log_severity_level = 3
        try:
            self._encoder = ort.InferenceSession(encoder_bytes, options, providers=["CPUExecutionProvider"])
            self._decoder = ort.InferenceSession(decoder_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime's own refusal: an operator it lacks, a graph it cannot type
            raise UserError("ONNX Runtime cannot run this model: {why}", why=str(err).splitlines()[0][:300]) from None
        # callers read the device and dtype from the parameters: one that stands for the graphs' (CPU, float32)
        self._anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E3 through the encoder graph: x (B, C, H, W) -> mu, logvar, each (B, Z)."""
        mu, logvar = self._encoder.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)})
        return torch.from_numpy(mu), torch.from_numpy(logvar)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """mu~(z) through the decoder graph, (..., C, H, W) in [0, 1]."""
        lead = z.shape[:-1]
        flat = np.ascontiguousarray(z.detach().cpu().reshape(-1, z.shape[-1]).numpy(), np.float32)
        (x_mean,) = self._decoder.run(None, {"z": flat})
        return torch.from_numpy(x_mean).reshape(*lead, *x_mean.shape[1:])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The likelihood's parameters: logit(mu~), which both Bernoulli and fixed-sigma Gaussian read."""
        return torch.logit(self.decode_mean(z).clamp(1e-6, 1 - 1e-6))

    def forward(self, x: torch.Tensor):  # pragma: no cover - not used; keeps nn.Module complete
        return self.encode(x)


def load_folder(folder: str | Path, dataset: str | None = None):
    """An ONNX folder as a ``training.checkpoint.Run`` (its history, if it has one; else empty)."""
    from training.checkpoint import Run

    folder = Path(folder)
    config = config_of(folder, dataset)
    _, encoder_bytes = read_graph(folder / ONNX_ENCODER, "encoder")
    _, decoder_bytes = read_graph(folder / ONNX_DECODER, "decoder")
    model = OnnxVAE(config.model, encoder_bytes, decoder_bytes).eval()
    history = read_history(folder) if (folder / "history.jsonl").is_file() else []
    return Run(folder, config, model, history)


# -- export -------------------------------------------------------------------------------------------
class _Method(torch.nn.Module):
    """One method of the VAE as the module torch.onnx exports: encode (x -> mu, logvar) or decode_mean."""

    def __init__(self, vae, method: str):
        super().__init__()
        self.vae, self.method = vae, method

    def forward(self, x):
        return getattr(self.vae, self.method)(x)


def export_run(run_dir: str | Path, out: str | Path) -> Path:
    """Write RUN_DIR's model as encoder.onnx, decoder.onnx and model.json into OUT (a new or empty folder)."""
    import warnings

    from training.checkpoint import load_run

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("{out} already exists and is not an empty folder; choose a new one.", out=out)
    run = load_run(run_dir)
    cfg = run.config.model
    batch = torch.export.Dim("batch", min=1, max=65536)
    tmp = out.with_name(f".{out.name}.exporting")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Method(run.model, "encode").eval(), (torch.rand(2, *cfg.image_shape),), str(tmp / ONNX_ENCODER),
                              input_names=["x"], output_names=["mu", "logvar"], dynamic_shapes=({0: batch},),
                              dynamo=True, external_data=False, verbose=False)
            torch.onnx.export(_Method(run.model, "decode_mean").eval(), (torch.randn(2, cfg.latent_dim),), str(tmp / ONNX_DECODER),
                              input_names=["z"], output_names=["x_mean"], dynamic_shapes=({0: batch},),
                              dynamo=True, external_data=False, verbose=False)
        likelihood = "gaussian" if cfg.likelihood.startswith("gaussian") else "bernoulli"
        meta = OnnxMeta(dataset=run.config.train.dataset, likelihood=likelihood, sigma=cfg.sigma,
                        image_shape=cfg.image_shape, latent_dim=cfg.latent_dim)
        (tmp / ONNX_META).write_text(json.dumps(meta.model_dump(), indent=2) + "\n", encoding="utf-8")
        for leftover in tmp.glob("*.data"):  # no external data, ever
            leftover.unlink()
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return out


# -- the in-browser decoder ----------------------------------------------------------------------------
BROWSER_OPS = ("Gemm", "MatMul", "Add", "Relu", "Reshape", "Flatten", "ConvTranspose", "Sigmoid", "Identity")


def array_decoder(folder: str | Path):
    """The decoder graph as a training.array_decoder.ArrayDecoder, which numpy and the browser run, when it
    is the kind of network that decoder computes: dense layers (Gemm, or MatMul then Add) and transposed
    convolutions (kernel 4, stride 2, padding 1), a ReLU between layers, reshapes, and a Sigmoid at the end.
    Anything else (batch norm, other activations, other convolutions): one sentence naming what it lacks."""
    from onnx import numpy_helper

    from training.array_decoder import KERNEL, PADDING, STRIDE, ArrayDecoder, Layer

    folder = Path(folder)
    config = config_of(folder)
    decoder, _ = read_graph(folder / ONNX_DECODER, "decoder")
    values = {t.name: numpy_helper.to_array(t) for t in decoder.graph.initializer}
    for node in decoder.graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    ops = [n for n in decoder.graph.node if n.op_type != "Constant"]
    lacking = sorted({n.op_type for n in ops if n.op_type not in BROWSER_OPS})
    if lacking:
        raise UserError("Its decoder uses {ops}, which the in-browser decoder does not compute.",
                        ops=", ".join(lacking))
    attrs = lambda n: {a.name: __import__("onnx").helper.get_attribute_value(a) for a in n.attribute}  # noqa: E731
    layers: list = []
    pending_mm = None
    relus_after: list[bool] = []
    z_dim = config.model.latent_dim
    c, h, w = config.model.image_shape
    ends_in_sigmoid = False
    for node in ops:
        a = attrs(node)
        if node.op_type in ("Reshape", "Flatten", "Identity"):
            continue
        if ends_in_sigmoid:
            raise UserError("Its decoder computes after its Sigmoid, which the in-browser decoder does not.")
        if node.op_type == "Gemm":
            weight, bias = values.get(node.input[1]), values.get(node.input[2]) if len(node.input) > 2 else None
            if weight is None or bias is None or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 \
                    or a.get("beta", 1.0) != 1.0:
                raise UserError("Its decoder has a Gemm the in-browser decoder does not compute.")
            w_mat = weight if a.get("transB", 0) else weight.T
            layers.append(("dense", w_mat, bias))
        elif node.op_type == "MatMul":
            weight = values.get(node.input[1])
            if weight is None or weight.ndim != 2:
                raise UserError("Its decoder has a MatMul the in-browser decoder does not compute.")
            pending_mm = weight.T
            continue
        elif node.op_type == "Add":
            bias = values.get(node.input[1]) if node.input[1] in values else values.get(node.input[0])
            if pending_mm is None or bias is None:
                raise UserError("Its decoder adds tensors in a way the in-browser decoder does not compute.")
            layers.append(("dense", pending_mm, bias.reshape(-1)))
            pending_mm = None
        elif node.op_type == "ConvTranspose":
            weight = values.get(node.input[1])
            bias = values.get(node.input[2]) if len(node.input) > 2 else None
            ok = (weight is not None and weight.ndim == 4 and weight.shape[2:] == (KERNEL, KERNEL)
                  and list(a.get("strides", [1, 1])) == [STRIDE, STRIDE] and list(a.get("pads", [0] * 4)) == [PADDING] * 4
                  and a.get("group", 1) == 1 and list(a.get("dilations", [1, 1])) == [1, 1]
                  and not any(a.get("output_padding", [0, 0])))
            if not ok:
                raise UserError("Its decoder has a transposed convolution other than kernel 4, stride 2, padding 1, "
                                "which the in-browser decoder does not compute.")
            layers.append(("deconv", weight, bias if bias is not None else np.zeros(weight.shape[1], np.float32)))
        elif node.op_type == "Relu":
            if not layers or len(relus_after) == len(layers):
                raise UserError("Its decoder has a ReLU where the in-browser decoder has none.")
            relus_after.append(True)
            continue
        elif node.op_type == "Sigmoid":
            ends_in_sigmoid = True
            continue
        if len(relus_after) < len(layers) - 1:
            raise UserError("Its decoder has two layers without a ReLU between them, which the in-browser decoder "
                            "does not compute.")
    if pending_mm is not None or not ends_in_sigmoid or not layers or len(relus_after) != len(layers) - 1:
        raise UserError("Its decoder is not a stack of layers with ReLUs between them and a Sigmoid at the end, which "
                        "is what the in-browser decoder computes.")
    built, shape = [], (z_dim,)
    for kind, weight, bias in layers:
        weight = np.ascontiguousarray(weight, np.float32)
        bias = np.ascontiguousarray(bias, np.float32)
        if kind == "dense":
            n_in = int(np.prod(shape))
            if weight.shape[1] != n_in or bias.shape != (weight.shape[0],):
                raise UserError("Its decoder's layers do not chain ({got} inputs where {want} arrive).",
                                got=weight.shape[1], want=n_in)
            built.append(Layer("dense", weight, bias, (n_in,), (weight.shape[0],)))
            shape = (weight.shape[0],)
        else:
            c_in = weight.shape[0]
            pixels = int(np.prod(shape)) // c_in
            side = int(round(math.sqrt(pixels)))
            if side * side * c_in != int(np.prod(shape)):
                raise UserError("Its decoder's layers do not chain (a transposed convolution of {c} channels after "
                                "{n} values).", c=c_in, n=int(np.prod(shape)))
            out = (weight.shape[1], 2 * side, 2 * side)
            built.append(Layer("deconv", weight, bias, (c_in, side, side), out))
            shape = out
    if int(np.prod(shape)) != c * h * w:
        raise UserError("Its decoder's last layer gives {n} values for images of {c}x{h}x{w}.", n=int(np.prod(shape)),
                        c=c, h=h, w=w)
    return ArrayDecoder("onnx", tuple(built), (c, h, w))


def check_upload(encoder_bytes: bytes, decoder_bytes: bytes, meta_bytes: bytes | None) -> dict[str, bytes]:
    """The files of an uploaded ONNX model, after every check a folder gets and a first run in ONNX Runtime;
    a folder: data set is refused (opening it would make the server read one of its folders)."""
    encoder = parse_graph(encoder_bytes, "encoder", "the uploaded " + ONNX_ENCODER)
    decoder = parse_graph(decoder_bytes, "decoder", "the uploaded " + ONNX_DECODER)
    image, z_dim = _shapes(encoder, decoder, Path("the upload"))
    meta = OnnxMeta()
    if meta_bytes is not None:
        try:
            meta = OnnxMeta.model_validate_json(meta_bytes[:MAX_META_BYTES + 1])
        except ValidationError as err:
            first = err.errors()[0]
            raise UserError("The uploaded {name} is not a valid model description: {field} {why}.", name=ONNX_META,
                            field=".".join(str(p) for p in first["loc"]) or "it", why=first["msg"].lower()) from None
    if (meta.dataset or "").startswith("folder:"):
        raise UserError("Uploaded models must name a built-in data set; a folder: data set would make the server "
                        "read one of its own folders.")
    cfg = ModelConfig(image_shape=image, latent_dim=z_dim, likelihood=meta.likelihood, sigma=meta.sigma, hidden=(1,))
    model = OnnxVAE(cfg, encoder_bytes, decoder_bytes)
    with torch.no_grad():
        mu, _ = model.encode(torch.zeros(1, *image))
        if tuple(mu.shape) != (1, z_dim) or tuple(model.decode_mean(mu).shape) != (1, *image):
            raise UserError("The uploaded model does not give the shapes its graphs declare.")
    return {ONNX_ENCODER: encoder_bytes, ONNX_DECODER: decoder_bytes,
            ONNX_META: json.dumps(meta.model_dump(), indent=2).encode() + b"\n"}
