"""A fused sequence LSTM's state as the graph computes it and LiteRT's kernel needs it, after
conversion.

Two defects of TensorFlow's converter and quantizer, each measured on graphport's fused LSTMs:

**Cell clip.** TensorFlow's converter writes every LSTM it fuses from Keras' contract with
cell_clip 10, which neither Keras' LSTM nor a TF1 cell has: the keyword spotter's cell state
passes 10 on loud clips and its float output moved by 0.037 on one of 24 (measured). The clip
is set to 0 (none), which is what the graph computes.

**Cell scale.** TensorFlow's quantizer gives the cell state the power-of-two scale its
calibrated range needs; a cell state that stayed within +-0.5 gets 2^-16. LiteRT's integer LSTM
takes tanh of the cell state with 15 + log2(scale) integer bits and has kernels for 0..6 only:
at 2^-16 it skips the tanh, and the layer's output no longer depends on its input (measured:
the second layer of a 2-layer HAR LSTM gave one constant for every sequence). 2^-15 (+-1) is
the finest scale the kernel runs; the state starts at zero, and every other factor is derived
from the scale when the interpreter prepares the op, so raising it only coarsens the state's
grid to what works.
"""

from __future__ import annotations

from typing import Any

from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import builtin_code, pack_model, uses_builtin

FINEST = 2.0 ** -15
_CELL_STATE = 19  # the op's input holding the cell state
_SEQUENCE_LSTM = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM


def fix_lstm_states(model: bytes) -> bytes:
    """``model`` with every sequence LSTM's cell unclipped and an integer cell state at a
    scale of at least 2^-15 (``model`` itself, unpacked not at all, when it has no LSTM or
    nothing to fix)."""
    if not uses_builtin(model, _SEQUENCE_LSTM):
        return model
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [builtin_code(c) for c in tree.operatorCodes]
    changed = 0
    for graph in tree.subgraphs:
        for op in [o for o in graph.operators if codes[o.opcodeIndex] == _SEQUENCE_LSTM]:
            changed += _raise_cell_scale(graph, op)
            if op.builtinOptions is not None and op.builtinOptions.cellClip:
                op.builtinOptions.cellClip = 0.0
                changed += 1
    return pack_model(tree) if changed else model


def _raise_cell_scale(graph: Any, op: Any) -> int:
    if len(op.inputs) <= _CELL_STATE or op.inputs[_CELL_STATE] < 0:
        return 0
    cell = graph.tensors[op.inputs[_CELL_STATE]]
    scales = cell.quantization.scale if cell.quantization is not None else None
    if cell.type == schema.TensorType.INT16 and scales is not None and len(scales) == 1 and \
            0 < scales[0] < FINEST:
        cell.quantization.scale = [FINEST]
        return 1
    return 0
