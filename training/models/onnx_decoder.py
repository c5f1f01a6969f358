"""An ONNX folder's decoder graph as a training.vae.array_decoder.ArrayDecoder, which numpy and the browser
run, when it is the kind of network that decoder computes. The graph's roles (training/models/onnx_roles.py)
say what it gives: a decoder of logits (no final Sigmoid) gets the sigmoid the ArrayDecoder always applies;
channels-last or flat images are reordered in its last dense layer. No torch here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from training.core.errors import UserError
from training.models.onnx_graph import open_pair, read_graph
from training.models.onnx_roles import detect_output, detect_z
from training.runs.layout import ONNX_DECODER
from training.vae.array_decoder import KERNEL, PADDING, STRIDE, ArrayDecoder, Layer

BROWSER_OPS = ("Gemm", "MatMul", "Add", "Relu", "Reshape", "Flatten", "ConvTranspose", "Sigmoid", "Identity")


def array_decoder(folder: str | Path) -> ArrayDecoder:
    """The decoder graph as an ArrayDecoder, which numpy and the browser run, when it
    is the kind of network that decoder computes: dense layers (Gemm, or MatMul then Add) and transposed
    convolutions (kernel 4, stride 2, padding 1), a ReLU between layers, reshapes, and a Sigmoid at the end.
    A decoder of logits may end without the Sigmoid. Anything else (batch norm, other activations, other
    convolutions, a transpose): one sentence naming what it lacks."""
    from onnx import helper, numpy_helper  # onnx itself only when a graph is read

    folder = Path(folder)
    config, roles, _, _ = open_pair(folder)
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
    attrs = lambda n: {a.name: helper.get_attribute_value(a) for a in n.attribute}  # noqa: E731
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
    if pending_mm is not None or not layers or len(relus_after) != len(layers) - 1 or \
            not ends_in_sigmoid and roles.decoder_output == "probabilities":
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
    if roles.decoder_layout == "nhwc" and c > 1:  # its values come (h, w, c): reorder the last layer's rows
        last = built[-1]
        if last.kind != "dense":
            raise UserError("Its decoder gives channels-last images from a transposed convolution, which the "
                            "in-browser decoder does not compute.")
        order = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
        built[-1] = Layer("dense", np.ascontiguousarray(last.w[order]), np.ascontiguousarray(last.b[order]),
                          last.in_shape, last.out_shape)
    decoder = ArrayDecoder("onnx", tuple(built), (c, h, w))
    if not ends_in_sigmoid and roles.decoder_output == "detect":  # the rule the server applies, on the same z
        p = np.clip(decoder.decode_mean(detect_z(z_dim)), 1e-30, 1 - 1e-7)
        if detect_output(np.log(p / (1 - p))) == "probabilities":
            raise UserError("Its decoder gives probabilities without a final Sigmoid, which the in-browser decoder "
                            "does not compute.")
    return decoder


