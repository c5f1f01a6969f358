"""A VAE trained anywhere, as two ONNX graphs in a folder: read and check the graphs, and the config they
stand for. Which input and output is which is training/models/onnx_roles.py (the rule, by role); running
them is training/models/onnx_runtime.py, writing them training/models/onnx_export.py, a decoder graph as
arrays for numpy and the browser training/models/onnx_decoder.py.

    encoder.onnx   images -> mu, logvar (and perhaps the sampled z)    see onnx_roles.py
    decoder.onnx   z -> the image, probabilities or logits
    model.json     optional: {"format": "vae-explorer/onnx", "version": 1, "dataset": "mnist5k",
                   "likelihood": "bernoulli" | "gaussian", "sigma": 0.1 (gaussian only), "decoder_output":
                   "probabilities" | "logits" (else detected), "layout": "nchw" | "nhwc" (else from the shapes)}

B is dynamic; C, H, W and Z are fixed in the graphs. Opening never runs code from the folder and never
reads a file outside it: each graph's size is checked before it is read; it is parsed without external data;
a tensor that points at external data, an operator outside ONNX's standard domain, a local function, control
flow (subgraphs), declared sizes over the limits, or inputs and outputs that fit no role are refused with one
sentence. ONNX Runtime gets the checked bytes, not a path. No torch here (``onnx`` is imported when a graph is
parsed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import ValidationError

from training.core.config import ModelConfig, RunConfig, describe_validation_error
from training.core.costs import MB
from training.core.environment import WEIGHTS_ENV, limit_mb
from training.core.errors import Phrase, UserError
from training.models.base import NO_DATASET
from training.models.onnx_roles import FORMAT, GraphRoles, OnnxMeta, tensor_dims, graph_roles
from training.runs.layout import ONNX_DECODER, ONNX_ENCODER, ONNX_META, read_bounded

__all__ = ["FORMAT", "GraphRoles", "OnnxMeta", "config_of", "open_pair", "parse_graph", "read_graph", "read_meta"]
MAX_META_BYTES = 64 * 1024
OPSET_RANGE = (7, 23)
STANDARD_DOMAINS = ("", "ai.onnx")
FLOAT = 1  # onnx.TensorProto.FLOAT
EXTERNAL = 1  # onnx.TensorProto.EXTERNAL


# -- reading one graph safely -------------------------------------------------------------------------
def read_graph(path: Path, role: str):
    """Parse PATH (ROLE: "encoder" or "decoder") after checking its size; refuse what the module doc lists."""
    limit = limit_mb(WEIGHTS_ENV) * MB
    try:
        data = read_bounded(path, limit, Phrase("an ONNX graph"), too_large=lambda size: UserError(
            "{path} is {size:,} bytes, over the {limit:,} bytes a model may take (VAE_EXPLORER_MAX_WEIGHTS_MB).",
            path=path, size=size, limit=limit))
    except FileNotFoundError:
        raise UserError("{path} is missing: an ONNX model folder needs {encoder} and {decoder}.", path=path,
                        encoder=ONNX_ENCODER, decoder=ONNX_DECODER) from None
    return parse_graph(data, role, path), data


def parse_graph(data: bytes, role: str, where):
    """The checked ModelProto of DATA (ROLE "encoder" or "decoder"; WHERE names it in messages)."""
    import onnx
    from google.protobuf.message import DecodeError

    limit = limit_mb(WEIGHTS_ENV) * MB
    if len(data) > limit:
        raise UserError("{path} is {size:,} bytes, over the {limit:,} bytes a model may take "
                        "(VAE_EXPLORER_MAX_WEIGHTS_MB).", path=where, size=len(data), limit=limit)
    if not data.strip(b"\x00"):
        raise UserError("{path} is empty: it is not an ONNX model.", path=where)
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as err:
        raise UserError("{path} is not an ONNX model ({why}).", path=where, why=str(err).splitlines()[0][:200]) from None
    if not len(model.opset_import) or not model.HasField("graph"):
        raise UserError("{path} is not an ONNX model: it has no graph or declares no operator set.", path=where)
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
    stored_names = {t.name for t in model.graph.initializer}
    for v in list(model.graph.output) + [i for i in model.graph.input if i.name not in stored_names]:
        elem, dims = v.type.tensor_type.elem_type, tensor_dims(v)
        if elem != FLOAT or not 2 <= len(dims) <= 4 or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise UserError("{path}: {name} must be float32 of rank 2 to 4 with fixed sizes after the batch, not "
                            "{what}.", path=path, name=v.name, what=f"type {elem}, shape {dims}")


def read_meta(folder: Path) -> OnnxMeta:
    """FOLDER's model.json, validated (the defaults when it has none)."""
    path = folder / ONNX_META
    if not path.is_file():
        return OnnxMeta()
    return meta_of(read_bounded(path, MAX_META_BYTES, Phrase("an ONNX model description")), path)


def meta_of(data: bytes, source: str | Path) -> OnnxMeta:
    """A model.json's bytes, validated; a problem is one sentence of our own words that names where the JSON
    breaks (line and column), never the parser's English."""
    try:
        return OnnxMeta.model_validate(json.loads(data))
    except json.JSONDecodeError as err:
        raise UserError("{source} is not valid JSON (its first error is at line {line}, column {column}).",
                        source=source, line=err.lineno, column=err.colno) from None
    except (UnicodeDecodeError, RecursionError):
        raise UserError("{path} is not valid JSON.", path=source) from None
    except ValidationError as err:
        raise UserError("{source} is not a valid model description: {err}.", source=source,
                        err=describe_validation_error(err)) from None


def model_config(meta: OnnxMeta, image: tuple[int, int, int], z_dim: int) -> ModelConfig:
    """The ModelConfig a pair stands for (arch and hidden say nothing here: the graphs are the network)."""
    sigma = {"sigma": meta.sigma} if meta.sigma is not None and meta.likelihood == "gaussian" else {}
    return ModelConfig(image_shape=image, latent_dim=z_dim, likelihood=meta.likelihood, arch="mlp", hidden=(1,),
                       **sigma)


def open_pair(folder: str | Path, dataset: str | None = None) -> tuple[RunConfig, GraphRoles, bytes, bytes]:
    """An ONNX folder's config (shapes from its graphs, the rest from model.json or DATASET), its roles and the
    checked bytes of its encoder and decoder."""
    folder = Path(folder)
    meta = read_meta(folder)
    (encoder, encoder_bytes), (decoder, decoder_bytes) = (read_graph(folder / ONNX_ENCODER, "encoder"),
                                                          read_graph(folder / ONNX_DECODER, "decoder"))
    roles, image, z_dim = graph_roles(encoder, decoder, meta, folder)
    if meta.image_shape is not None and tuple(meta.image_shape) != image or meta.latent_dim not in (None, z_dim):
        raise UserError("{path} describes images {image} and {z} dimensions, but the graphs have {graphs} and {z2}.",
                        path=folder / ONNX_META, image=meta.image_shape, z=meta.latent_dim, graphs=image, z2=z_dim)
    named = dataset or meta.dataset or NO_DATASET
    size = meta.dataset_size if named == meta.dataset == "shapes" else None  # a size is the shapes set's only
    config = RunConfig(model=model_config(meta, image, z_dim), train={"dataset": named, "epochs": 1,
                                                                      "dataset_size": size})
    return config, roles, encoder_bytes, decoder_bytes


def config_of(folder: str | Path, dataset: str | None = None) -> RunConfig:
    """The RunConfig an ONNX folder stands for."""
    return open_pair(folder, dataset)[0]
