"""Build an ONNX graph of a BERT sentence encoder straight from its weights.

Every published BERT-to-ONNX exporter (``torch.onnx``, ``optimum``, ``transformers.onnx``)
traces the PyTorch module, so it needs torch — a 1.4 GB install the server must not carry.
The encoder is a short, fixed sequence of standard ONNX operators, so it is written out here
with ``onnx.helper`` from the safetensors tensors. The graph also performs mean pooling over
the attention mask and L2 normalisation, so one ``run`` returns finished sentence vectors.

Inputs: ``input_ids`` and ``attention_mask``, int64 of shape (batch, sequence).
Output: ``sentence_embedding``, float32 of shape (batch, hidden), rows of unit length.
Token type ids are always 0 for a single sentence, so that embedding row is folded into
the position table instead of being an input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from memoryos_server.engine.embeddings._graph_io import ATTENTION_MASK, INPUT_IDS, OUTPUT

# LayerNormalization became a standard operator in opset 17; IR 8 keeps the file loadable
# by every onnxruntime release the server accepts (>= 1.17).
OPSET = 17
IR_VERSION = 8
# Added to the attention scores of padding positions, as the original BERT does: large
# enough that softmax gives them no weight, small enough to stay finite.
_MASKED_SCORE = -10000.0



@dataclass(frozen=True, slots=True)
class BertConfig:
    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    max_position_embeddings: int
    layer_norm_eps: float

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type") != "bert" or raw.get("hidden_act") != "gelu":
            raise ValueError(f"{path} does not describe a BERT encoder with exact GELU")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only absolute position embeddings are supported")
        config = cls(
            hidden_size=int(raw["hidden_size"]),
            num_attention_heads=int(raw["num_attention_heads"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_position_embeddings=int(raw["max_position_embeddings"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
        )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"{path}: hidden_size is not a multiple of num_attention_heads")
        return config


class _GraphBuilder:
    """Accumulates nodes and initializers, handing out unique tensor names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counter = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], prefix: str, **attrs: object) -> str:
        self._counter += 1
        output = f"{prefix}/{op_type}_{self._counter}"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, prefix: str) -> str:
        # Linear layers store (out, in); MatMul wants (in, out). Keeping MatMul + Add (not
        # Gemm) is what dynamic quantization and onnxruntime's fusions recognise.
        w = self.const(f"{prefix}.weight", weight.T.astype(np.float32))
        b = self.const(f"{prefix}.bias", bias.astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, w], prefix), b], prefix)

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float, prefix: str) -> str:
        g = self.const(f"{prefix}.weight", gamma.astype(np.float32))
        b = self.const(f"{prefix}.bias", beta.astype(np.float32))
        return self.op("LayerNormalization", [x, g, b], prefix, axis=-1, epsilon=eps)


