"""Peephole weights for the fused LSTMs of cells that have them (``LSTMCell(use_peepholes=True)``,
the keyword spotter LSTM_S).

TensorFlow's converter fuses only Keras' LSTM contract, which has no peepholes; LiteRT's
UNIDIRECTIONAL_SEQUENCE_LSTM has them (inputs 9-11, cell to input, forget and output gate) in
its float, hybrid and integer kernels. passes/lstm_cells.py leaves each such cell's peephole
weights, its bias and a sample of its kernel on the fused function (``PEEPHOLES_ATTR``); here,
after conversion and before TensorFlow's int8 calibrator sees the float model (so the cell
state is calibrated with them and the quantizer quantizes them), every fused op without
peepholes whose bias and kernel are one function's gets that function's weights. The op is
found by those values, compared within the step of the grid they are stored on (float32,
float16 behind a DEQUANTIZE, a hybrid op's int8): the converter names it only
``tfl.unidirectional_sequence_lstm``, and an untrained model's layers may share one bias. A
hybrid (``--dynamic``) op's weights are int8, so its peepholes are too (symmetric, one scale),
as the hybrid kernel reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tensors import tensor_to_numpy
from graphport.graph.tflite_model import builtin_code, pack_model, uses_builtin
from graphport.passes.lstm_cells import PEEPHOLES_ATTR, kernel_sample

_SEQUENCE_LSTM = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
_INPUT_WEIGHTS = (1, 2, 3, 4)  # input to input, forget, cell, output gate: [units, inputs]
_PEEPHOLES = (9, 10, 11)
_BIASES = (12, 13, 14, 15)

Peepholes = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # w_i, w_f, w_o; bias; kernel sample


def peephole_table(graph_def: Any) -> Peepholes:
    """The peephole weights passes left on the graph's fused LSTM functions, with the bias and
    kernel sample that identify each."""
    table = []
    for function in graph_def.library.function if graph_def is not None else []:
        if PEEPHOLES_ATTR in function.attr:
            weights, bias, sample = (tensor_to_numpy(t)
                                     for t in function.attr[PEEPHOLES_ATTR].list.tensor)
            table.append((weights, bias, sample))
    return table


def add_peepholes(model: bytes, table: Peepholes) -> bytes:
    """``model`` with the peepholes of ``table`` in the fused LSTMs they belong to (``model``
    itself when it has none to add)."""
    if not table or not uses_builtin(model, _SEQUENCE_LSTM):
        return model
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [builtin_code(c) for c in tree.operatorCodes]
    added = 0
    for graph in tree.subgraphs:
        producers = {out: op for op in graph.operators for out in op.outputs}
        for op in graph.operators:
            if codes[op.opcodeIndex] != _SEQUENCE_LSTM or len(op.inputs) <= _BIASES[-1] or \
                    any(op.inputs[k] >= 0 for k in _PEEPHOLES):
                continue
            found = _owner(table, [_values(tree, graph, op.inputs[k], producers, codes)
                                   for k in (*_INPUT_WEIGHTS, *_BIASES)])
            if found is not None:
                _attach(tree, graph, op, found)
                added += 1
    return pack_model(tree) if added else model


def _owner(table: Peepholes, parts: list[tuple[np.ndarray, float] | None]
           ) -> np.ndarray | None:
    """The peephole weights of the table entry whose bias and kernel are the op's (``parts``:
    its four input weights and four biases with the step of their grid); None when none is, or
    entries that differ in their peepholes are."""
    known = [p for p in parts if p is not None]
    if len(known) != len(parts):
        return None
    weights, biases = known[:4], known[4:]
    kernel = np.concatenate([w.T for w, _ in weights], axis=1)
    bias = np.concatenate([b for b, _ in biases])
    sample = kernel_sample(kernel)
    kernel_step = max(step for _, step in weights)
    bias_step = max(step for _, step in biases)
    found = [peepholes for peepholes, b, s in table
             if b.shape == bias.shape and s.shape == sample.shape and
             np.abs(b - bias).max() <= bias_step + 1e-6 * (1 + np.abs(b).max()) and
             np.abs(s - sample).max() <= kernel_step + 1e-6 * (1 + np.abs(s).max())]
    if not found or any(not np.array_equal(found[0], f) for f in found):
        return None
    return found[0]


def _values(tree: Any, graph: Any, index: int, producers: dict[int, Any], codes: list[int]
            ) -> tuple[np.ndarray, float] | None:
    """A constant tensor's values as float, shaped, and how far they may be from the float
    values they stand for (half an int8 step; float16's rounding), through the DEQUANTIZE of
    a float16 model."""
    tensor = graph.tensors[index]
    data = tree.buffers[tensor.buffer].data if tensor.buffer else None
    shape = tuple(int(d) for d in tensor.shape)
    if data is not None and len(data):
        raw = bytes(data)
        if tensor.type == schema.TensorType.FLOAT32:
            return np.frombuffer(raw, np.float32).reshape(shape), 0.0
        if tensor.type == schema.TensorType.FLOAT16:
            values = np.frombuffer(raw, np.float16).astype(np.float32).reshape(shape)
            return values, float(np.abs(values).max(initial=0)) * 2.0 ** -10
        if tensor.type == schema.TensorType.INT8 and tensor.quantization is not None and \
                tensor.quantization.scale is not None:
            scale = np.asarray(tensor.quantization.scale, np.float32)
            zero = np.asarray(tensor.quantization.zeroPoint, np.float32)
            values = np.frombuffer(raw, np.int8).astype(np.float32).reshape(shape)
            if scale.size > 1:  # per channel, along the quantized dimension
                axis = tensor.quantization.quantizedDimension
                scale, zero = (np.expand_dims(v, [d for d in range(len(shape)) if d != axis])
                               for v in (scale, zero))
            return (values - zero) * scale, float(scale.max()) * 0.51
        return None
    producer = producers.get(index)
    if producer is not None and codes[producer.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE:
        return _values(tree, graph, producer.inputs[0], producers, codes)
    return None


def _attach(tree: Any, graph: Any, op: Any, weights: np.ndarray) -> None:
    hybrid = graph.tensors[op.inputs[_INPUT_WEIGHTS[1]]].type == schema.TensorType.INT8
    inputs = list(op.inputs)
    for slot, values in zip(_PEEPHOLES, weights, strict=True):
        tensor = schema.TensorT()
        tensor.name = f"graphport_peephole_{slot}".encode()
        tensor.shape = np.array(values.shape, np.int32)
        if hybrid:
            scale = float(np.abs(values).max()) / 127 or 1.0
            data = np.clip(np.round(values / scale), -127, 127).astype(np.int8)
            tensor.type = schema.TensorType.INT8
            tensor.quantization = schema.QuantizationParametersT()
            tensor.quantization.scale = [scale]
            tensor.quantization.zeroPoint = [0]
        else:
            data = values.astype(np.float32)
            tensor.type = schema.TensorType.FLOAT32
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data.tobytes(), np.uint8)
        tree.buffers.append(buffer)
        tensor.buffer = len(tree.buffers) - 1
        graph.tensors.append(tensor)
        inputs[slot] = len(graph.tensors) - 1
    op.inputs = np.array(inputs, np.int32)
