"""Hostile ONNX pairs of a few bytes whose cost appears only when they run (issue 23), for
tests/test_onnx_sandbox.py and benchmarks/hostile_served.py: a 32000x32000 tensor from a 16-byte initializer,
an intermediate of (B, B, K), outputs of (B^2, 2) above a batch of 1, NaN outputs, a chain of MatMuls."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

IMAGE, Z = (1, 4, 4), 2
OPSET = [helper.make_opsetid("", 17)]


def _tensor(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def encoder(extra_nodes=(), extra_inits=(), mu_name="mu0") -> bytes:
    """x (B, 1, 4, 4) -> mu, logvar (B, 2); EXTRA nodes may rewire ``mu`` from ``mu0``."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Flatten", ["x"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w_mu"], ["mu0"]),
             helper.make_node("MatMul", ["flat", "w_lv"], ["logvar"]),
             *extra_nodes,
             helper.make_node("Identity", [mu_name], ["mu"])]
    inits = [_tensor("w_mu", rng.standard_normal((16, Z)).astype(np.float32) * 0.1),
             _tensor("w_lv", rng.standard_normal((16, Z)).astype(np.float32) * 0.1), *extra_inits]
    graph = helper.make_graph(nodes, "encoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", *IMAGE])],
                              [helper.make_tensor_value_info("mu", TensorProto.FLOAT, ["B", Z]),
                               helper.make_tensor_value_info("logvar", TensorProto.FLOAT, ["B", Z])], inits)
    return helper.make_model(graph, opset_imports=OPSET).SerializeToString()


def decoder(extra_nodes=(), extra_inits=()) -> bytes:
    """z (B, 2) -> x_mean (B, 1, 4, 4) = sigmoid(z W); EXTRA nodes may rewire the logits."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("MatMul", ["z", "w"], ["logits0"]),
             *(extra_nodes or [helper.make_node("Identity", ["logits0"], ["logits"])]),
             helper.make_node("Sigmoid", ["logits"], ["p"]),
             helper.make_node("Reshape", ["p", "shape"], ["x_mean"])]
    inits = [_tensor("w", rng.standard_normal((Z, 16)).astype(np.float32)),
             _tensor("shape", np.array([-1, *IMAGE], np.int64)), *extra_inits]
    graph = helper.make_graph(nodes, "decoder", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["B", Z])],
                              [helper.make_tensor_value_info("x_mean", TensorProto.FLOAT, ["B", *IMAGE])], inits)
    return helper.make_model(graph, opset_imports=OPSET).SerializeToString()


def plus_zero_times(tensor: str, extra=()) -> tuple[list, list]:
    """Nodes that add 0 x sum(TENSOR) to the logits: TENSOR is computed (and paid for), the result unchanged."""
    nodes = [*extra, helper.make_node("ReduceSum", [tensor], ["total"], keepdims=0),
             helper.make_node("Mul", ["total", "zero"], ["nothing"]),
             helper.make_node("Add", ["logits0", "nothing"], ["logits"])]
    return nodes, [_tensor("zero", np.float32(0.0))]


def blowup(side: int) -> bytes:
    """A SIDE x SIDE float tensor from a 16-byte initializer (finding 1: 32000 -> 4 GB; 100000 -> 40 GB)."""
    nodes, inits = plus_zero_times("big", [helper.make_node(
        "ConstantOfShape", ["side"], ["big"], value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]))])
    return decoder(nodes, [*inits, _tensor("side", np.array([side, side], np.int64))])


def batch_squared(width: int = 4096) -> bytes:
    """An intermediate of (B, B, WIDTH) (finding 2 had 256): nothing at B = 1, a gigabyte at B = 256."""
    nodes, inits = plus_zero_times("square", [
        helper.make_node("ConstantOfShape", ["w_shape"], ["w256"],
                         value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("MatMul", ["z", "w256"], ["wide"]),
        helper.make_node("Unsqueeze", ["wide", "ax0"], ["row"]),
        helper.make_node("Unsqueeze", ["wide", "ax1"], ["col"]),
        helper.make_node("Add", ["row", "col"], ["square"])])
    return decoder(nodes, [*inits, _tensor("w_shape", np.array([Z, width], np.int64)),
                           _tensor("ax0", np.array([0], np.int64)), _tensor("ax1", np.array([1], np.int64))])


def squared_output() -> bytes:
    """An encoder whose mu is (B^2, 2): right at B = 1 only (finding 6)."""
    return encoder([helper.make_node("Unsqueeze", ["mu0", "ax0"], ["row"]),
                    helper.make_node("Unsqueeze", ["mu0", "ax1"], ["col"]),
                    helper.make_node("Add", ["row", "col"], ["square"]),
                    helper.make_node("Reshape", ["square", "pairs"], ["mu_sq"])],
                   [_tensor("ax0", np.array([0], np.int64)), _tensor("ax1", np.array([1], np.int64)),
                    _tensor("pairs", np.array([-1, Z], np.int64))], mu_name="mu_sq")


def nan_output() -> bytes:
    return decoder([helper.make_node("Mul", ["logits0", "nan"], ["logits"])], [_tensor("nan", np.float32(np.nan))])


def matmul_chain(n: int = 100, side: int = 4000) -> bytes:
    """N products with a SIDE x SIDE matrix built at run time: minutes of CPU from a few bytes."""
    nodes = [helper.make_node("ConstantOfShape", ["side"], ["m"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1e-4])),
             helper.make_node("ConstantOfShape", ["wide"], ["up"],
                              value=helper.make_tensor("u", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("MatMul", ["z", "up"], ["t0"])]
    for i in range(n):
        nodes.append(helper.make_node("MatMul", [f"t{i}", "m"], [f"t{i + 1}"]))
    extra, inits = plus_zero_times(f"t{n}", nodes)
    return decoder(extra, [*inits, _tensor("side", np.array([side, side], np.int64)),
                           _tensor("wide", np.array([Z, side], np.int64))])
