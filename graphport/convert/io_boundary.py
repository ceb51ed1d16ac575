"""Integer input or output on one side only, after conversion.

TensorFlow's v1 converter (the carried toco uint8 route) gives a model one boundary type, so a
uint8 input with float32 outputs is converted with float32 I/O and then the QUANTIZE after each
input (or the DEQUANTIZE before each output) is removed, the quantized tensor becoming the
model's own: what TensorFlow's ``modify_model_io_type`` does for int8 models, which it refuses
for the uint8 ones this route makes."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import builtin_code, pack_model


def integer_boundary(model: bytes, inputs: bool, outputs: bool) -> bytes:
    """``model`` with its quantized tensors as inputs (``inputs``) and outputs (``outputs``)
    where a float boundary only converts them; other boundaries stay as they are."""
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    main = tree.subgraphs[0]
    codes = [builtin_code(c) for c in tree.operatorCodes]
    readers: dict[int, int] = {}
    for op in main.operators:
        for tensor in op.inputs:
            readers[int(tensor)] = readers.get(int(tensor), 0) + 1
    boundary_in = [int(i) for i in main.inputs]
    boundary_out = [int(i) for i in main.outputs]
    for op in list(main.operators):
        code, source, result = codes[op.opcodeIndex], int(op.inputs[0]), int(op.outputs[0])
        if inputs and code == schema.BuiltinOperator.QUANTIZE and source in boundary_in \
                and readers[source] == 1 and result not in boundary_out:
            boundary_in[boundary_in.index(source)] = result
        elif outputs and code == schema.BuiltinOperator.DEQUANTIZE and \
                result in boundary_out and source not in boundary_in and result not in readers:
            boundary_out[boundary_out.index(result)] = source
        else:
            continue
        main.operators.remove(op)
    main.inputs, main.outputs = boundary_in, boundary_out
    return pack_model(tree)
