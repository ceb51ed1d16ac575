"""Keep TensorFlow's int8 calibrator from crashing on WHILE loops.

A WHILE body that returns one of its inputs unchanged (every value a loop reads but does not
change: an RNN's input sequence, its weights) makes the WHILE kernel free that output, and
TensorFlow's calibrator then reads the freed tensor and segfaults (tensorflow/tensorflow#75140,
since 2.14; measured here on 6 of 7 loop graphs, and on a four-line TF2 tf.function). Before
calibration, each such pass-through gets its own output tensor, ``RESHAPE(x, SHAPE(x))``: the
same values, a tensor the kernel keeps. The two ops stay in the int8 model (a copy of that value
per iteration); the float model is untouched.
"""

from __future__ import annotations

from typing import Any

from graphport.backend import compat
from graphport.graph.tflite_model import builtin_code


def _opcode(model: Any, schema: Any, builtin: int) -> int:
    for index, code in enumerate(model.operatorCodes):
        if builtin_code(code) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _tensor(subgraph: Any, like: Any, name: str, **fields: Any) -> int:
    tensor = type(like)()
    tensor.name = name.encode()
    tensor.buffer = 0  # the empty buffer: computed at run time
    tensor.type = fields.get("type", like.type)
    tensor.shape = fields.get("shape", like.shape)
    tensor.shapeSignature = fields.get("shapeSignature", like.shapeSignature)
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def unalias_while_bodies(data: bytes) -> tuple[bytes, int]:
    """The model with no WHILE body output aliasing its input; and how many were split."""
    schema = compat.tflite_schema()
    model = compat.tflite_object(data)
    ops = schema.BuiltinOperator
    while_code = [i for i, c in enumerate(model.operatorCodes)
                  if builtin_code(c) == ops.WHILE]
    if not while_code:
        return data, 0
    bodies = {op.builtinOptions.bodySubgraphIndex for subgraph in model.subgraphs
              for op in subgraph.operators or [] if op.opcodeIndex in while_code}
    split = 0
    for body_index in sorted(bodies):
        body = model.subgraphs[body_index]
        outputs = list(body.outputs)
        for position, (given, returned) in enumerate(zip(body.inputs, outputs, strict=False)):
            if given != returned:
                continue
            source = body.tensors[given]
            rank = len(source.shape) if source.shape is not None else 0
            name = (source.name or b"").decode(errors="replace")
            shape = _tensor(body, source, f"{name}/graphport_shape", type=schema.TensorType.INT32,
                            shape=[rank], shapeSignature=None)
            copy = _tensor(body, source, f"{name}/graphport_kept")
            shape_op = schema.OperatorT()
            shape_op.opcodeIndex = _opcode(model, schema, ops.SHAPE)
            shape_op.inputs, shape_op.outputs = [given], [shape]
            shape_op.builtinOptionsType = schema.BuiltinOptions.ShapeOptions
            shape_op.builtinOptions = schema.ShapeOptionsT()
            shape_op.builtinOptions.outType = schema.TensorType.INT32
            reshape = schema.OperatorT()
            reshape.opcodeIndex = _opcode(model, schema, ops.RESHAPE)
            reshape.inputs, reshape.outputs = [given, shape], [copy]
            body.operators.extend([shape_op, reshape])
            outputs[position] = copy
            split += 1
        body.outputs = outputs
    return compat.tflite_bytes(model), split
