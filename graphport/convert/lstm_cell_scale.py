"""The int16 cell state of an integer sequence LSTM kept on a scale LiteRT's kernel computes.

TensorFlow's quantizer gives the cell state the power-of-two scale its calibrated range needs;
a cell state that stayed within +-0.5 gets 2^-16. LiteRT's integer LSTM takes tanh of the
cell state with 15 + log2(scale) integer bits and has kernels for 0..6 only: at 2^-16 it skips
the tanh, and the layer's output no longer depends on its input (measured: the second layer of
a 2-layer HAR LSTM gave one constant for every sequence). 2^-15 (+-1) is the finest scale the
kernel runs; the state starts at zero, and every other factor is derived from the scale when
the interpreter prepares the op, so raising it only coarsens the state's grid to what works.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import builtin_code, pack_model

FINEST = 2.0 ** -15
_CELL_STATE = 19  # the op's input holding the cell state
_SEQUENCE_LSTM = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM


def fix_cell_scales(model: bytes) -> tuple[bytes, int]:
    """``model`` with every integer sequence LSTM's cell state at least at scale 2^-15, and
    how many it raised (the model itself, unpacked not at all, when it has none)."""
    root = schema.Model.GetRootAs(model, 0)
    if not any(max(root.OperatorCodes(i).BuiltinCode(),
                   root.OperatorCodes(i).DeprecatedBuiltinCode()) == _SEQUENCE_LSTM
               for i in range(root.OperatorCodesLength())):
        return model, 0
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [builtin_code(c) for c in tree.operatorCodes]
    raised = 0
    for graph in tree.subgraphs:
        for op in graph.operators:
            if codes[op.opcodeIndex] != _SEQUENCE_LSTM or len(op.inputs) <= _CELL_STATE or \
                    op.inputs[_CELL_STATE] < 0:
                continue
            cell = graph.tensors[op.inputs[_CELL_STATE]]
            scales = cell.quantization.scale if cell.quantization is not None else None
            if cell.type == schema.TensorType.INT16 and scales is not None and \
                    len(scales) == 1 and 0 < scales[0] < FINEST:
                cell.quantization.scale = [FINEST]
                raised += 1
    return (pack_model(tree), raised) if raised else (model, 0)