def build_bert_onnx(weights: Mapping[str, np.ndarray], config: BertConfig) -> onnx.ModelProto:
    """Return the encoder + mean pooling + L2 normalisation as an ONNX model."""
    g = _GraphBuilder()
    eps = config.layer_norm_eps
    heads, head_size = config.num_attention_heads, config.head_size

    # 1-D int64 vectors [0], [1], [2]: Slice bounds, Unsqueeze and ReduceSum axes.
    vec0 = g.const("const.vec0", np.array([0], dtype=np.int64))
    vec1 = g.const("const.vec1", np.array([1], dtype=np.int64))
    vec2 = g.const("const.vec2", np.array([2], dtype=np.int64))
    one_f = g.const("const.one", np.array(1.0, dtype=np.float32))
    masked_f = g.const("const.masked_score", np.array(_MASKED_SCORE, dtype=np.float32))
    tiny_f = g.const("const.tiny", np.array(1e-9, dtype=np.float32))
    norm_floor_f = g.const("const.norm_floor", np.array(1e-12, dtype=np.float32))
    half_f = g.const("const.half", np.array(0.5, dtype=np.float32))
    inv_sqrt2_f = g.const("const.inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))
    split_heads = g.const("const.split_heads", np.array([0, 0, heads, head_size], dtype=np.int64))
    merge_heads = g.const("const.merge_heads", np.array([0, 0, config.hidden_size], dtype=np.int64))

    # --- embeddings: word + position (+ token type 0, folded into the position table) ----
    word_table = g.const("embeddings.word", weights["embeddings.word_embeddings.weight"].astype(np.float32))
    position_table = g.const(
        "embeddings.position_plus_type0",
        (
            weights["embeddings.position_embeddings.weight"]
            + weights["embeddings.token_type_embeddings.weight"][0]
        ).astype(np.float32),
    )
    seq_len = g.op("Slice", [g.op("Shape", [INPUT_IDS], "emb"), vec1, vec2], "emb")
    positions = g.op("Slice", [position_table, vec0, seq_len, vec0], "emb")
    words = g.op("Gather", [word_table, INPUT_IDS], "emb", axis=0)
    hidden = g.layer_norm(
        g.op("Add", [words, positions], "emb"),
        weights["embeddings.LayerNorm.weight"],
        weights["embeddings.LayerNorm.bias"],
        eps,
        "embeddings.LayerNorm",
    )

    # --- attention bias: 0 where the mask is 1, _MASKED_SCORE where it is 0 ---------------
    mask_f = g.op("Cast", [ATTENTION_MASK], "mask", to=TensorProto.FLOAT)
    mask_bias = g.op("Mul", [g.op("Sub", [one_f, mask_f], "mask"), masked_f], "mask")
    mask_bias = g.op("Unsqueeze", [mask_bias, g.const("const.axes12", np.array([1, 2], dtype=np.int64))], "mask")

    # The 1/sqrt(head_size) score scale is folded into the query projection.
    scale = 1.0 / math.sqrt(head_size)
    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}"
        qkv_weight = np.concatenate(
            [
                weights[f"{p}.attention.self.query.weight"] * scale,
                weights[f"{p}.attention.self.key.weight"],
                weights[f"{p}.attention.self.value.weight"],
            ]
        )
        qkv_bias = np.concatenate(
            [
                weights[f"{p}.attention.self.query.bias"] * scale,
                weights[f"{p}.attention.self.key.bias"],
                weights[f"{p}.attention.self.value.bias"],
            ]
        )
        # One projection for Q, K and V: a single larger MatMul runs faster than three.
        qkv = g.linear(hidden, qkv_weight, qkv_bias, f"{p}.attention.qkv")
        q, k, v = (f"{p}/q", f"{p}/k", f"{p}/v")
        sizes = g.const(f"{p}.split_sizes", np.array([config.hidden_size] * 3, dtype=np.int64))
        g.nodes.append(helper.make_node("Split", [qkv, sizes], [q, k, v], name=f"{p}/split", axis=-1))
        q_h = g.op("Transpose", [g.op("Reshape", [q, split_heads], p)], p, perm=[0, 2, 1, 3])
        k_t = g.op("Transpose", [g.op("Reshape", [k, split_heads], p)], p, perm=[0, 2, 3, 1])
        v_h = g.op("Transpose", [g.op("Reshape", [v, split_heads], p)], p, perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("MatMul", [q_h, k_t], p), mask_bias], p)
        probs = g.op("Softmax", [scores], p, axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v_h], p)], p, perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads], p)
        attn_out = g.linear(
            context,
            weights[f"{p}.attention.output.dense.weight"],
            weights[f"{p}.attention.output.dense.bias"],
            f"{p}.attention.output.dense",
        )
        hidden = g.layer_norm(
            g.op("Add", [attn_out, hidden], p),
            weights[f"{p}.attention.output.LayerNorm.weight"],
            weights[f"{p}.attention.output.LayerNorm.bias"],
            eps,
            f"{p}.attention.output.LayerNorm",
        )

        inner = g.linear(
            hidden,
            weights[f"{p}.intermediate.dense.weight"],
            weights[f"{p}.intermediate.dense.bias"],
            f"{p}.intermediate.dense",
        )
        # Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)), in the form onnxruntime fuses.
        erf = g.op("Erf", [g.op("Mul", [inner, inv_sqrt2_f], p)], p)
        gelu = g.op("Mul", [g.op("Mul", [inner, g.op("Add", [erf, one_f], p)], p), half_f], p)
        ffn_out = g.linear(
            gelu,
            weights[f"{p}.output.dense.weight"],
            weights[f"{p}.output.dense.bias"],
            f"{p}.output.dense",
        )
        hidden = g.layer_norm(
            g.op("Add", [ffn_out, hidden], p),
            weights[f"{p}.output.LayerNorm.weight"],
            weights[f"{p}.output.LayerNorm.bias"],
            eps,
            f"{p}.output.LayerNorm",
        )

    # --- mean pooling over real tokens, then L2 normalisation ----------------------------
    token_weights = g.op("Unsqueeze", [mask_f, vec2], "pool")
    summed = g.op("ReduceSum", [g.op("Mul", [hidden, token_weights], "pool"), vec1], "pool", keepdims=0)
    counts = g.op("Max", [g.op("ReduceSum", [token_weights, vec1], "pool", keepdims=0), tiny_f], "pool")
    pooled = g.op("Div", [summed, counts], "pool")
    # Before opset 18, ReduceL2 takes its axes as an attribute rather than an input.
    norms = g.op("Max", [g.op("ReduceL2", [pooled], "norm", axes=[1], keepdims=1), norm_floor_f], "norm")
    g.nodes.append(helper.make_node("Div", [pooled, norms], [OUTPUT], name="norm/output"))

    graph = helper.make_graph(
        g.nodes,
        "bert_sentence_encoder",
        inputs=[
            helper.make_tensor_value_info(INPUT_IDS, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(ATTENTION_MASK, TensorProto.INT64, ["batch", "sequence"]),
        ],
        outputs=[helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", config.hidden_size])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
