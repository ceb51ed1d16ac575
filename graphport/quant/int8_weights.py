"""Float layers with int8 weights: the "hybrid" kernels of FULLY_CONNECTED and CONV_2D compute in
float on weights stored as int8 (per output channel) and quantize their input on the fly.

A layer kept in float for an activation-range problem rarely needs float weights, and float
weights are what make it expensive (fc1 of the digits model: 400 KB of the 409 KB). The
quantizer cannot leave a layer's activations float and quantize its weights, so this rewrites
the quantized flatbuffer: weights to int8, scale per output channel, zero point 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import decode_name, op_name, pack_model

HYBRID_OPS = frozenset({"FULLY_CONNECTED", "CONV_2D"})


def _per_channel_int8(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 along axis 0 (output channels of both FC [out, in] and conv [out, ...])."""
    flat = weights.reshape(len(weights), -1)
    scale = np.maximum(np.abs(flat).max(axis=1), np.float32(1e-30)) / np.float32(127)
    quantized = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
    return quantized.reshape(weights.shape), scale.astype(np.float32)


def int8_weights(model: bytes, select: Callable[[str, str], bool]) -> tuple[bytes, list[str]]:
    """``model`` with the float weights of the FC/conv ops ``select(op type, output name)``
    picks stored as int8; returns the model and the output names of the ops changed."""
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [op_name(code)[0] for code in tree.operatorCodes]
    users = Counter(t.buffer for g in tree.subgraphs for t in g.tensors)
    changed = []
    for graph in tree.subgraphs:
        for op in graph.operators:
            kind = codes[op.opcodeIndex]
            if kind not in HYBRID_OPS or len(op.inputs) < 2:
                continue
            activation, weights = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
            output = decode_name(graph.tensors[op.outputs[0]].name)
            buffer = tree.buffers[weights.buffer]
            if (activation.type != schema.TensorType.FLOAT32
                    or weights.type != schema.TensorType.FLOAT32 or buffer.data is None
                    or not len(buffer.data) or not select(kind, output)):
                continue
            values = np.frombuffer(bytes(bytearray(buffer.data)), np.float32).reshape(
                weights.shape)
            quantized, scale = _per_channel_int8(values)
            new = schema.BufferT()
            new.data = np.frombuffer(quantized.tobytes(), np.uint8)
            if users[weights.buffer] == 1:  # not shared: replace, so the float copy goes
                tree.buffers[weights.buffer] = new
            else:
                tree.buffers.append(new)
                weights.buffer = len(tree.buffers) - 1
            weights.type = schema.TensorType.INT8
            weights.quantization = schema.QuantizationParametersT()
            weights.quantization.scale = scale.tolist()
            weights.quantization.zeroPoint = [0] * len(scale)
            weights.quantization.quantizedDimension = 0
            if kind == "FULLY_CONNECTED":  # per-row input ranges: closer to float
                op.builtinOptions.asymmetricQuantizeInputs = True
            changed.append(output)
    if not changed:
        return model, []
    return pack_model(tree, len(model)), changed
