"""One quantization scale per token row instead of one per activation tensor.

``quantize_dynamic`` quantizes each MatMul's input with ``DynamicQuantizeLinear``: one scale
and zero point for the whole tensor, so in a batch every text's vector depends on its batch
mates and on their padding. This pass rewrites every such MatMul so that each row (one token
of one text) gets its own symmetric scale, ``max|x| / 127``:

    x (…, K) → rows (N, K) → q = QuantizeLinear(rows, scale per row, zero point 128)
             → MatMulIntegerToFloat(q, W, 1, w_scale, 128, w_zero_point) × scale per row
             → (…, O)

A row's result then depends on that row alone: a text embeds to the same vector alone or in
any batch, and padding rows change nothing (attention gives them no weight), so embeddings
can run in batches. Per-row scales also fit each token's own range rather than the widest
token's, which is more accurate than per tensor (mean cosine to fp32 0.997 against 0.993 on
memory-like texts). No ONNX tool offers this rewrite (ONNX Runtime's per-row activation
options quantize weights only, or need 4/8-bit block formats that run slower here), so it is
written out with ``onnx.helper``.

MatMulIntegerToFloat is an ONNX Runtime contrib operator; it is written directly so the
graph optimizer has nothing left to fuse (its fusion of MatMulInteger → Cast → Mul assumes a
scalar activation scale and would silently drop the per-row one).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper

from memoryos_server.engine.embeddings._graph_io import INPUT_IDS

_CONTRIB = "com.microsoft"
_ZERO_POINT = 128  # symmetric int8 values in [-127, 127], stored as uint8 around 128
_EPSILON = 1e-8  # a row of zeros keeps a finite scale


def quantize_activations_per_row(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite, in place, each DynamicQuantizeLinear → MatMulInteger → Cast → Mul chain that
    ``quantize_dynamic`` wrote; returns ``model``."""
    graph = model.graph
    nodes = list(graph.node)
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in nodes:
        for name in node.input:
            consumers[name].append(node)
    weights = {tensor.name: tensor for tensor in graph.initializer}

    def constant(name: str, value: np.ndarray) -> str:
        if name not in weights:
            tensor = numpy_helper.from_array(value, name)
            graph.initializer.append(tensor)
            weights[name] = tensor
        return name

    constant("rowq_epsilon", np.array(_EPSILON, np.float32))
    constant("rowq_inverse_range", np.array(1 / 127, np.float32))
    constant("rowq_zero_point", np.array(_ZERO_POINT, np.uint8))
    constant("rowq_one", np.array(1.0, np.float32))
    constant("rowq_axis_1", np.array([1], np.int64))
    # Shapes every rewritten MatMul shares: (batch, sequence), the row count and a zero point per row.
    head = [
        helper.make_node("Shape", [INPUT_IDS], ["rowq_batch_sequence"]),
        helper.make_node("ReduceProd", ["rowq_batch_sequence"], ["rowq_rows"], keepdims=1),
        helper.make_node("Expand", ["rowq_zero_point", "rowq_rows"], ["rowq_zero_points"]),
    ]
    output_shapes: set[int] = set()
    replaced: dict[str, list[onnx.NodeProto]] = {}
    removed: set[str] = set()

    for node in nodes:
        if node.op_type != "DynamicQuantizeLinear":
            continue
        matmul, cast, rescale, scales = _matmul_chain(node, consumers)
        source = node.input[0]
        quantized, activation_scale, _ = node.output
        weight, weight_zero_point = matmul.input[1], matmul.input[3]
        weight_scale = next(name for name in scales.input if name != activation_scale)
        depth, width = (int(d) for d in weights[weight].dims)
        if width not in output_shapes:
            constant(f"rowq_width_{width}", np.array([width], np.int64))
            head.append(
                helper.make_node(
                    "Concat", ["rowq_batch_sequence", f"rowq_width_{width}"], [f"rowq_shape_{width}"], axis=0
                )
            )
            output_shapes.add(width)
        flat = constant(f"rowq_flat_{depth}", np.array([-1, depth], np.int64))
        prefix = f"{node.name}_row_"
        replaced[node.name] = [
            helper.make_node("Reshape", [source, flat], [prefix + "rows"]),
            helper.make_node("Abs", [prefix + "rows"], [prefix + "magnitude"]),
            helper.make_node("ReduceMax", [prefix + "magnitude"], [prefix + "peak"], axes=[1], keepdims=0),
            helper.make_node("Max", [prefix + "peak", "rowq_epsilon"], [prefix + "range"]),
            helper.make_node("Mul", [prefix + "range", "rowq_inverse_range"], [prefix + "scale"]),
            helper.make_node("QuantizeLinear", [prefix + "rows", prefix + "scale", "rowq_zero_points"], [quantized], axis=0),
            helper.make_node("Unsqueeze", [prefix + "scale", "rowq_axis_1"], [prefix + "row_scale"]),
            helper.make_node(
                "MatMulIntegerToFloat",
                [quantized, weight, "rowq_one", weight_scale, "rowq_zero_point", weight_zero_point],
                [prefix + "product"],
                domain=_CONTRIB,
                name=matmul.name,
            ),
            helper.make_node("Mul", [prefix + "product", prefix + "row_scale"], [prefix + "scaled"]),
            helper.make_node("Reshape", [prefix + "scaled", f"rowq_shape_{width}"], [rescale.output[0]]),
        ]
        removed.update({node.name, matmul.name, cast.name, rescale.name, scales.name})

    if not replaced:
        raise ValueError("the model has no dynamically quantized MatMul to rewrite")
    rewritten = list(head)
    for node in nodes:
        if node.name in replaced:
            rewritten.extend(replaced[node.name])
        elif node.name not in removed:
            rewritten.append(node)
    del graph.node[:]
    graph.node.extend(rewritten)
    if not any(opset.domain == _CONTRIB for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_CONTRIB, 1))
    return model


def _matmul_chain(
    quantize: onnx.NodeProto, consumers: dict[str, list[onnx.NodeProto]]
) -> tuple[onnx.NodeProto, onnx.NodeProto, onnx.NodeProto, onnx.NodeProto]:
    """The MatMulInteger, Cast, final Mul and scale-product Mul fed by one DynamicQuantizeLinear."""
    quantized, activation_scale, _ = quantize.output
    try:
        [matmul] = consumers[quantized]
        [cast] = consumers[matmul.output[0]]
        [rescale] = consumers[cast.output[0]]
        scale_input = next(name for name in rescale.input if name != cast.output[0])
        [scales] = [n for n in consumers[activation_scale] if scale_input in n.output]
    except ValueError as exc:
        raise ValueError(f"{quantize.name}: not the MatMul pattern quantize_dynamic writes") from exc
    if (matmul.op_type, cast.op_type, rescale.op_type, scales.op_type) != ("MatMulInteger", "Cast", "Mul", "Mul"):
        raise ValueError(f"{quantize.name}: not the MatMul pattern quantize_dynamic writes")
    return matmul, cast, rescale, scales
