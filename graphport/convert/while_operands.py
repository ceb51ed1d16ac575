"""A WHILE operand its int8 body only reads, quantized once before the loop instead of in every
iteration, after conversion.

TensorFlow's quantizer leaves a WHILE's operands float, so an int8 loop body starts with a
QUANTIZE of each float input, every iteration. For a loop variable the body passes on unchanged
— a re-rolled RNN's whole input sequence, of which each iteration reads one step — that is the
whole sequence quantized per step, and dequantized again to be passed on: work that grows with
the square of the steps, and the int8 HAR GRU ran at 1.8x the unrolled float model where the
float one ran at 1.7x (measured). Here the WHILE takes the int8 tensor (the one the graph
dequantized for it, or a QUANTIZE added before the loop), the body's input is that int8 tensor
with the QUANTIZE's scale, the body's QUANTIZE goes and it passes its input on as it is. The
body computes from the same int8 values as before: the first iteration quantized the float
input, later ones quantized that value dequantized, the same grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import builtin_code, pack_model, uses_builtin

_WHILE = schema.BuiltinOperator.WHILE
_QUANTIZE = schema.BuiltinOperator.QUANTIZE
_DEQUANTIZE = schema.BuiltinOperator.DEQUANTIZE
_PASS_ON = (schema.BuiltinOperator.RESHAPE,)  # what the body's way to its output may hold


def quantize_loop_operands(model: bytes) -> bytes:
    """``model`` with every read-only float WHILE operand of an int8 body made int8 before
    the loop (``model`` itself when there is none)."""
    if not uses_builtin(model, _WHILE):
        return model
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [builtin_code(c) for c in tree.operatorCodes]
    for graph in tree.subgraphs:  # the object API leaves empty vectors None
        graph.operators, graph.inputs, graph.outputs = (
            list(graph.operators or []), _ints(graph.inputs), _ints(graph.outputs))
        for op in graph.operators:
            op.inputs, op.outputs = _ints(op.inputs), _ints(op.outputs)
    loops = [op.builtinOptions for graph in tree.subgraphs for op in graph.operators
             if codes[op.opcodeIndex] == _WHILE]
    used = [o.bodySubgraphIndex for o in loops] + [o.condSubgraphIndex for o in loops]
    changed = 0
    for graph in tree.subgraphs:
        for op in [o for o in graph.operators if codes[o.opcodeIndex] == _WHILE]:
            options = op.builtinOptions  # retyping a body or condition two loops share: no
            if used.count(options.bodySubgraphIndex) == used.count(options.condSubgraphIndex) == 1:
                for k in range(len(op.inputs)):
                    changed += _quantize_before(tree, codes, graph, op, k)
    return pack_model(tree, len(model)) if changed else model


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values] if values is not None else []


def _readers(graph: Any, tensor: int) -> list[Any]:
    return [op for op in graph.operators if tensor in op.inputs]


def _producer(graph: Any, tensor: int) -> Any:
    return next((op for op in graph.operators if tensor in op.outputs), None)


def _quantize_before(tree: Any, codes: list[int], graph: Any, loop: Any, k: int) -> int:
    """Operand ``k`` of WHILE ``loop`` in ``graph`` made int8 before the loop, if its body only
    quantizes it and passes it on; 1 if done."""
    options = loop.builtinOptions
    body, cond = tree.subgraphs[options.bodySubgraphIndex], \
        tree.subgraphs[options.condSubgraphIndex]
    if k >= len(body.inputs) or k >= len(cond.inputs) or k >= len(loop.outputs):
        return 0
    entry = body.inputs[k]
    readers = _readers(body, entry)
    if len(readers) != 1 or codes[readers[0].opcodeIndex] != _QUANTIZE:
        return 0
    quantize = readers[0]
    quantized = quantize.outputs[0]
    if body.outputs[k] != entry and not _passed_on(body, codes, body.outputs[k], quantized):
        return 0
    result = loop.outputs[k]
    if _readers(graph, result) or result in graph.outputs or _readers(cond, cond.inputs[k]):
        return 0
    grid = body.tensors[quantized]
    operand = _int8_operand(codes, graph, loop, loop.inputs[k], grid)
    for tensor in (body.tensors[entry], cond.tensors[cond.inputs[k]], graph.tensors[result]):
        tensor.type, tensor.quantization = grid.type, grid.quantization
    loop.inputs = [operand if n == k else i for n, i in enumerate(loop.inputs)]
    body.operators.remove(quantize)
    for op in body.operators:
        op.inputs = [entry if i == quantized else i for i in op.inputs]
    body.outputs = [entry if n == k else o for n, o in enumerate(body.outputs)]
    _drop_dead(body)
    return 1


def _passed_on(body: Any, codes: list[int], output: int, quantized: int) -> bool:
    """Is the body's output the quantized input dequantized, through reshapes to the same
    shape at most? (Or the input itself: checked by the caller.)"""
    op = _producer(body, output)
    if op is None or codes[op.opcodeIndex] != _DEQUANTIZE:
        return False
    tensor = op.inputs[0]
    while tensor != quantized:
        op = _producer(body, tensor)
        if op is None or codes[op.opcodeIndex] not in _PASS_ON or \
                list(body.tensors[tensor].shape) != list(body.tensors[quantized].shape):
            return False
        tensor = op.inputs[0]
    return True


def _int8_operand(codes: list[int], graph: Any, loop: Any, operand: int, grid: Any) -> int:
    """The int8 tensor on ``grid`` to feed the loop: what a DEQUANTIZE before it read, when on
    the same grid, else a QUANTIZE added just before the loop."""
    producer = _producer(graph, operand)
    if producer is not None and codes[producer.opcodeIndex] == _DEQUANTIZE:
        source = graph.tensors[producer.inputs[0]]
        if source.type == grid.type and _same_grid(source.quantization, grid.quantization):
            return int(producer.inputs[0])
    tensor = schema.TensorT()
    tensor.name = (graph.tensors[operand].name or b"") + b"/graphport_int8"
    tensor.type, tensor.quantization = grid.type, grid.quantization
    tensor.shape = graph.tensors[operand].shape
    tensor.shapeSignature = graph.tensors[operand].shapeSignature
    tensor.buffer = 0
    graph.tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex = codes.index(_QUANTIZE)
    op.inputs, op.outputs = [operand], [len(graph.tensors) - 1]
    graph.operators.insert(graph.operators.index(loop), op)
    return len(graph.tensors) - 1


def _same_grid(a: Any, b: Any) -> bool:
    return a is not None and b is not None and \
        np.array_equal(np.asarray(a.scale), np.asarray(b.scale)) and \
        np.array_equal(np.asarray(a.zeroPoint), np.asarray(b.zeroPoint))


def _drop_dead(graph: Any) -> None:
    """Remove ops whose outputs nothing reads and the subgraph does not return."""
    while True:
        used = {i for op in graph.operators for i in op.inputs} | set(graph.outputs)
        dead = [op for op in graph.operators if not any(o in used for o in op.outputs)]
        if not dead:
            return
        for op in dead:
            graph.operators.remove(op)
